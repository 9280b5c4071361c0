/**
 * The container contract's bulk clean (`clean`), declared by `describeOperations` when the container offers it, else
 * its absence: finished tasks of one status deleted by age, by count kept and by their own retention rules, in
 * bounded batches, oldest first; a bad query names its field and deletes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { FinalStatus, NewTask, TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/**
 * Add `ids` (in this order, each with its own retention rule when given), claim them and finish each in `status`
 * at the given `finishedAt`.
 */
async function finish(
	c: TaskContainer,
	status: FinalStatus,
	finished: readonly (readonly [id: string, finishedAt: number, retention?: NewTask['retention']])[],
): Promise<void> {
	const now = Date.now();
	for (const [id, , retention] of finished) {
		await c.add(taskRecords([{ id, item: id, ...(retention === undefined ? {} : { retention }) }], now));
	}
	const claimed = await c.claim(finished.length, 'cleaner', LEASE, now);
	expect(claimed.map((t) => t.id).sort()).toEqual(finished.map(([id]) => id).sort());
	for (const [id, finishedAt] of finished) {
		const moved = await c.transition(
			id,
			'running',
			status,
			{ finishedAt, owner: null, leaseUntil: null },
			'cleaner',
		);
		expect(moved?.status).toBe(status);
	}
}

