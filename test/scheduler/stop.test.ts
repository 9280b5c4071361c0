import { describe, expect, it } from 'vitest';
import { Scheduler, TaskNotFoundError, TaskStoppedError, type TaskActuator } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { sqliteBackend } from '../support/sql.js';
import { nextEvent } from '../support/scheduler.js';

function blockingScheduler() {
	const signals = new Map<string, AbortSignal>();
	const ran: string[] = [];
	const scheduler = new Scheduler({
		container: new QueueContainer(),
		concurrency: 1,
		actuator: new FunctionActuator(
			(id: string, { signal }) =>
				new Promise<string>((resolve, reject) => {
					ran.push(id);
					signals.set(id, signal);
					signal.addEventListener('abort', () => reject(signal.reason as Error));
				}),
		),
	});
	return { scheduler, signals, ran };
}

describe('stop', () => {
	it('stops a waiting task: it never runs', async () => {
		const { scheduler, ran } = blockingScheduler();
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add([
			{ id: 'busy', item: 'busy' },
			{ id: 'queued', item: 'queued' },
		]);
		await started;
		const stoppedEvent = nextEvent(scheduler, 'task:stopped');
		const stopped = await scheduler.stop('queued');
		expect(stopped).toMatchObject({ id: 'queued', status: 'stopped' });
		expect((await stoppedEvent)[0].task.id).toBe('queued');
		await scheduler.stop('busy');
		await scheduler.onIdle();
		expect(ran).toEqual(['busy']);
		expect(await scheduler.counts()).toMatchObject({ stopped: 2, waiting: 0, running: 0 });
		await scheduler.close();
	});

	it('stops a running task through the actuator: its signal aborts and it ends stopped', async () => {
		const { scheduler, signals } = blockingScheduler();
		const finished: string[] = [];
		const stream = scheduler.finished();
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'r', item: 'r' });
		await started;
		const stopped = await scheduler.stop('r');
		expect(stopped.status).toBe('stopped');
		expect(signals.get('r')?.aborted).toBe(true);
		expect(signals.get('r')?.reason).toBeInstanceOf(TaskStoppedError);
		const first = await stream.next();
		finished.push((first.value as { id: string }).id);
		expect(finished).toEqual(['r']);
		expect(await scheduler.get('r')).toMatchObject({ status: 'stopped', finishedAt: expect.any(Number) });
		await scheduler.close();
	});

	it('frees the slot of a stopped task for the next one', async () => {
		const { scheduler, ran } = blockingScheduler();
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add([
			{ id: 'a', item: 'a' },
			{ id: 'b', item: 'b' },
		]);
		await started;
		const nextStart = nextEvent(scheduler, 'task:started');
		await scheduler.stop('a');
		expect((await nextStart)[0].task.id).toBe('b');
		expect(ran).toEqual(['a', 'b']);
		await scheduler.close();
	});

	it('returns a finished task unchanged, and rejects an unknown id clearly', async () => {
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(() => 1) });
		await scheduler.add({ id: 'done', item: 1 });
		await scheduler.onIdle();
		expect((await scheduler.stop('done')).status).toBe('succeeded');
		await expect(scheduler.stop('nope')).rejects.toBeInstanceOf(TaskNotFoundError);
		await expect(scheduler.stop('nope')).rejects.toThrow('No task with id `nope`');
		await scheduler.close();
	});

	it('re-runs a stopped task when it is added again', async () => {
		const { scheduler, ran } = blockingScheduler();
		let started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'again', item: 'again' });
		await started;
		await scheduler.stop('again');
		started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'again', item: 'again' });
		await started;
		expect(ran).toEqual(['again', 'again']);
		expect((await scheduler.get('again'))?.status).toBe('running');
		await scheduler.close();
	});
});

describe('a stop that comes while the actuator is still starting', () => {
	it('stores the ref the start returned meanwhile: the stopped record names the work that was stopped', async () => {
		let stoppedRef: unknown = 'not called';
		const actuator: TaskActuator = {
			start: async () => {
				await new Promise((resolve) => setTimeout(resolve, 30));
				return { ref: 'job-7' };
			},
			// An actuator that finds the work a start in flight is creating (the task's ref is set once it answered).
			stop: async (task) => {
				await new Promise((resolve) => setTimeout(resolve, 80));
				stoppedRef = task.ref;
			},
		};
		// A stored container (an in-process one holds the very record the scheduler gives the ref to).
		const sqlite = sqliteBackend();
		const scheduler = new Scheduler({
			container: new SqlContainer({ knex: await sqlite.freshDatabase() }),
			actuator,
		});
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'early', item: null });
		await started;
		const stopped = await scheduler.stop('early');
		expect(stoppedRef).toBe('job-7');
		expect(stopped).toMatchObject({ status: 'stopped', ref: 'job-7' });
		expect(await scheduler.get('early')).toMatchObject({ status: 'stopped', ref: 'job-7' });
		await scheduler.close();
		await sqlite.stop();
	});
});

describe('a stop asked from a task:started listener', () => {
	it('keeps the work from starting: the actuator is never started, only its stop is called, and the task is stopped', async () => {
		const calls: string[] = [];
		const actuator: TaskActuator<string, string> = {
			start(task) {
				calls.push(`start ${task.id}`);
			},
			stop(task) {
				calls.push(`stop ${task.id}`);
			},
		};
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator });
		const stopped = new Promise<unknown>((resolve) => {
			scheduler.on('task:started', ({ task }) => resolve(scheduler.stop(task.id)));
		});
		await scheduler.add({ id: 'early', item: 'x' });
		expect(await stopped).toMatchObject({ status: 'stopped' });
		expect(calls).toEqual(['stop early']);
		expect(await scheduler.get('early')).toMatchObject({ status: 'stopped', attempts: 1 });
		await scheduler.close();
	});
});
