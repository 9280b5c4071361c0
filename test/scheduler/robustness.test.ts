import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerError, type TaskActuator } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { nextEvent, spyContainer } from '../support/scheduler.js';

describe('faults never kill the loop nor leave a task stuck', () => {
	it('an actuator whose start throws (sync or async) fails that task; the next ones run', async () => {
		let n = 0;
		const actuator: TaskActuator<string, string> = {
			start(task, ctx) {
				n++;
				if (task.item === 'sync-throw') throw new Error('cannot start');
				if (task.item === 'async-throw') return Promise.reject(new Error('cannot start later'));
				ctx.done({ ok: true, output: task.item });
			},
			stop() {},
		};
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator });
		await scheduler.add([
			{ id: 'a', item: 'sync-throw' },
			{ id: 'b', item: 'async-throw' },
			{ id: 'c', item: 'fine' },
		]);
		await scheduler.onIdle();
		expect(n).toBe(3);
		expect(await scheduler.get('a')).toMatchObject({ status: 'failed', error: { message: 'cannot start' } });
		expect(await scheduler.get('b')).toMatchObject({ status: 'failed', error: { message: 'cannot start later' } });
		expect(await scheduler.get('c')).toMatchObject({ status: 'succeeded', output: 'fine' });
		await scheduler.close();
	});

	it('an actuator whose stop throws on timeout: error emitted, task still fails, loop goes on', async () => {
		const actuator: TaskActuator<number, number> = {
			start(task, ctx) {
				if (task.item === 1) return; // never reports: times out
				ctx.done({ ok: true, output: task.item });
			},
			stop() {
				throw new Error('stop exploded');
			},
		};
		const errors: Error[] = [];
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator, timeoutMs: 20 });
		scheduler.on('error', (error) => errors.push(error));
		await scheduler.add([
			{ id: 'hang', item: 1 },
			{ id: 'ok', item: 2 },
		]);
		await scheduler.onIdle();
		expect(await scheduler.get('hang')).toMatchObject({ status: 'failed', error: { code: 'ERR_TASK_TIMEOUT' } });
		expect(await scheduler.get('ok')).toMatchObject({ status: 'succeeded' });
		expect(errors.map((e) => e.message).join()).toContain('stop exploded');
		await scheduler.close();
	});

	it('a callback or listener that throws is reported on `error`; every task still finishes', async () => {
		const errors: Error[] = [];
		const called: string[] = [];
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator((n: number) => n),
			concurrency: 3,
			callback: async (task) => {
				called.push(task.id);
				throw new Error(`callback broke on ${task.id}`);
			},
		});
		scheduler.on('task:succeeded', ({ task }) => {
			if (task.id === 't1') throw new Error('listener broke');
		});
		scheduler.on('error', (error) => errors.push(error));
		await scheduler.add([1, 2, 3, 4].map((n) => ({ id: `t${n}`, item: n })));
		await scheduler.onIdle();
		await new Promise((resolve) => setImmediate(resolve));
		expect(called.sort()).toEqual(['t1', 't2', 't3', 't4']);
		expect((await scheduler.counts()).succeeded).toBe(4);
		const codes = errors.map((e) => (e as SchedulerError).code);
		expect(codes.filter((c) => c === 'ERR_CALLBACK')).toHaveLength(5);
		await scheduler.close();
	});

	it('retries a container write that fails for a moment, so the task does not stay running', async () => {
		const spy = spyContainer(new QueueContainer());
		const errors: Error[] = [];
		const scheduler = new Scheduler({ container: spy.container, actuator: new FunctionActuator(() => 'ok') });
		scheduler.on('error', (e) => errors.push(e));
		spy.failNext('transition', 2);
		await scheduler.add({ id: 'blip', item: 1 });
		await scheduler.onIdle();
		expect(await scheduler.get('blip')).toMatchObject({ status: 'succeeded', output: 'ok' });
		// Both injected failures were hit, and a later write stored the outcome.
		expect(spy.calls.transition).toBeGreaterThanOrEqual(3);
		expect(errors.length).toBeLessThanOrEqual(2);
		await scheduler.close();
	});

	it('survives a claim that throws and claims again', async () => {
		const spy = spyContainer(new QueueContainer());
		const scheduler = new Scheduler({
			container: spy.container,
			actuator: new FunctionActuator(() => 'ok'),
			pollIntervalMs: 20,
			autoStart: false,
		});
		const error = nextEvent(scheduler, 'error');
		await scheduler.add({ id: 'c', item: 1 });
		spy.failNext('claim');
		scheduler.resume();
		expect((await error)[0].message).toContain('injected claim failure');
		await scheduler.onIdle();
		expect((await scheduler.get('c'))?.status).toBe('succeeded');
		await scheduler.close();
	});

	it('turns thrown non-Error values into failures with a message', async () => {
		const values: unknown[] = ['plain string', { reason: 'object' }, 42, undefined, null];
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 5,
			actuator: new FunctionActuator((i: number) => {
				throw values[i];
			}),
		});
		await scheduler.add(values.map((_, i) => ({ id: `v${i}`, item: i })));
		await scheduler.onIdle();
		const messages = await Promise.all(values.map(async (_, i) => (await scheduler.get(`v${i}`))?.error?.message));
		expect(messages).toEqual([
			'plain string',
			'Non-error value thrown: {"reason":"object"}',
			'Non-error value thrown: 42',
			'Non-error value thrown: undefined',
			'Non-error value thrown: null',
		]);
		await scheduler.close();
	});
});

describe('a task reclaimed and claimed again by the scheduler that still runs it', () => {
	it('keeps one attempt: the work runs once and the task finishes once', async () => {
		const container = new QueueContainer();
		let runs = 0;
		let release: () => void = () => undefined;
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			maxAttempts: 3,
			actuator: new FunctionActuator(async (id: string) => {
				if (id === 'slow') {
					runs++;
					await new Promise<void>((resolve) => {
						release = resolve;
					});
				}
				return id;
			}),
		});
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'slow', item: 'slow' });
		await started;
		// The lease lapses as if the store had stalled: the task goes back to waiting...
		expect((await container.reclaimExpired(Date.now() + 3_600_000)).map((t) => t.status)).toEqual(['waiting']);
		// ...and the next fill claims it again while the first attempt still runs here.
		await scheduler.add({ id: 'other', item: 'other' });
		// Waited for (a loaded machine takes longer than a few ms): `slow` claimed again, `other` run and done.
		const until = Date.now() + 5_000;
		while (
			((await scheduler.get('slow'))?.attempts !== 2 || (await scheduler.get('other'))?.status !== 'succeeded') &&
			Date.now() < until
		)
			await new Promise((resolve) => setTimeout(resolve, 5));
		expect((await scheduler.get('slow'))?.attempts).toBe(2);
		expect((await scheduler.get('other'))?.status).toBe('succeeded');
		expect(scheduler.running).toBe(1);
		const finished: string[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task.id));
		release();
		await scheduler.onIdle();
		expect(runs).toBe(1);
		expect(finished).toEqual(['slow']);
		expect(await scheduler.get('slow')).toMatchObject({ status: 'succeeded', output: 'slow' });
		await scheduler.close();
	});
});
