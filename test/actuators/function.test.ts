import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NonRetryableError, Scheduler, TaskTimeoutError } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { nextEvent, sleep } from '../support/scheduler.js';

const fixtures = fileURLToPath(new URL('../fixtures/worker-functions.mjs', import.meta.url));

describe('FunctionActuator (closure)', () => {
	it('runs sync and async functions and keeps their output', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 2,
			actuator: new FunctionActuator((item: { n: number; async: boolean }) =>
				item.async ? Promise.resolve(item.n * 2) : item.n * 3,
			),
		});
		await scheduler.add([
			{ id: 'sync', item: { n: 2, async: false } },
			{ id: 'async', item: { n: 2, async: true } },
		]);
		await scheduler.onIdle();
		expect((await scheduler.get('sync'))?.output).toBe(6);
		expect((await scheduler.get('async'))?.output).toBe(4);
		await scheduler.close();
	});

	it('passes progress reports on, stores the last one, and hands the function its task', async () => {
		const seen: unknown[] = [];
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async (_: null, { progress, task }) => {
				progress(0.5);
				progress(0.5); // unchanged: neither stored again nor emitted again
				await sleep(5);
				progress({ pct: 100, attempt: task.attempts, id: task.id });
				await sleep(5);
				return 'ok';
			}),
		});
		scheduler.on('task:progress', ({ progress }) => seen.push(progress));
		await scheduler.add({ id: 'p', item: null });
		await scheduler.onIdle();
		expect(seen).toEqual([0.5, { pct: 100, attempt: 1, id: 'p' }]);
		expect((await scheduler.get('p'))?.progress).toEqual({ pct: 100, attempt: 1, id: 'p' });
		await scheduler.close();
	});
});

describe('FunctionActuator (worker threads)', () => {
	it('runs the module export in a thread, with progress', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 2,
			actuator: new FunctionActuator({ module: fixtures }),
		});
		await scheduler.add({ id: 'sum', item: { a: 20, b: 22 } });
		await scheduler.onIdle();
		expect((await scheduler.get('sum'))?.output).toBe(42);
		await scheduler.close();

		const progress: unknown[] = [];
		const withProgress = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator({ module: fixtures, export: 'withProgress' }),
		});
		withProgress.on('task:progress', (e) => progress.push(e.progress));
		await withProgress.add({ id: 'wp', item: 3 });
		await withProgress.onIdle();
		expect(progress).toEqual([
			{ step: 1, of: 3 },
			{ step: 2, of: 3 },
			{ step: 3, of: 3 },
		]);
		expect((await withProgress.get('wp'))?.output).toMatch(/^done in thread \d+$/);
		await withProgress.close();
	});

	it('terminates a thread stuck in a busy loop on timeout, for real, and goes on', async () => {
		const heartbeat = new SharedArrayBuffer(4);
		const counter = new Int32Array(heartbeat);
		const actuator = new FunctionActuator({ module: fixtures, export: 'busyLoop' });
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator, timeoutMs: 1_500 });
		const failed = nextEvent(scheduler, 'task:failed');
		await scheduler.add({ id: 'spin', item: { heartbeat } });
		while (Atomics.load(counter, 0) === 0) await sleep(10);
		const [{ error, task }] = await failed;
		expect(error).toBeInstanceOf(TaskTimeoutError);
		expect(task.error?.code).toBe('ERR_TASK_TIMEOUT');
		expect(actuator.busyWorkers).toBe(0);
		// The thread is gone: the counter no longer moves.
		const after = Atomics.load(counter, 0);
		await sleep(100);
		expect(Atomics.load(counter, 0)).toBe(after);
		await scheduler.close();
	});

	it('terminates a busy thread on stop', async () => {
		const heartbeat = new SharedArrayBuffer(4);
		const counter = new Int32Array(heartbeat);
		const actuator = new FunctionActuator({ module: fixtures, export: 'busyLoop' });
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator });
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'spin', item: { heartbeat } });
		await started;
		while (Atomics.load(counter, 0) === 0) await sleep(10);
		const stopped = await scheduler.stop('spin');
		expect(stopped.status).toBe('stopped');
		expect(actuator.busyWorkers).toBe(0);
		const after = Atomics.load(counter, 0);
		await sleep(100);
		expect(Atomics.load(counter, 0)).toBe(after);
		await scheduler.close();
	});

	it('turns thread errors into failures: codes, non-Error values, NonRetryableError, a bad export', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 1 },
			concurrency: 3,
			actuator: new FunctionActuator({ module: fixtures, export: 'fails' }),
		});
		const attempts: Record<string, number> = {};
		scheduler.on('task:started', ({ task }) => {
			attempts[task.id] = task.attempts;
		});
		await scheduler.add([
			{ id: 'string', item: 'string', maxAttempts: 1 },
			{ id: 'coded', item: 'coded', maxAttempts: 1 },
			{ id: 'final', item: 'final' },
		]);
		await scheduler.onIdle();
		expect((await scheduler.get('string'))?.error).toEqual({ message: 'a bare string', code: 'ERR_TASK_FAILED' });
		expect((await scheduler.get('coded'))?.error).toEqual({ message: 'coded failure', code: 'E_CODED' });
		expect((await scheduler.get('final'))?.error).toEqual({
			message: 'no retry please',
			code: 'ERR_NON_RETRYABLE',
		});
		expect(attempts.final).toBe(1);
		await scheduler.close();

		const bad = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator({ module: fixtures, export: 'notAFunction' }),
		});
		const failed = nextEvent(bad, 'task:failed');
		await bad.add({ item: 1 });
		expect((await failed)[0].error.message).toContain('Expected export `notAFunction`');
		await bad.close();
	});

	it('rejects bad worker options clearly', () => {
		expect(() => new FunctionActuator({ module: '' })).toThrow('`module`');
		expect(() => new FunctionActuator({ module: fixtures, export: '' })).toThrow('`export`');
		expect(() => new FunctionActuator({ module: fixtures, maxIdleWorkers: -1 })).toThrow('`maxIdleWorkers`');
		expect(NonRetryableError).toBeDefined();
	});
});
