/**
 * Far pages of the SQL container's `list` (containers/sql/list-page.ts): from `FAR_OFFSET` on, a page past the
 * middle of the matching rows is read from the other end and turned round. Whatever the read, a page must hold
 * exactly the tasks that an offset walk in the query's order gives, with the exact total and `more`, in both orders,
 * with and without a status filter and with `exactTotal` true or false.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import type { TaskQuery, TaskStatus } from 'lightsched';
import { FAR_OFFSET } from '../../containers/sql/list-page.js';
import { records } from '../contracts/container.contract.js';
import { createKnex, postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const TOTAL = FAR_OFFSET + 2_500;

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
	describe(`SqlContainer on ${kind}: far pages`, () => {
		let backend: SqlBackend;
		let knex: Knex;
		let c: SqlContainer;
		/** Every id in arrival order, and those left waiting (every tenth task is stopped). */
		const all: string[] = [];
		const waiting: string[] = [];

		beforeAll(async () => {
			backend = kind === 'SQLite' ? sqliteBackend() : await postgresBackend();
			knex = createKnex(await backend.freshDatabase());
			c = new SqlContainer({ knex });
			await c.migrate();
			const now = Date.now();
			for (let i = 0; i < TOTAL; i += 500) {
				const part = Array.from({ length: Math.min(500, TOTAL - i) }, (_, j) => ({
					id: `t${i + j}`,
					item: i + j,
				}));
				await c.add(records(part, now));
				all.push(...part.map((task) => task.id));
			}
			// Every tenth task stopped: a status filter then skips rows of the index, and still leaves a far page.
			const stopped = all.filter((_, i) => i % 10 === 0);
			await knex('lightsched_tasks').whereIn('id', stopped).update({ status: 'stopped' });
			const stoppedSet = new Set(stopped);
			waiting.push(...all.filter((id) => !stoppedSet.has(id)));
		}, 120_000);
		afterAll(async () => {
			await c?.close();
			await knex?.destroy();
			await backend?.stop();
		});

		async function expectPage(query: TaskQuery, ids: readonly string[]): Promise<void> {
			const ordered = query.order === 'desc' ? [...ids].reverse() : ids;
			const offset = query.offset ?? 0;
			const limit = query.limit ?? 100;
			const page = await c.list(query);
			expect(page.tasks.map((task) => task.id)).toEqual(ordered.slice(offset, offset + limit));
			expect(page.total).toBe(ids.length);
			expect(page.more).toBe(ids.length > offset + limit);
			// Whole records, in the container's record shape.
			for (const task of page.tasks) expect(typeof task.seq).toBe('number');
		}

		it('gives the pages an offset walk gives, past the middle and before it, both orders', async () => {
			for (const order of ['asc', 'desc'] as const) {
				for (const exactTotal of [true, false]) {
					for (const offset of [FAR_OFFSET, TOTAL - 150, TOTAL - 100, TOTAL - 37, TOTAL - 1]) {
						await expectPage({ order, exactTotal, offset, limit: 100 }, all);
					}
				}
			}
		});

		it('holds with a status filter and when the offset is at or past the end', async () => {
			const status: TaskStatus = 'waiting';
			for (const order of ['asc', 'desc'] as const) {
				for (const offset of [FAR_OFFSET, waiting.length - 3, waiting.length]) {
					await expectPage({ status, order, offset, limit: 100, exactTotal: false }, waiting);
				}
			}
			expect(waiting.length).toBeGreaterThan(FAR_OFFSET);
			// A filter that keeps fewer rows than FAR_OFFSET reads forward, as exact.
			await expectPage(
				{ status: 'stopped', offset: 1_000, limit: 50 },
				all.filter((_, i) => i % 10 === 0),
			);
			const past = await c.list({ offset: TOTAL + 5, limit: 10, exactTotal: false });
			expect(past).toEqual({ tasks: [], total: TOTAL, more: false });
		});
	});
}
