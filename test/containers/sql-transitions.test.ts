/**
 * The SQL container's coalesced transitions when a batch statement's reply is lost: the database may have
 * committed it, so the batch must not be run again one by one (each of those would see its own change as a failed
 * comparison and report `null`, "rejected", for a write that was applied). Every caller gets the error instead,
 * and the scheduler's writer looks at the task to see whether its write was applied. A statement the database
 * refused (rolled back) is still split so one bad transition does not fail the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { refusedByDatabase, TransitionBatcher } from '../../containers/sql/transitions.js';
import { rowsOf } from '../../containers/sql/statements.js';
import { records } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-sql-transitions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TransitionBatcher when a batch reply is lost', () => {
	it('rejects every transition of a batch whose connection broke after the commit, instead of reporting them refused', async () => {
		const c = new SqlContainer({ knex: { client: 'sqlite3', connection: { filename: join(dir, 'lost.db') } } });
		try {
			await c.add(records(['a', 'b', 'c'].map((id, i) => ({ id, item: i }))));
			await c.claim(3, 'o', 10_000, Date.now());
			let batches = 0;
			const batcher = new TransitionBatcher({
				dialect: 'sqlite',
				table: '"lightsched_tasks"',
				bool: (v) => (v ? 1 : 0),
				wake: null,
				maxInFlight: 1,
				serverNow: null,
				run: async (sql, bindings) => {
					const rows = await rowsOf(c.knex, sql, bindings);
					// The first multi-row statement commits, and then its connection breaks: the reply is lost.
					if (sql.startsWith('WITH') && batches++ === 0)
						throw new Error('Connection terminated unexpectedly');
					return rows;
				},
			});
			const first = batcher.submit({
				id: 'a',
				from: 'running',
				to: 'succeeded',
				patch: { finishedAt: 1, owner: null, leaseUntil: null },
				owner: 'o',
				updatedAt: 1,
			});
			// a alone (a transition asked for alone waits one turn of the event loop, then goes by itself), then b and c.
			expect(await first).toMatchObject({ id: 'a', status: 'succeeded' });
			const rest = ['b', 'c'].map((id) =>
				batcher.submit({
					id,
					from: 'running',
					to: 'succeeded',
					patch: { finishedAt: 2, owner: null, leaseUntil: null },
					owner: 'o',
					updatedAt: 2,
				}),
			);
			// b and c went in one statement, applied, reply lost: both callers hear of the failure.
			const settled = await Promise.allSettled(rest);
			expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
			expect((await c.get('b'))?.status).toBe('succeeded');
		} finally {
			await c.close();
		}
	});

	it('tells a refusal by the database (rolled back) from a broken connection', () => {
		expect(refusedByDatabase(Object.assign(new Error('x'), { code: '23505' }))).toBe(true);
		expect(refusedByDatabase(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT' }))).toBe(true);
		expect(refusedByDatabase(Object.assign(new Error('x'), { code: '57P01' }))).toBe(false);
		expect(refusedByDatabase(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(false);
		expect(refusedByDatabase(new Error('Connection terminated unexpectedly'))).toBe(false);
	});
});
