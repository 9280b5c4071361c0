/**
 * SqlContainer's transitions that name a claim (`ClaimGuard`): the claim is compared in the statement's WHERE, in a
 * lone statement and in a batch (whose rows then carry the claim's columns, null for a row that names none), also
 * when the batch claims ahead (on SQLite through `sqlite3` the claim's picks are rows of the same statement). On
 * PostgreSQL and on SQLite through both drivers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { handBackPatch } from 'lightsched/kit';
import { TransitionStatements } from '../../containers/sql/transition-statements.js';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const backends: Record<string, SqlBackend> = {};
beforeAll(async () => {
	backends['PostgreSQL'] = await postgresBackend();
	backends['SQLite, better-sqlite3'] = sqliteBackend('better-sqlite3');
	backends['SQLite, sqlite3'] = sqliteBackend('sqlite3');
}, 120_000);
afterAll(() => Promise.all(Object.values(backends).map((backend) => backend.stop())));
afterEach(() => vi.restoreAllMocks());

describe.each(['PostgreSQL', 'SQLite, better-sqlite3', 'SQLite, sqlite3'])('SqlContainer claim guard (%s)', (name) => {
	it('compares the claim of each row of a batch, one that claims ahead too', async () => {
		const c = new SqlContainer({ knex: await (backends[name] as SqlBackend).freshDatabase() });
		const batchSql = vi.spyOn(TransitionStatements.prototype, 'batchSql');
		try {
			await c.add(records(Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, item: i }))));
			// A full claim: the owner has a backlog, so the batch below (a task of its finishing) claims ahead for it.
			const claimed = await c.claim(4, 'o', 30_000, Date.now());
			expect(claimed).toHaveLength(4);
			const task = (id: string) => claimed.find((t) => t.id === id) as (typeof claimed)[number];
			const now = Date.now();
			// t0 alone first (nothing on its way); the rest are asked for in the turn its reply comes: one statement.
			const [done, stale, named, plain] = await c.transition('t0', 'running', 'succeeded', DONE, 'o').then(() =>
				Promise.all([
					c.transition('t1', 'running', 'succeeded', DONE, 'o'),
					c.transition('t2', 'running', 'failed', DONE, 'o', {
						attempts: task('t2').attempts,
						startedAt: (task('t2').startedAt ?? 0) - 1,
					}),
					c.transition('t3', 'running', 'succeeded', DONE, 'o', task('t3')),
					c.transition('t7', 'waiting', 'stopped', { finishedAt: now }),
				]),
			);
			expect(batchSql.mock.calls.some(([, n, guarded]) => n === 4 && guarded === true)).toBe(true);
			expect(done).toMatchObject({ id: 't1', status: 'succeeded' });
			expect(stale).toBeNull();
			expect(named).toMatchObject({ id: 't3', status: 'succeeded', owner: null });
			expect(plain).toMatchObject({ id: 't7', status: 'stopped' });
			expect(await c.get('t2')).toMatchObject({ status: 'running', owner: 'o', attempts: 1 });
			// Claimed ahead: t4 by t0's statement, t5 and t6 by the batch's (for t1 and t3).
			expect((await c.list({ status: 'running' })).tasks.map((t) => [t.id, t.owner])).toEqual([
				['t2', 'o'],
				['t4', 'o'],
				['t5', 'o'],
				['t6', 'o'],
			]);
			// The lone statement compares it too.
			expect(
				await c.transition('t2', 'running', 'waiting', handBackPatch(task('t2'), now), 'o', {
					attempts: 2,
					startedAt: task('t2').startedAt,
				}),
			).toBeNull();
			expect(
				await c.transition('t2', 'running', 'waiting', handBackPatch(task('t2'), now), 'o', task('t2')),
			).toMatchObject({ status: 'waiting', attempts: 0 });
		} finally {
			await c.close();
		}
	});
});
