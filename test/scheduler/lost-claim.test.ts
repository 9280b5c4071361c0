/**
 * A claim applied by the container whose reply never came: the tasks it took are leased to this scheduler, which
 * does not know it holds them. The next renewal (run soon after the failed claim, even with nothing running)
 * learns them as `unknown` and the scheduler hands them back uncounted; a renewal that overlapped a claim of its
 * own may list that claim's tasks too, and the hand-back (under a claim fence) leaves them to the claim's reply.
 * A busy scheduler, whose renewals all overlap a claim, still hands a lost claim's tasks back; a claim the server
 * applied after its caller saw it fail is found by the next sweep's check.
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
		container.transition = (id, from, to, patch, owner, claim) => {
			if (from === 'running' && to === 'waiting') handedBack.push(id);
			return inner(id, from, to, patch, owner, claim);
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

	it('a busy scheduler, every renewal overlapping one of its own claims, still hands a lost claim`s task back in time', async () => {
		// What CI's sql-lost-replies run found: while work flows, a claim is nearly always in flight, so every
		// renewal overlapped one and its `unknown` was set aside; the lost claim's task stayed leased to a scheduler
		// that did not know it until the lease lapsed, and with maxAttempts 1 it failed ERR_LEASE_EXPIRED, never run.
		const clock = useFakeClock();
		const { container, faults } = sharedDouble();
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => (release = resolve));
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			leaseMs: 3_000,
			pollIntervalMs: 50,
			maxAttempts: 1,
			autoStart: false,
			actuator: new FunctionActuator(async (id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				if (id === 'long') await gate;
				return id;
			}),
		});
		scheduler.on('error', () => undefined);
		const ended = new Set<string>();
		scheduler.on('task:succeeded', ({ task }) => ended.add(task.id));
		scheduler.on('task:failed', ({ task }) => ended.add(task.id));
		await scheduler.add({ id: 'long', item: 'long' });
		const quick = Array.from({ length: 80 }, (_, k) => `q${k}`);
		await scheduler.add(quick.map((id) => ({ id, item: id })));
		// Every claim answers 100 ms after it is applied (one after another while quick tasks wait), every renewal
		// 80 ms after: longer than the poll that follows a failed claim, so even the renewal sent at once overlaps.
		faults.claimReplyDelayMs = 100;
		faults.renewReplyDelayMs = 80;
		scheduler.resume();
		await clock.until('long starts', () => runs['long'] === 1, 1_000);
		faults.lostClaimReplies = 1;
		await clock.until('every quick task ended', () => quick.every((id) => ended.has(id)), 20_000);
		release();
		await clock.settle(scheduler.onIdle(), 5_000);
		const tasks = await Promise.all(['long', ...quick].map((id) => scheduler.get(id)));
		const bad = tasks.filter((t) => t?.status !== 'succeeded' || t.attempts !== 1).map((t) => [t?.id, t?.status]);
		expect(bad).toEqual([]);
		expect(Object.entries(runs).filter(([, n]) => n !== 1)).toEqual([]);
		await clock.settle(scheduler.close());
	});

	it('a claim the server applies after its caller saw it fail is found by the next sweep`s check, within half a lease', async () => {
		// A PostgreSQL backend can commit a statement after the client saw the connection drop: the renewal sent at
		// once after the failure finds nothing, and an idle scheduler renews nothing after that. Each sweep (every
		// half lease) first checks what the container holds for this scheduler, so the task goes back uncounted.
		const clock = useFakeClock();
		const { container, faults, calls } = sharedDouble();
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container,
			concurrency: 1,
			leaseMs: 3_000,
			pollIntervalMs: 50,
			maxAttempts: 1,
			autoStart: false,
			actuator: new FunctionActuator((id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				return id;
			}),
		});
		scheduler.on('error', () => undefined);
		const ended: string[] = [];
		scheduler.on('task:succeeded', ({ task }) => ended.push(`${task.id} succeeded`));
		scheduler.on('task:failed', ({ task }) => ended.push(`${task.id} failed ${task.error?.code ?? ''}`));
		await scheduler.add({ id: 'x', item: 'x' });
		faults.lateClaims = { count: 1, applyAfterMs: 20 };
		scheduler.resume();
		await clock.advance(200);
		// Applied late: x is leased to this scheduler, which does not know it; the renewal after the failure was empty.
		expect(await container.get('x')).toMatchObject({ status: 'running', owner: scheduler.id });
		expect(calls.renew ?? 0).toBeGreaterThanOrEqual(1);
		// Within the lease (3 s from the late claim): a reclaim would count the attempt and fail the task.
		await clock.until('x ends', () => ended.length > 0, 6_000);
		expect(ended).toEqual(['x succeeded']);
		expect(clock.elapsed).toBeLessThan(3_000);
		expect(await scheduler.get('x')).toMatchObject({ status: 'succeeded', attempts: 1 });
		expect(runs).toEqual({ x: 1 });
		await clock.settle(scheduler.close());
	});
});
