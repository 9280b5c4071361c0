/**
 * A scheduler cut off from its container for longer than its lease must not reclaim its own task when the container
 * comes back. The work of the task finished during the outage and its outcome write is being retried; the lease
 * lapsed because no renewal could reach the container. When the container answers again, the scheduler's reclaim
 * sweep, its renewal and the outcome write's retry race: a sweep first put the task back to `waiting` and it ran a
 * second time in this very scheduler (CI saw it in test/durability/sql-outage.test.ts under load 15). The scheduler
 * now renews what it holds before it sweeps, whenever its last renewal failed.
 *
 * On a fake clock (test/support/fake-clock.ts): the container is an in-process double whose every call fails while
 * it is "down"; the container comes back at every phase of the renewal and sweep timers.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sharedDouble } from './shared-double.js';

const LEASE_MS = 600;

describe('a scheduler whose container was down for longer than its lease', () => {
	it('never reclaims and re-runs its own task whose outcome write was waiting for the container', async () => {
		const clock = useFakeClock();
		const outcomes: string[] = [];
		// The container comes back at each phase of the 200 ms renewal and 300 ms sweep periods.
		for (let backAfterMs = 1_500; backAfterMs < 2_100; backAfterMs += 50) {
			const { container, faults } = sharedDouble();
			let release: () => void = () => undefined;
			const gate = new Promise<void>((resolve) => (release = resolve));
			const runs: Record<string, number> = {};
			const scheduler = new Scheduler({
				container,
				concurrency: 2,
				leaseMs: LEASE_MS,
				pollIntervalMs: 50,
				maxAttempts: 3,
				actuator: new FunctionActuator(async (id: string) => {
					runs[id] = (runs[id] ?? 0) + 1;
					if (runs[id] === 1) await gate;
					return id;
				}),
			});
			scheduler.on('error', () => undefined);
			const finished: TaskRecord[] = [];
			scheduler.on('task:succeeded', ({ task }) => finished.push(task));
			await scheduler.add({ id: 'x', item: 'x' });
			await clock.until('x starts', () => runs['x'] === 1, 2_000);
			// Down: every call fails after 5 ms. The work finishes during the outage.
			faults.downMs = 5;
			await clock.advance(100);
			release();
			await clock.advance(backAfterMs);
			delete faults.downMs;
			await clock.until('x finishes', () => finished.length > 0, 10_000);
			await clock.advance(1_000);
			outcomes.push(
				`back after ${backAfterMs} ms: runs ${runs['x']}, ${finished.map((t) => `${t.status} at attempt ${t.attempts}`).join(', ')}`,
			);
			await clock.settle(scheduler.close());
		}
		expect(outcomes.filter((o) => !o.endsWith('runs 1, succeeded at attempt 1'))).toEqual([]);
	}, 60_000);
});
