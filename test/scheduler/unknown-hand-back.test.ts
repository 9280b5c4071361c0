/**
 * Handing back tasks a renewal reports `unknown` (held for this scheduler, which never started them: a claim whose
 * reply was lost). Two ways this went wrong through a connection-cutting proxy (issue 11 item 3):
 * - a hand-back read the task and moved it after a later claim of this scheduler had taken it again (its reply
 *   still on the way): that claim's attempt ran, and so did another scheduler's, the task ran twice;
 * - a hand-back whose write failed was not tried again, and nothing renewed the task meanwhile: its lease lapsed
 *   and the reclaim counted an attempt of work that never ran.
 *
 * On a fake clock (test/support/fake-clock.ts): the container is an in-process double, every wait is a timer.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sharedDouble } from './shared-double.js';

describe('handing back tasks a renewal found unknown', () => {
	it('never hands back a task a later claim of its own took (nothing runs twice)', { timeout: 20_000 }, async () => {
		const clock = useFakeClock();
		const { container, faults } = sharedDouble();
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => (release = resolve));
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			leaseMs: 1_500,
			pollIntervalMs: 50,
			maxAttempts: 1,
			actuator: new FunctionActuator(async (id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				// 'long' keeps renewals going all along.
				if (id === 'long') await gate;
				return id;
			}),
		});
		const errors: string[] = [];
		scheduler.on('error', (error) => errors.push(error.message));
		const finished: TaskRecord[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task));
		scheduler.on('task:failed', ({ task }) => finished.push(task));
		await scheduler.add({ id: 'long', item: 'long' });
		await clock.until('long starts', () => runs['long'] === 1, 2_000);
		// The claim of 'x' is applied with its reply lost; renewals (every 500 ms) find it unknown more than once
		// while the hand-back's read lags 700 ms; the claim that takes 'x' again answers 800 ms late.
		faults.lostClaimReplies = 1;
		faults.getDelayMs = 700;
		faults.takenReplyDelayMs = 800;
		await scheduler.add({ id: 'x', item: 'x' });
		await clock.until('x finishes', () => finished.some((t) => t.id === 'x'), 8_000);
		await clock.advance(2_000);
		delete faults.getDelayMs;
		delete faults.takenReplyDelayMs;
		release();
		await clock.until('long finishes', () => finished.length >= 2, 5_000);
		expect(runs).toEqual({ long: 1, x: 1 });
		expect(await scheduler.get('x')).toMatchObject({ status: 'succeeded', attempts: 1 });
		expect(errors.join('\n')).not.toMatch(/ERR_LEASE_EXPIRED|lease/i);
		await clock.settle(scheduler.close());
	});

	it(
		'retries a hand-back whose write failed, renewing the task meanwhile (no attempt counted)',
		{ timeout: 20_000 },
		async () => {
			const clock = useFakeClock();
			const { container, faults } = sharedDouble();
			faults.lostClaimReplies = 1;
			// The hand-back's write fails 5 times in a row: the writer's own retries all fail.
			faults.failTransitions = 5;
			faults.failTransitionsTo = ['waiting'];
			const runs: Record<string, number> = {};
			const scheduler = new Scheduler({
				container,
				concurrency: 2,
				leaseMs: 1_500,
				pollIntervalMs: 50,
				maxAttempts: 1,
				actuator: new FunctionActuator((id: string) => {
					runs[id] = (runs[id] ?? 0) + 1;
					return id;
				}),
			});
			scheduler.on('error', () => undefined);
			const finished: TaskRecord[] = [];
			scheduler.on('task:succeeded', ({ task }) => finished.push(task));
			scheduler.on('task:failed', ({ task }) => finished.push(task));
			await scheduler.add({ id: 'x', item: 'x' });
			const took = await clock.until('x finishes', () => finished.length > 0, 12_000);
			// The hand-back took longer than the lease: renewals kept the task meanwhile.
			expect(took).toBeGreaterThan(1_500);
			expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 1]]);
			expect(runs).toEqual({ x: 1 });
			await clock.settle(scheduler.close());
		},
	);
});
