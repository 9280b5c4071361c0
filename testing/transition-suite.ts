/**
 * The container contract's transitions: a task moves by compare-and-set on its status and owner (and the claim,
 * when one is named: `ClaimGuard`), its progress, ref and error are stored as given, and a task moved back to
 * waiting is claimable again after its `runAt`. Declared by `describeContainerContract`.
 */
import { expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { handBackPatch } from 'lightsched/kit';
import { LEASE, taskRecords } from './task-records.js';

/** Long enough that a claim made after it is stamped a later millisecond by any clock (the server's too). */
const apart = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** Declare the transition cases for the containers `make` makes. */
export function describeTransitions(make: () => Promise<TaskContainer>): void {
	it('transitions by compare-and-set on status and owner', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		const [task] = await c.claim(1, 'owner-1', LEASE, Date.now());
		expect(task?.id).toBe('a');
		expect(await c.transition('a', 'waiting', 'stopped', {})).toBeNull();
		expect(await c.transition('a', 'running', 'succeeded', {}, 'owner-2')).toBeNull();
		expect(await c.transition('missing', 'running', 'succeeded', {})).toBeNull();
		const done = await c.transition(
			'a',
			'running',
			'succeeded',
			{ output: { sum: 3 }, finishedAt: 123, owner: null },
			'owner-1',
		);
		expect(done).toMatchObject({ status: 'succeeded', output: { sum: 3 }, finishedAt: 123, owner: null });
		expect(await c.transition('a', 'running', 'failed', {}, 'owner-1')).toBeNull();
		expect(await c.get('a')).toMatchObject({ status: 'succeeded', output: { sum: 3 } });
		expect(await c.counts()).toMatchObject({ running: 0, succeeded: 1 });
	});

	it('moves a task only under the claim named (attempts and startedAt), when one is', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		const now = Date.now();
		const [first] = await c.claim(1, 'o', LEASE, now);
		if (first === undefined) throw new Error('Expected a claim of a');
		// Handed back under the claim it names, then claimed again for the same owner: the same attempts, later.
		expect(await c.transition('a', 'running', 'waiting', handBackPatch(first, now), 'o', first)).toMatchObject({
			status: 'waiting',
			attempts: 0,
			owner: null,
		});
		await apart();
		const [second] = await c.claim(1, 'o', LEASE, now + 1_000);
		expect(second).toMatchObject({ id: 'a', attempts: first.attempts, owner: 'o' });
		expect(second?.startedAt).not.toBe(first.startedAt);
		if (second === undefined) throw new Error('Expected a claim of a');
		// Naming the first claim, or a claim of other attempts, or of no start: refused, nothing changed.
		const late = handBackPatch(first, now + 2_000);
		expect(await c.transition('a', 'running', 'waiting', late, 'o', first)).toBeNull();
		expect(
			await c.transition('a', 'running', 'waiting', late, 'o', { ...second, attempts: second.attempts + 1 }),
		).toBeNull();
		expect(await c.transition('a', 'running', 'waiting', late, 'o', { ...second, startedAt: null })).toBeNull();
		expect(await c.get('a')).toMatchObject({
			status: 'running',
			owner: 'o',
			attempts: second.attempts,
			startedAt: second.startedAt,
		});
		// Naming the claim the task is under: moved, the claim compared with status and owner in one.
		expect(await c.transition('a', 'running', 'waiting', late, 'o2', second)).toBeNull();
		expect(await c.transition('a', 'running', 'running', { progress: 1 }, 'o', second)).toMatchObject({
			status: 'running',
			progress: 1,
		});
		const done = await c.transition('a', 'running', 'succeeded', { finishedAt: now + 3_000, owner: null }, 'o', {
			attempts: second.attempts,
			startedAt: second.startedAt,
		});
		expect(done).toMatchObject({ status: 'succeeded', attempts: second.attempts, startedAt: second.startedAt });
	});

	it('compares the claim of each of several transitions made at once', async () => {
		const c = await make();
		await c.add(
			taskRecords([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
			]),
		);
		const now = Date.now();
		const claimed = await c.claim(3, 'o', LEASE, now);
		const byId = new Map(claimed.map((task) => [task.id, task]));
		const a = byId.get('a');
		const b = byId.get('b');
		if (a === undefined || b === undefined || byId.get('c') === undefined) throw new Error('Expected a, b and c');
		const [stale, named, plain] = await Promise.all([
			c.transition('a', 'running', 'waiting', handBackPatch(a, now), 'o', { ...a, attempts: a.attempts + 1 }),
			c.transition('b', 'running', 'waiting', handBackPatch(b, now), 'o', b),
			c.transition('c', 'running', 'succeeded', { finishedAt: now, owner: null }, 'o'),
		]);
		expect(stale).toBeNull();
		expect(named).toMatchObject({ id: 'b', status: 'waiting', attempts: 0 });
		expect(plain).toMatchObject({ id: 'c', status: 'succeeded' });
		expect(await c.get('a')).toMatchObject({ status: 'running', owner: 'o', attempts: a.attempts });
	});

	it('stores progress, ref and error as given', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		await c.claim(1, 'o', LEASE, Date.now());
		await c.transition('a', 'running', 'running', { progress: { pct: 50 }, ref: 'job-7' }, 'o');
		await c.transition('a', 'running', 'failed', { error: { message: 'boom', code: 'E_BOOM' } }, 'o');
		expect(await c.get('a')).toMatchObject({
			progress: { pct: 50 },
			ref: 'job-7',
			error: { message: 'boom', code: 'E_BOOM' },
		});
	});

	it('makes a task claimable again when it goes back to waiting, after its runAt', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		const now = Date.now();
		await c.claim(1, 'o', LEASE, now);
		const back = await c.transition(
			'a',
			'running',
			'waiting',
			{ runAt: now + 5_000, owner: null, leaseUntil: null },
			'o',
		);
		expect(back).toMatchObject({ status: 'waiting', attempts: 1 });
		expect(await c.claim(1, 'o', LEASE, now + 1_000)).toEqual([]);
		expect(await c.nextDueAt(now + 1_000)).toBe(now + 5_000);
		const again = await c.claim(1, 'o2', LEASE, now + 5_000);
		expect(again.map((t) => [t.id, t.attempts, t.owner])).toEqual([['a', 2, 'o2']]);
	});
}