/** Declare the clean cases for the containers `make` makes (`offered`: the container says it has `clean`). */
export function describeClean(make: () => Promise<TaskContainer>, offered: boolean): void {
	describe('clean', () => {
		if (!offered) {
			it('offers no clean (declared so)', async () => {
				expect((await make()).clean).toBeUndefined();
			});
			return;
		}
		const clean = (c: TaskContainer): NonNullable<TaskContainer['clean']> => {
			if (c.clean === undefined) throw new Error('declared clean, has no clean()');
			return c.clean.bind(c);
		};

		it('deletes finished tasks of one status finished before a time, oldest first, in bounded batches', async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['s1', 1_000],
				['s2', 5_000],
				['s3', 2_000],
				['s4', 9_000],
			]);
			await finish(c, 'failed', [['f1', 1_000]]);
			await c.add(taskRecords([{ id: 'w', item: 'waiting' }], Date.now()));
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual(['s1', 's2']);
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual(['s3']);
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual([]);
			expect(await c.get('s1')).toBeNull();
			expect(await c.get('s4')).toMatchObject({ status: 'succeeded' });
			expect(await c.get('f1')).toMatchObject({ status: 'failed' });
			expect(await c.get('w')).toMatchObject({ status: 'waiting' });
			expect(await c.counts()).toMatchObject({ succeeded: 1, failed: 1, waiting: 1 });
			expect((await c.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['s4']);
		});

		it('keeps the newest `keep` of a status; either rule selects; no rule selects all', async () => {
			const c = await make();
			await finish(c, 'failed', [
				['f1', 9_000],
				['f2', 1_000],
				['f3', 9_000],
				['f4', 1_000],
				['f5', 9_000],
			]);
			// Beyond the newest 3 (f1, f2) or finished before 5,000 (f2, f4).
			expect(await clean(c)({ status: 'failed', keep: 3, finishedBefore: 5_000, limit: 100 })).toEqual([
				'f1',
				'f2',
				'f4',
			]);
			expect(await clean(c)({ status: 'failed', keep: 1, limit: 100 })).toEqual(['f3']);
			await finish(c, 'stopped', [
				['x1', 1],
				['x2', 2],
			]);
			expect((await clean(c)({ status: 'stopped', limit: 100 })).sort()).toEqual(['x1', 'x2']);
			expect(await c.counts()).toMatchObject({ failed: 1, stopped: 0 });
			// A cleaned id can be added again.
			await c.add(taskRecords([{ id: 'f1', item: 'again' }], Date.now()));
			expect(await c.get('f1')).toMatchObject({ status: 'waiting', item: 'again' });
		});

		it('rejects a bad query, naming the field, deleting nothing', async () => {
			const c = await make();
			await finish(c, 'succeeded', [['s1', 1]]);
			const bad = [
				[{ status: 'waiting', limit: 10 }, /status/],
				[{ status: 'succeeded', limit: 0 }, /limit/],
				[{ status: 'succeeded', limit: 10, keep: -1 }, /keep/],
				[{ status: 'succeeded', limit: 10, finishedBefore: Number.NaN }, /finishedBefore/],
			] as const;
			for (const [query, field] of bad) {
				await expect(clean(c)(query as never)).rejects.toThrow(field);
			}
			expect(await c.get('s1')).toMatchObject({ status: 'succeeded' });
		});

		it('leaves tasks with their own rule for the status out of a background query (neither deleted nor counted); an explicit one deletes them', async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['a1', 1_000],
				['r1', 1_000, { succeeded: 60_000 }],
				['a2', 2_000],
				['r2', 2_000, { failed: 0 }], // a rule for another status: the scheduler's rule governs it here
				['a3', 9_000],
			]);
			expect(await c.get('r1')).toMatchObject({ retention: { succeeded: 60_000 } });
			expect(
				await clean(c)({ status: 'succeeded', finishedBefore: 5_000, exceptOwnRule: true, limit: 100 }),
			).toEqual(['a1', 'a2', 'r2']);
			expect(await c.get('r1')).toMatchObject({ status: 'succeeded' });
			await finish(c, 'failed', [
				['k1', 1],
				['k2', 1, { failed: 60_000 }],
				['k3', 1],
				['k4', 1, { failed: 60_000, succeeded: 0 }],
				['k5', 1],
			]);
			// Of the three without a rule, keep the newest one.
			expect(await clean(c)({ status: 'failed', keep: 1, exceptOwnRule: true, limit: 100 })).toEqual([
				'k1',
				'k3',
			]);
			// An explicit query counts and deletes tasks with a rule as any other.
			expect(await clean(c)({ status: 'failed', keep: 1, limit: 100 })).toEqual(['k2', 'k4']);
			expect(await clean(c)({ status: 'succeeded', limit: 100 })).toEqual(['r1', 'a3']);
			expect(await c.counts()).toMatchObject({ succeeded: 0, failed: 1 });
		});

		it("selects by tasks' own rules with expiredBy: only lapsed ones, among ids when given; a re-run is not the old task", async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['e1', 1_000, { succeeded: 1_000 }], // lapses at 2,000
				['e2', 1_000, { succeeded: 5_000 }], // at 6,000
				['e3', 0], // no rule
				['e4', 0, { failed: 0 }], // no rule for succeeded
				['e5', 3_000, { succeeded: 0 }], // at 3,000
			]);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 2_500, limit: 100 })).toEqual(['e1']);
			expect(await clean(c)({ status: 'failed', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect(
				await clean(c)({ status: 'succeeded', expiredBy: 7_000, ids: ['e2', 'e3', 'e4', 'nope'], limit: 100 }),
			).toEqual(['e2']);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 2_999, limit: 100 })).toEqual([]);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 3_000, limit: 100 })).toEqual(['e5']);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect((await c.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['e3', 'e4']);
			// Bounded batches.
			await finish(c, 'stopped', [
				['b1', 1, { stopped: 0 }],
				['b2', 1, { stopped: 0 }],
				['b3', 1, { stopped: 0 }],
			]);
			const first = await clean(c)({ status: 'stopped', expiredBy: 10, limit: 2 });
			expect(first).toHaveLength(2);
			expect([...first, ...(await clean(c)({ status: 'stopped', expiredBy: 10, limit: 2 }))].sort()).toEqual([
				'b1',
				'b2',
				'b3',
			]);
			// A finished task with a rule, added again without one: the re-run is not deleted by the old rule, in any
			// status it reaches.
			await finish(c, 'succeeded', [['again', 1_000, { succeeded: 0 }]]);
			await c.add(taskRecords([{ id: 'again', item: 'second run' }], Date.now()));
			expect(await c.get('again')).toMatchObject({ status: 'waiting', retention: null });
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			const [claimed] = await c.claim(1, 'cleaner', LEASE, Date.now());
			expect(claimed?.id).toBe('again');
			await c.transition(
				'again',
				'running',
				'succeeded',
				{ finishedAt: 1, owner: null, leaseUntil: null },
				'cleaner',
			);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect(await c.get('again')).toMatchObject({ status: 'succeeded', item: 'second run' });
		});

		it("honours a task's own rule when the container finishes it itself (a lease-expiry reclaim)", async () => {
			const c = await make();
			const now = Date.now();
			await c.add(
				taskRecords(
					[
						{ id: 'lost', item: 1, maxAttempts: 1, retention: { failed: 0 } },
						{ id: 'stop', item: 2, retention: { stopped: 0 } },
						{ id: 'plain', item: 3, maxAttempts: 1 },
					],
					now,
				),
			);
			expect(await c.claim(3, 'gone', 1, now)).toHaveLength(3);
			await c.requestStop('stop');
			await new Promise((resolve) => setTimeout(resolve, 20));
			const moved = await c.reclaimExpired(Date.now() + 10);
			expect(moved.map((t) => [t.id, t.status]).sort()).toEqual([
				['lost', 'failed'],
				['plain', 'failed'],
				['stop', 'stopped'],
			]);
			// By the time of the reclaim, on any clock the container keeps (give it a minute of skew).
			const later = Date.now() + 60_000;
			expect(await clean(c)({ status: 'failed', expiredBy: later, limit: 100 })).toEqual(['lost']);
			expect(await clean(c)({ status: 'stopped', expiredBy: later, limit: 100 })).toEqual(['stop']);
			expect(await c.get('plain')).toMatchObject({ status: 'failed', retention: null });
		});

		it('rejects a bad own-rule query, naming the field', async () => {
			const c = await make();
			await finish(c, 'succeeded', [['s1', 1, { succeeded: 0 }]]);
			const bad = [
				[{ status: 'succeeded', limit: 10, expiredBy: Number.NaN }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, expiredBy: 5, keep: 1 }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, expiredBy: 5, exceptOwnRule: true }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, ids: ['s1'] }, /ids/],
				[{ status: 'succeeded', limit: 10, exceptOwnRule: 'yes' }, /exceptOwnRule/],
			] as const;
			for (const [query, field] of bad) {
				await expect(clean(c)(query as never)).rejects.toThrow(field);
			}
			expect(await c.get('s1')).toMatchObject({ status: 'succeeded' });
		});
	});
}
