/**
 * A move back to waiting never moves a claim it did not read (`ClaimGuard`). Between a scheduler's read of a task
 * and its write, or between a write that failed and its retry, the container may hand the task back itself (a
 * hand-back given up on in an outage and applied late) and claim it again for the same owner (a claim ahead in
 * another task's finish, an add's hand-off to an idle owner), holding it for that owner's next `claim`. A write
 * that compared status and owner only moved that new claim back to waiting: the owner then ran it from the held
 * record and a claim of the waiting task ran it once more. The scheduler's claim fence cannot stop such a claim: the
 * container makes it, not the claim loop.
 *
 * On a fake clock (test/support/fake-clock.ts): the container is an in-process double whose claims answer first
 * with the tasks "claimed ahead" for the owner (as the Redis and SQL containers' held tasks), and whose renewals
 * leave those out of `unknown`, as theirs do.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskPatch, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { handBackPatch } from 'lightsched/kit';
import { useFakeClock } from '../support/fake-clock.js';
import { sharedDouble } from './shared-double.js';

const LEASE = 1_500;

/**
 * The double, with a claim ahead: `race(id)` runs once, inside the next write moving `id` from running to waiting,
 * before that write is forwarded (what the container does between the scheduler's read and write).
 */
function setUp(race: (id: string, owner: string, hold: (task: TaskRecord) => void) => Promise<void>): {
	double: ReturnType<typeof sharedDouble>;
	raced: () => boolean;
	movedBack: () => TaskRecord | null | undefined;
} {
	const double = sharedDouble();
	const { container } = double;
	const held: TaskRecord[] = [];
	const claim = container.claim.bind(container);
	container.claim = async (max, owner, leaseMs, now) =>
		held.length > 0 ? held.splice(0, max) : claim(max, owner, leaseMs, now);
	const renew = container.renew.bind(container);
	container.renew = async (owner, ids, leaseMs, now) => {
		const result = await renew(owner, ids, leaseMs, now);
		return { ...result, unknown: (result.unknown ?? []).filter((id) => !held.some((task) => task.id === id)) };
	};
	let raced = false;
	let movedBack: TaskRecord | null | undefined;
	const transition = container.transition.bind(container);
	container.transition = async (id, from, to, patch, owner, guard) => {
		if (raced || from !== 'running' || to !== 'waiting' || owner === undefined)
			return transition(id, from, to, patch, owner, guard);
		raced = true;
		await race(id, owner, (task) => held.push(task));
		movedBack = await transition(id, from, to, patch, owner, guard);
		return movedBack;
	};
	return { double, raced: () => raced, movedBack: () => movedBack };
}

