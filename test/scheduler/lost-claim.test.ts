/**
 * A claim applied by the container whose reply never came: the tasks it took are leased to this scheduler, which
 * does not know it holds them. The next renewal (run soon after the failed claim, even with nothing running)
 * learns them as `unknown` and the scheduler hands them back uncounted; a renewal that overlapped a claim of its
 * own disregards `unknown` (that claim's reply may still come).
 *
 * On a fake clock (test/support/fake-clock.ts): the container is an in-process double, every wait is a timer.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sharedDouble } from './shared-double.js';

describe('a claim whose reply was lost', () => {
	it('costs no attempt: its tasks are handed back uncounted and run once', async () => {
		const clock = useFakeClock();
		const { container, faults, calls } = sharedDouble();
		faults.lostClaimReplies = 1;
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container,
			concurrency: 3,
			// Long enough that only a renewal can give the tasks back in time: a reclaim would count the attempt.
			leaseMs: 3_000,
			pollIntervalMs: 50,
			autoStart: false,
			actuator: new FunctionActuator((id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				return id;
			}),
		});
		const errors: string[] = [];
		scheduler.on('error', (error) => errors.push(error.message));
		const finished: TaskRecord[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task));
		scheduler.on('task:failed', ({ task }) => finished.push(task));
		await scheduler.add(['a', 'b'].map((id) => ({ id, item: id })));
		scheduler.resume();
		// Well within the 3 s lease: only the renewal's hand-back, not a reclaim, can have given them back.
		await clock.until('a and b finish', () => finished.length >= 2, 2_500);
		expect(calls.renew ?? 0).toBeGreaterThanOrEqual(1);
		expect(finished.map((t) => [t.id, t.status, t.attempts]).sort()).toEqual([
			['a', 'succeeded', 1],
			['b', 'succeeded', 1],
		]);
		expect(runs).toEqual({ a: 1, b: 1 });
		expect(errors.join('\n')).not.toMatch(/ERR_LEASE_EXPIRED|Lost the lease/);
		await clock.settle(scheduler.close());
	});

	it('a renewal that overlapped one of its own claims leaves that claim`s tasks alone', async () => {
		const clock = useFakeClock();
		const { container, faults, calls } = sharedDouble();
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => (release = resolve));
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			leaseMs: 1_500,
			pollIntervalMs: 50,
			actuator: new FunctionActuator(async (id: string) => {
				if (id === 'long') await gate;
				return id;
			}),
		});
		const handedBack: string[] = [];
		const inner = container.transition.bind(container);
		container.transition = (id, from, to, patch, owner) => {
			if (from === 'running' && to === 'waiting') handedBack.push(id);
			return inner(id, from, to, patch, owner);
		};
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 'long', item: 'long' });
		await clock.advance(100);
		// Renewals run (every 500 ms) while 'long' runs; the next claim is applied at once but answers 1.2 s later
		// (within its lease): the renewals meanwhile report 'late' as unknown.
		faults.claimReplyDelayMs = 1_200;
		await scheduler.add({ id: 'late', item: 'late' });
		await clock.advance(1_500);
		delete faults.claimReplyDelayMs;
		release();
		await clock.settle(scheduler.onIdle());
		expect(calls.renew ?? 0).toBeGreaterThanOrEqual(3);
		expect(handedBack).toEqual([]);
		expect(await scheduler.get('late')).toMatchObject({ status: 'succeeded', attempts: 1 });
		await clock.settle(scheduler.close());
	});
});
