/**
 * Task groups (`NewTask.group`) and the containers' `groupRateLimit`. `describeGroups` (declared by
 * `describeContainerContract` for every container): the group given at add is stored and handed back, `null` when
 * none. `describeGroupRateLimit` (for containers with the option: Redis, SQLite, PostgreSQL): at most `max` claims
 * of each group per fixed window aligned to the epoch on the container's clock (the tests drive the caller's clock);
 * a group with no room left holds back only its own tasks (the claim takes the next ones of other groups, and tasks
 * with no group, in priority and arrival order); held-back tasks stay waiting, no attempt counted; `nextDueAt`
 * answers the window's reopening when only held-back tasks are left; the next window starts the group's next ones.
 */
import { describe, expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { taskRecords } from './task-records.js';

/** The cases every container passes: the group given at add is stored and handed back, `null` when none. */
export function describeGroups(make: () => Promise<TaskContainer>): void {
	describe('task groups', () => {
		it('stores the group given at add and hands it back (null when none)', async () => {
			const c = await make();
			const now = Date.now();
			await c.add(
				taskRecords(
					[
						{ id: 'g1', item: 1, group: 'customer-7' },
						{ id: 'g2', item: 2 },
					],
					now,
				),
			);
			expect(await c.get('g1')).toMatchObject({ group: 'customer-7' });
			expect(await c.get('g2')).toMatchObject({ group: null });
			const claimed = await c.claim(2, 'o', 10_000, now);
			expect(claimed.map((task) => [task.id, task.group])).toEqual([
				['g1', 'customer-7'],
				['g2', null],
			]);
		});
	});
}

/** A container with `groupRateLimit: limit` on fresh storage, judged by the caller's clock. */
export type GroupLimitedFactory = (limit: { max: number; intervalMs: number }) => Promise<TaskContainer>;

/**
 * The per-group rate limit cases, for a container with `groupRateLimit` (Redis, SQLite, PostgreSQL here; a third
 * party's container that offers the option): `make` gives a container with the limit on fresh storage, judged by the
 * caller's clock (the cases drive it). See the file's comment for what they hold.
 */
export function describeGroupRateLimit(make: GroupLimitedFactory): void {
	describe('groupRateLimit', () => {
		// A window start (the windows are aligned to the epoch).
		const T = 1_800_000_000_000;

		it('holds back a saturated group only: the claim takes the next tasks of other groups, in order', async () => {
			const c = await make({ max: 2, intervalMs: 1_000 });
			await c.add(
				taskRecords(
					[
						...[1, 2, 3, 4, 5].map((i) => ({ id: `a${i}`, item: i, group: 'a' })),
						{ id: 'b1', item: 6, group: 'b' },
						{ id: 'n1', item: 7 },
						{ id: 'b2', item: 8, group: 'b' },
						{ id: 'b3', item: 9, group: 'b' },
						{ id: 'p1', item: 10, group: 'a', priority: 5 },
					],
					T,
				),
			);
			const first = await c.claim(10, 'o', 60_000, T + 10);
			// p1 first (priority), then a1 fills group a; b1, n1, b2 follow; a2..a5 and b3 wait.
			expect(first.map((task) => task.id).sort()).toEqual(['a1', 'b1', 'b2', 'n1', 'p1']);
			for (const id of ['a2', 'a3', 'a4', 'a5', 'b3']) {
				expect(await c.get(id)).toMatchObject({ status: 'waiting', attempts: 0 });
			}
			expect(await c.claim(10, 'o', 60_000, T + 20)).toEqual([]);
			// Only held-back tasks are left: wake when the window reopens.
			const due = await c.nextDueAt(T + 30);
			expect(due).not.toBeNull();
			expect(due as number).toBeGreaterThanOrEqual(T + 30);
			expect(due as number).toBeLessThanOrEqual(T + 1_000);
			// A task of another group added now is not held behind them.
			await c.add(taskRecords([{ id: 'c1', item: 11, group: 'c' }], T + 40));
			expect((await c.claim(10, 'o', 60_000, T + 50)).map((task) => task.id)).toEqual(['c1']);
			// The next window: each group's next tasks, in arrival order.
			const second = await c.claim(10, 'o', 60_000, T + 1_000);
			expect(second.map((task) => task.id).sort()).toEqual(['a2', 'a3', 'b3']);
			const third = await c.claim(10, 'o', 60_000, T + 2_000);
			expect(third.map((task) => task.id).sort()).toEqual(['a4', 'a5']);
			expect((await c.counts()).waiting).toBe(0);
		});

		it('counts a retry as a start of its group, and keeps a finished attempt counted', async () => {
			const c = await make({ max: 1, intervalMs: 1_000 });
			await c.add(
				taskRecords(
					[
						{ id: 'r1', item: 1, group: 'g' },
						{ id: 'r2', item: 2, group: 'g' },
					],
					T,
				),
			);
			const [first] = await c.claim(5, 'o', 60_000, T + 1);
			expect(first?.id).toBe('r1');
			// Back to waiting at once (a retry with no backoff): the group's window is full.
			await c.transition('r1', 'running', 'waiting', { runAt: T + 2, owner: null, leaseUntil: null }, 'o');
			expect(await c.claim(5, 'o', 60_000, T + 3)).toEqual([]);
			expect(await c.get('r1')).toMatchObject({ status: 'waiting', attempts: 1 });
			const next = await c.claim(5, 'o', 60_000, T + 1_001);
			expect(next.map((task) => task.id)).toEqual(['r1']);
			expect(next[0]?.attempts).toBe(2);
			expect((await c.claim(5, 'o', 60_000, T + 2_001)).map((task) => task.id)).toEqual(['r2']);
		});

		it("forgets a held-back task that leaves waiting, and starts the group's next one in the next window", async () => {
			const c = await make({ max: 1, intervalMs: 1_000 });
			await c.add(
				taskRecords(
					['x1', 'x2', 'x3'].map((id, i) => ({ id, item: i, group: 'g' })),
					T,
				),
			);
			expect((await c.claim(5, 'o', 60_000, T + 1)).map((task) => task.id)).toEqual(['x1']);
			expect(await c.transition('x2', 'waiting', 'stopped', { finishedAt: T + 2 })).toMatchObject({
				status: 'stopped',
			});
			expect((await c.claim(5, 'o', 60_000, T + 1_000)).map((task) => task.id)).toEqual(['x3']);
			expect(await c.get('x2')).toMatchObject({ status: 'stopped', attempts: 0 });
			expect(await c.claim(5, 'o', 60_000, T + 2_000)).toEqual([]);
			expect((await c.counts()).waiting).toBe(0);
		});

		it('judges a claim made with an older clock by the newest window a claim used (a claimer that waited)', async () => {
			const c = await make({ max: 1, intervalMs: 1_000 });
			const add = (id: string): Promise<void> => c.add(taskRecords([{ id, item: id, group: 'g' }], T));
			await add('k1');
			expect((await c.claim(5, 'o', 60_000, T + 10)).map((task) => task.id)).toEqual(['k1']);
			await add('k2');
			expect((await c.claim(5, 'o', 60_000, T + 1_000)).map((task) => task.id)).toEqual(['k2']);
			await add('k3');
			// A clock behind the last claim's: not a second start in the first window, nor in the second.
			expect(await c.claim(5, 'o', 60_000, T + 999)).toEqual([]);
			const started = (await c.list()).tasks.filter((task) => task.startedAt !== null);
			const windows = started.map((task) => Math.floor((task.startedAt as number) / 1_000));
			expect(new Set(windows).size).toBe(windows.length);
			expect((await c.claim(5, 'o', 60_000, T + 2_000)).map((task) => task.id)).toEqual(['k3']);
		});

		it('passes over a long backlog of a saturated group within a few claims', async () => {
			const c = await make({ max: 1, intervalMs: 60_000 });
			const backlog = Array.from({ length: 1_500 }, (_, i) => ({ id: `h${i}`, item: i, group: 'hot' }));
			await c.add(taskRecords([...backlog, { id: 'cold', item: -1, group: 'cold' }], T));
			const seen: string[] = [];
			for (let i = 0; i < 4 && !seen.includes('cold'); i++) {
				for (const task of await c.claim(5, 'o', 60_000, T + 10 + i)) seen.push(task.id);
				if (!seen.includes('cold')) {
					// Stopped at its scan bound: it asks to be called again at once.
					expect(await c.nextDueAt(T + 10 + i)).toBeLessThanOrEqual(T + 10 + i + 1);
				}
			}
			expect(seen).toEqual(['h0', 'cold']);
			expect((await c.counts()).waiting).toBe(1_499);
		});
	});
}
