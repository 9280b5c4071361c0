import { describe, expect, it } from 'vitest';
import { NonRetryableError, Scheduler } from 'lightsched';
import { backoffDelay } from 'lightsched/kit';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { nextEvent, spyContainer } from '../support/scheduler.js';

describe('backoff policy', () => {
	const error = new Error('x');
	it.each([
		[{ type: 'fixed', delayMs: 100 } as const, 1, 0.9, 100],
		[{ type: 'fixed', delayMs: 100 } as const, 5, 0.9, 100],
		[{ type: 'exponential', delayMs: 100, jitter: 0 } as const, 1, 0.9, 100],
		[{ type: 'exponential', delayMs: 100, jitter: 0 } as const, 4, 0.9, 800],
		[{ type: 'exponential', delayMs: 100, maxDelayMs: 500, jitter: 0 } as const, 10, 0.9, 500],
		[{ type: 'exponential', delayMs: 100, jitter: 0.5 } as const, 3, 1, 200],
		[{ type: 'exponential', delayMs: 100, jitter: 0.5 } as const, 3, 0, 400],
		[{ type: 'exponential', delayMs: 100, jitter: true } as const, 2, 0.5, 100],
		[{ type: 'fixed', delayMs: 100, jitter: 0.2 } as const, 1, 0.5, 90],
	])('%o after attempt %i with random %d waits %i ms', (backoff, attempt, random, expected) => {
		expect(backoffDelay(backoff, attempt, error, () => random)).toBe(expected);
	});

	it('jitters exponential delays by default within [delay/2, delay]', () => {
		const delays = Array.from({ length: 200 }, () =>
			backoffDelay({ type: 'exponential', delayMs: 1000 }, 2, error),
		);
		expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
		expect(Math.max(...delays)).toBeLessThanOrEqual(2000);
		expect(new Set(delays).size).toBeGreaterThan(10);
	});

	it('calls a function backoff with the attempt and error; bad results become 0', () => {
		expect(backoffDelay((attempt, e) => attempt * 10 + e.message.length, 3, error)).toBe(31);
		expect(backoffDelay(() => Number.NaN, 1, error)).toBe(0);
		expect(backoffDelay(() => -5, 1, error)).toBe(0);
	});
});

describe('retries', () => {
	it('retries a failing task through the container with fixed backoff, then succeeds', async () => {
		// On a fake clock (test/support/fake-clock.ts): the backoff is a timer, so the gaps are exact.
		const clock = useFakeClock();
		const spy = spyContainer(new QueueContainer());
		let calls = 0;
		const scheduler = new Scheduler({
			container: spy.container,
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 25 },
			actuator: new FunctionActuator(() => {
				calls++;
				if (calls < 3) throw new Error(`flaky ${calls}`);
				return 'finally';
			}),
		});
		const retries: { delayMs: number; message: string; status: string; attempts: number }[] = [];
		scheduler.on('task:retrying', ({ task, error, delayMs }) =>
			retries.push({ delayMs, message: error.message, status: task.status, attempts: task.attempts }),
		);
		const times: number[] = [];
		scheduler.on('task:started', () => times.push(Date.now()));
		await scheduler.add({ id: 'f', item: 1 });
		await clock.settle(scheduler.onIdle(), 5_000, 1);
		expect(retries).toEqual([
			{ delayMs: 25, message: 'flaky 1', status: 'waiting', attempts: 1 },
			{ delayMs: 25, message: 'flaky 2', status: 'waiting', attempts: 2 },
		]);
		expect(await scheduler.get('f')).toMatchObject({
			status: 'succeeded',
			attempts: 3,
			output: 'finally',
			error: null,
		});
		// Each retry went back to waiting in the container and was claimed again after its delay.
		const backToWaiting = spy.log.filter((c) => c.method === 'transition' && c.args[2] === 'waiting');
		expect(backToWaiting).toHaveLength(2);
		expect(times).toHaveLength(3);
		expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(25);
		expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(25);
		await clock.settle(scheduler.close());
	});

	it('retries with exponential jittered backoff and fails once attempts are spent', async () => {
		const clock = useFakeClock();
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			maxAttempts: 4,
			backoff: { type: 'exponential', delayMs: 10, jitter: 0.5 },
			actuator: new FunctionActuator((): string => {
				throw Object.assign(new Error('always'), { code: 'E_ALWAYS' });
			}),
		});
		const delays: number[] = [];
		scheduler.on('task:retrying', ({ delayMs }) => delays.push(delayMs));
		const failed = nextEvent(scheduler, 'task:failed');
		await scheduler.add({ id: 'x', item: 1 });
		const [{ task, error }] = await clock.settle(failed, 5_000, 1);
		expect(error.message).toBe('always');
		expect(task).toMatchObject({ status: 'failed', attempts: 4, error: { message: 'always', code: 'E_ALWAYS' } });
		expect(delays).toHaveLength(3);
		delays.forEach((delay, i) => {
			const full = 10 * 2 ** i;
			expect(delay).toBeGreaterThanOrEqual(full / 2);
			expect(delay).toBeLessThanOrEqual(full);
		});
		// The retries waited their delays: the fake clock moved at least their sum.
		expect(clock.elapsed).toBeGreaterThanOrEqual(delays.reduce((sum, delay) => sum + delay, 0));
		await clock.settle(scheduler.close());
	});

	it('ends retries at once on a NonRetryableError', async () => {
		let calls = 0;
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			maxAttempts: 5,
			backoff: { type: 'fixed', delayMs: 1 },
			actuator: new FunctionActuator((): string => {
				calls++;
				throw new NonRetryableError('bad input, do not retry');
			}),
		});
		const failed = nextEvent(scheduler, 'task:failed');
		await scheduler.add({ id: 'n', item: 1 });
		const [{ task }] = await failed;
		expect(calls).toBe(1);
		expect(task).toMatchObject({
			attempts: 1,
			error: { code: 'ERR_NON_RETRYABLE', message: 'bad input, do not retry' },
		});
		await scheduler.close();
	});
});