describe('a move back to waiting and a claim the container made since', () => {
	it('a hand-back of a task found unknown leaves a claim made ahead for its owner since (nothing runs twice)', async () => {
		const clock = useFakeClock();
		const { double, raced, movedBack } = setUp(async (id, owner, hold) => {
			const { inner } = double;
			// Some time later (an outage), the container's own hand-back of the claim read applies, and a transition
			// batch claims the task ahead for the same owner.
			await new Promise((resolve) => setTimeout(resolve, 200));
			const read = (await inner.get(id)) as TaskRecord;
			await inner.transition(id, 'running', 'waiting', handBackPatch(read), owner);
			for (const task of await inner.claim(1, owner, LEASE, Date.now())) hold(task);
		});
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container: double.container,
			concurrency: 2,
			leaseMs: LEASE,
			pollIntervalMs: 50,
			maxAttempts: 1,
			autoStart: false,
			actuator: new FunctionActuator((id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				return id;
			}),
		});
		scheduler.on('error', () => undefined);
		const finished: TaskRecord[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task));
		scheduler.on('task:failed', ({ task }) => finished.push(task));
		// The claim of 'x' is applied with its reply lost: the next renewal finds it unknown and the scheduler hands
		// it back, reading it first.
		double.faults.lostClaimReplies = 1;
		await scheduler.add({ id: 'x', item: 'x' });
		scheduler.resume();
		await clock.until('x finishes', () => finished.length > 0, 5_000);
		await clock.advance(1_000);
		expect(raced()).toBe(true);
		expect(runs).toEqual({ x: 1 });
		expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 1]]);
		// The scheduler's hand-back found the claim it read gone: the claim made ahead stayed.
		expect(movedBack()).toBeNull();
		expect(await scheduler.get('x')).toMatchObject({ status: 'succeeded', attempts: 1 });
		await clock.settle(scheduler.close());
	});

	it('a retried move to waiting leaves a claim made ahead for its owner after its first write applied', async () => {
		const clock = useFakeClock();
		let firstPatch: TaskRecord | undefined;
		// The patch of the first write, which fails here and is applied by the race, late.
		let pending: TaskPatch = {};
		const { double, raced, movedBack } = setUp(async (id, owner, hold) => {
			const { inner } = double;
			// The failed first write was applied after all (late), and a transition batch then claimed the task ahead.
			await inner.transition(id, 'running', 'waiting', { ...pending }, owner);
			firstPatch = (await inner.get(id)) ?? undefined;
			for (const task of await inner.claim(1, owner, LEASE, Date.now())) hold(task);
		});
		const { container } = double;
		// The first write of the retry move fails, unapplied here.
		const transition = container.transition;
		let failed = false;
		container.transition = (id, from, to, patch, owner, guard) => {
			if (!failed && from === 'running' && to === 'waiting') {
				failed = true;
				pending = patch;
				return Promise.reject(new Error('connection reset (the write is applied later)'));
			}
			return transition(id, from, to, patch, owner, guard);
		};
		const runs: Record<string, number> = {};
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			leaseMs: LEASE,
			pollIntervalMs: 50,
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 10 },
			actuator: new FunctionActuator((id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				if (runs[id] === 1) throw new Error('the first attempt fails');
				return id;
			}),
		});
		scheduler.on('error', () => undefined);
		const finished: TaskRecord[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task));
		await scheduler.add({ id: 'x', item: 'x' });
		await clock.until('x succeeds', () => finished.length > 0, 5_000);
		await clock.advance(1_000);
		expect(raced()).toBe(true);
		expect(firstPatch).toMatchObject({ status: 'waiting', attempts: 1 });
		expect(runs).toEqual({ x: 2 });
		expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 2]]);
		// The retry found the claim it named gone: the claim made ahead stayed, and ran the second attempt.
		expect(movedBack()).toBeNull();
		await clock.settle(scheduler.close());
	});

	it('an attempt that took a new claim of its own task names that claim when it fails and is retried', async () => {
		// Its lease lapsed (a stalled store), the task was reclaimed, and this scheduler claimed it again while the
		// attempt still ran: the attempt keeps the new claim's numbers, startedAt too, or its retry's move, naming the
		// claim, would be refused and the task left running with no attempt.
		const container = new QueueContainer();
		const runs: Record<string, number> = {};
		let release: () => void = () => undefined;
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 1 },
			actuator: new FunctionActuator(async (id: string) => {
				runs[id] = (runs[id] ?? 0) + 1;
				if (id !== 'slow' || runs[id] > 1) return id;
				await new Promise<void>((resolve) => (release = resolve));
				throw new Error('the first attempt fails');
			}),
		});
		const finished: TaskRecord[] = [];
		scheduler.on('task:succeeded', ({ task }) => finished.push(task));
		await scheduler.add({ id: 'slow', item: 'slow' });
		const until = (done: () => boolean | Promise<boolean>) =>
			(async () => {
				for (let i = 0; i < 1_000 && !(await done()); i++)
					await new Promise((resolve) => setTimeout(resolve, 5));
			})();
		await until(() => runs['slow'] === 1);
		// Claimed again a later millisecond than the first claim.
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect((await container.reclaimExpired(Date.now() + 3_600_000)).map((t) => t.status)).toEqual(['waiting']);
		await scheduler.add({ id: 'other', item: 'other' });
		await until(async () => (await scheduler.get('slow'))?.attempts === 2 && runs['other'] === 1);
		release();
		await until(() => finished.some((task) => task.id === 'slow'));
		expect(runs).toEqual({ slow: 2, other: 1 });
		expect(await scheduler.get('slow')).toMatchObject({ status: 'succeeded', attempts: 3 });
		await scheduler.close();
	});
});
