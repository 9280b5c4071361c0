/**
 * PostgreSQL row locks: a lease renewal or a reclaim must never wait for, nor deadlock with, another statement that
 * holds some of its rows. A renewal (`… AND id IN (…)`) locked the rows in its plan's order while a batch of
 * transitions (`UPDATE … FROM unnest(…)`) on another connection locked them in the batch's order, so the two could
 * each hold a row the other wanted: PostgreSQL then aborted one of them (SQLSTATE 40P01) after its one-second
 * `deadlock_timeout`, stalling both. A renewal and a reclaim now pass over a row another statement holds (the row is
 * being moved by its owner; a renewal counts it as still held, and the next reclaim looks at it again).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { records } from '../contracts/container.contract.js';

let pg: PostgresServer;
beforeAll(async () => {
	pg = await startPostgres();
}, 120_000);
afterAll(async () => {
	await pg?.stop();
});

const TABLE = 'lightsched_tasks';
const sleep = (ms: number): Promise<'late'> => new Promise((resolve) => setTimeout(() => resolve('late'), ms));

/** A container with tasks `a` and `b` claimed by `owner` (lease `leaseMs`), and a second connection to the database. */
async function setUp(name: string, leaseMs: number): Promise<{ container: SqlContainer; other: Knex }> {
	const connection = await pg.createDatabase(name);
	const container = new SqlContainer({ knex: { client: 'pg', connection } });
	await container.add(
		records([
			{ id: 'a', item: 1 },
			{ id: 'b', item: 2 },
		]),
	);
	const claimed = await container.claim(2, 'owner', leaseMs, Date.now());
	expect(claimed.map((task) => task.id).sort()).toEqual(['a', 'b']);
	const { default: knex } = await import('knex');
	return { container, other: knex({ client: 'pg', connection }) };
}

it(
	'renews leases without waiting for a row another statement holds, and without a deadlock',
	{ timeout: 60_000 },
	async () => {
		const { container, other } = await setUp('renew_lock', 30_000);
		try {
			const before = await other(TABLE).select('id', 'lease_until').orderBy('id');
			const trx = await other.transaction();
			try {
				// Another statement holds `b` (as the owner's own batch of transitions does while it commits).
				await trx(TABLE).where({ id: 'b' }).update({ progress: 0.5 });
				const renewal = container.renew('owner', ['a', 'b'], 60_000, Date.now());
				const outcome = await Promise.race([renewal, sleep(2_000)]);
				// Before: the renewal locked `a`, then waited for `b`; the holder's next row lock (`a`) closed the cycle.
				expect(outcome).not.toBe('late');
				if (outcome === 'late') throw new Error('unreachable');
				expect(outcome.lost).toEqual([]);
				expect(outcome.stopRequested).toEqual([]);
				expect(outcome.unknown).toEqual([]);
				// The holder can take `a` at once: the renewal did not leave it waiting.
				const taken = await Promise.race([
					trx(TABLE).where({ id: 'a' }).update({ progress: 0.25 }),
					sleep(2_000),
				]);
				expect(taken).toBe(1);
				await trx.commit();
			} catch (error) {
				await trx.rollback().catch(() => undefined);
				throw error;
			}
			const after = await other(TABLE).select('id', 'lease_until').orderBy('id');
			// `a` was renewed; `b`, passed over, keeps its lease for the next renewal.
			expect(Number(after[0].lease_until)).toBeGreaterThan(Number(before[0].lease_until));
			expect(Number(after[1].lease_until)).toBe(Number(before[1].lease_until));
			// Nothing held any more: the next renewal extends both.
			const next = await container.renew('owner', ['a', 'b'], 90_000, Date.now());
			expect(next.lost).toEqual([]);
			const last = await other(TABLE).select('id', 'lease_until').orderBy('id');
			expect(Number(last[1].lease_until)).toBeGreaterThan(Number(after[1].lease_until));
		} finally {
			await other.destroy();
			await container.close();
		}
	},
);

it(
	'still reports a task lost when it is no longer held, whether or not its row is locked',
	{ timeout: 60_000 },
	async () => {
		const { container, other } = await setUp('renew_lost', 30_000);
		try {
			await other(TABLE).where({ id: 'b' }).update({ status: 'succeeded', owner: null, lease_until: null });
			const trx = await other.transaction();
			try {
				await trx(TABLE).where({ id: 'b' }).update({ progress: 1 });
				const outcome = await Promise.race([
					container.renew('owner', ['a', 'b'], 60_000, Date.now()),
					sleep(2_000),
				]);
				expect(outcome).not.toBe('late');
				if (outcome === 'late') throw new Error('unreachable');
				expect(outcome.lost).toEqual(['b']);
				await trx.commit();
			} catch (error) {
				await trx.rollback().catch(() => undefined);
				throw error;
			}
		} finally {
			await other.destroy();
			await container.close();
		}
	},
);

it('reclaims expired leases without waiting for a row another statement holds', { timeout: 60_000 }, async () => {
	const { container, other } = await setUp('reclaim_lock', 1);
	try {
		await sleep(50);
		const trx = await other.transaction();
		try {
			await trx(TABLE).where({ id: 'b' }).update({ progress: 0.5 });
			const outcome = await Promise.race([container.reclaimExpired(Date.now()), sleep(2_000)]);
			expect(outcome).not.toBe('late');
			if (outcome === 'late') throw new Error('unreachable');
			expect(outcome.map((task) => task.id)).toEqual(['a']);
			await trx.commit();
		} catch (error) {
			await trx.rollback().catch(() => undefined);
			throw error;
		}
		// The row passed over is reclaimed by the next reclaim.
		const next = await container.reclaimExpired(Date.now());
		expect(next.map((task) => [task.id, task.status])).toEqual([['b', 'waiting']]);
	} finally {
		await other.destroy();
		await container.close();
	}
});
