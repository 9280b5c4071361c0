/**
 * An attempt whose work ran keeps its task until its outcome is stored: the write is retried while the scheduler
 * is open and the lease renewed meanwhile (a settled attempt still being stored is held, not dropped), a storage
 * blip never turns a success into a failure, and a task whose outcome could not be stored at all is never handed
 * back uncounted as if it had never started (the reclaim counts the attempt).
 *
 * On a fake clock (test/support/fake-clock.ts): the container is an in-process double, every wait is a timer.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sharedDouble } from './shared-double.js';

function setUp(leaseMs: number): {
	scheduler: Scheduler<string, string>;
	faults: ReturnType<typeof sharedDouble>['faults'];
	runs: Record<string, number>;
	finished: TaskRecord[];
	errors: string[];
	release: () => void;
} {
	const { container, faults } = sharedDouble();
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => (release = resolve));
	const runs: Record<string, number> = {};
	const scheduler = new Scheduler({
		container,
		concurrency: 2,
		leaseMs,
		pollIntervalMs: 50,
		maxAttempts: 1,
		actuator: new FunctionActuator(async (id: string) => {
			runs[id] = (runs[id] ?? 0) + 1;
			if (id === 'long') await gate;
			return id;
		}),
	});
	const errors: string[] = [];
	scheduler.on('error', (error) => errors.push(error.message));
	const finished: TaskRecord[] = [];
	scheduler.on('task:succeeded', ({ task }) => finished.push(task));
	scheduler.on('task:failed', ({ task }) => finished.push(task));
	return { scheduler, faults, runs, finished, errors, release };
}

describe('storing an outcome', () => {
	it(
		'keeps renewing the lease of a settled attempt while its outcome write is retried',
		{ timeout: 15_000 },
		async () => {
			const clock = useFakeClock();
			const { scheduler, faults, runs, finished } = setUp(600);
			// Writes at +0, +50, +250 fail; the one at about +1,050 ms, past the 600 ms lease, is stored.
			faults.failTransitions = 3;
			await scheduler.add({ id: 'x', item: 'x' });
			const took = await clock.until('x finishes', () => finished.length > 0, 8_000);
			// The outcome was stored after the lease would have lapsed without renewals.
			expect(took).toBeGreaterThan(600);
			await clock.advance(300);
			expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 1]]);
			expect(runs).toEqual({ x: 1 });
			await clock.settle(scheduler.close());
		},
	);

	it(
		'a storage blip longer than the writer`s first retries does not turn a success into a failure',
		{ timeout: 20_000 },
		async () => {
			const clock = useFakeClock();
			const { scheduler, faults, runs, finished } = setUp(1_500);
			// Writes fail at +0, +50, +250, +1,050, +2,050, +3,050: stored at about +4,050 ms, past the writer's first
			// retries and the 1,500 ms lease.
			faults.failTransitions = 6;
			await scheduler.add({ id: 'x', item: 'x' });
			const took = await clock.until('x finishes', () => finished.length > 0, 15_000);
			expect(took).toBeGreaterThan(1_500);
			expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 1]]);
			expect(runs).toEqual({ x: 1 });
			await clock.settle(scheduler.close());
		},
	);

	it(
		'never hands back uncounted a task whose work ran and whose outcome could not be stored',
		{ timeout: 20_000 },
		async () => {
			const clock = useFakeClock();
			const { scheduler, faults, runs, finished, release } = setUp(1_000);
			await scheduler.add({ id: 'long', item: 'long' });
			await clock.until('long starts', () => runs['long'] === 1, 2_000);
			// The container refuses both the success and the failure of 'x' (the attempt ends without a stored outcome),
			// but not a hand-back: renewals, kept going by 'long', then find 'x' held for a scheduler that no longer runs it.
			faults.refuseTo = ['succeeded', 'failed'];
			await scheduler.add({ id: 'x', item: 'x' });
			await clock.until('x starts', () => runs['x'] === 1, 2_000);
			await clock.advance(3_000);
			delete faults.refuseTo;
			release();
			await clock.until('long finishes', () => finished.some((t) => t.id === 'long'), 3_000);
			expect(runs).toEqual({ long: 1, x: 1 });
			// The lease lapsed and the reclaim counted the attempt: with maxAttempts 1 the task failed.
			expect(await scheduler.get('x')).toMatchObject({
				status: 'failed',
				attempts: 1,
				error: { code: 'ERR_LEASE_EXPIRED' },
			});
			await clock.settle(scheduler.close());
		},
	);
});
