import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerClosedError } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { nextEvent, sleep } from '../support/scheduler.js';

function slowScheduler(ms: number) {
	const aborted: string[] = [];
	const finished: string[] = [];
	const container = new QueueContainer();
	const scheduler = new Scheduler({
		container,
		concurrency: 2,
		actuator: new FunctionActuator(async (id: string, { signal }) => {
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(resolve, ms);
				signal.addEventListener('abort', () => {
					clearTimeout(timer);
					aborted.push(id);
					reject(signal.reason as Error);
				});
			});
			finished.push(id);
			return id;
		}),
	});
	return { scheduler, container, aborted, finished };
}

describe('close', () => {
	it('stops taking work and hands running tasks back to waiting, attempt not counted', async () => {
		const { scheduler, container, aborted, finished } = slowScheduler(5_000);
		const started = nextEvent(scheduler, 'task:started', ({ task }) => task.id === 'b');
		await scheduler.add(['a', 'b', 'c'].map((id) => ({ id, item: id })));
		await started;
		await scheduler.close();
		expect(aborted.sort()).toEqual(['a', 'b']);
		expect(finished).toEqual([]);
		for (const id of ['a', 'b', 'c']) {
			expect(await container.get(id)).toMatchObject({ status: 'waiting', attempts: 0, owner: null });
		}
	});

	it('with drain, lets running work finish and starts nothing new', async () => {
		const { scheduler, container, aborted, finished } = slowScheduler(60);
		const started = nextEvent(scheduler, 'task:started', ({ task }) => task.id === 'b');
		await scheduler.add(['a', 'b', 'c'].map((id) => ({ id, item: id })));
		await started;
		await scheduler.close({ drain: true });
		expect(finished.sort()).toEqual(['a', 'b']);
		expect(aborted).toEqual([]);
		expect((await container.get('a'))?.status).toBe('succeeded');
		expect((await container.get('c'))?.status).toBe('waiting');
	});

	it('with drain and a time limit, stops what still runs when the limit passes', async () => {
		const { scheduler, aborted } = slowScheduler(10_000);
		const started = nextEvent(scheduler, 'task:started');
		await scheduler.add({ id: 'long', item: 'long' });
		await started;
		const t0 = Date.now();
		await scheduler.close({ drain: true, timeoutMs: 50 });
		expect(Date.now() - t0).toBeLessThan(5_000);
		expect(aborted).toEqual(['long']);
	});

	it('a second close is harmless; adding after close is a clear error', async () => {
		const { scheduler } = slowScheduler(1);
		await scheduler.close();
		await scheduler.close();
		await expect(scheduler.add({ item: 'late' })).rejects.toBeInstanceOf(SchedulerClosedError);
		await expect(scheduler.add({ item: 'late' })).rejects.toThrow('The scheduler is closed');
		expect(scheduler.isClosed).toBe(true);
	});

	it('pause stops claiming; resume picks up where it left', async () => {
		const { scheduler, finished } = slowScheduler(1);
		scheduler.pause();
		await scheduler.add({ id: 'p', item: 'p' });
		await sleep(30);
		expect(finished).toEqual([]);
		scheduler.resume();
		await scheduler.onIdle();
		expect(finished).toEqual(['p']);
		await scheduler.close();
	});
});
