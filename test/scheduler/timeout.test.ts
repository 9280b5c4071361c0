import { describe, expect, it } from 'vitest';
import { Scheduler, TaskTimeoutError } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { nextEvent, sleep } from '../support/scheduler.js';

// On a fake clock (test/support/fake-clock.ts): the timeouts, the backoff and the functions' sleeps are timers.

describe('timeouts', () => {
	it('aborts the signal, fails the attempt with a timeout error, and retries per policy', async () => {
		const clock = useFakeClock();
		const reasons: unknown[] = [];
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			timeoutMs: 40,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 10 },
			actuator: new FunctionActuator(
				(_: null, { signal }) =>
					new Promise((_resolve, reject) => {
						signal.addEventListener('abort', () => {
							reasons.push(signal.reason);
							reject(signal.reason as Error);
						});
					}),
			),
		});
		const retrying = nextEvent(scheduler, 'task:retrying');
		const failed = nextEvent(scheduler, 'task:failed');
		await scheduler.add({ id: 't', item: null });
		const [retry] = await clock.settle(retrying);
		// The first attempt ended at its 40 ms timeout, not before.
		expect(clock.elapsed).toBeGreaterThanOrEqual(40);
		expect(retry.error).toBeInstanceOf(TaskTimeoutError);
		expect(retry.delayMs).toBe(10);
		const [{ task, error }] = await clock.settle(failed);
		expect(error).toBeInstanceOf(TaskTimeoutError);
		expect(task).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'ERR_TASK_TIMEOUT' } });
		expect(reasons).toHaveLength(2);
		expect(reasons[0]).toBeInstanceOf(TaskTimeoutError);
		await clock.settle(scheduler.close());
	});

	it('frees the slot of a function that ignores its signal; its late result is dropped', async () => {
		const clock = useFakeClock();
		const started: string[] = [];
		let lateFinished = 0;
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 1,
			timeoutMs: 30,
			actuator: new FunctionActuator(async (id: string) => {
				started.push(id);
				if (id === 'stubborn') {
					await sleep(300);
					lateFinished++;
					return 'late';
				}
				return 'quick';
			}),
		});
		await scheduler.add([
			{ id: 'stubborn', item: 'stubborn' },
			{ id: 'next', item: 'next' },
		]);
		await clock.settle(nextEvent(scheduler, 'task:succeeded'));
		expect(started).toEqual(['stubborn', 'next']);
		expect(lateFinished).toBe(0);
		await clock.advance(350);
		expect(lateFinished).toBe(1);
		expect(await scheduler.get('stubborn')).toMatchObject({
			status: 'failed',
			output: null,
			error: { code: 'ERR_TASK_TIMEOUT' },
		});
		await clock.settle(scheduler.close());
	});

	it('uses the task timeout over the scheduler one; 0 means none', async () => {
		const clock = useFakeClock();
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 2,
			timeoutMs: 20,
			actuator: new FunctionActuator(async (ms: number) => {
				await sleep(ms);
				return ms;
			}),
		});
		await scheduler.add([
			{ id: 'own-limit', item: 80, timeoutMs: 1_000 },
			{ id: 'no-limit', item: 80, timeoutMs: 0 },
		]);
		await clock.settle(scheduler.onIdle());
		expect((await scheduler.get('own-limit'))?.status).toBe('succeeded');
		expect((await scheduler.get('no-limit'))?.status).toBe('succeeded');
		await clock.settle(scheduler.close());
	});
});
