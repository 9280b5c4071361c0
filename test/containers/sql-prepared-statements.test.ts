/**
 * SqlContainer's `preparedStatements` (PostgreSQL, opt-in; containers/sql/direct-pg.ts): the container's frequent
 * statements run prepared with generic plans, every task of a backlog runs once, and a prepared statement whose
 * result columns changed under it (a column added by another process) runs again unprepared instead of failing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, type SqlBackend } from '../support/sql.js';

let pg: SqlBackend;
beforeAll(async () => {
	pg = await postgresBackend();
}, 120_000);
afterAll(() => pg.stop());

describe('SqlContainer preparedStatements (PostgreSQL)', () => {
	it('rejects a value that is not a boolean', () => {
		expect(
			() =>
				new SqlContainer({
					knex: { client: 'pg', connection: 'postgres://x@127.0.0.1/x' },
					preparedStatements: 1 as never,
				}),
		).toThrow(/preparedStatements/);
	});

	it('runs every task of a backlog once, its statements prepared with generic plans', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase(), preparedStatements: true });
		const n = 400;
		await c.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
		const runs = new Map<number, number>();
		const scheduler = new Scheduler({
			container: c,
			actuator: new FunctionActuator(async (item: number) => {
				runs.set(item, (runs.get(item) ?? 0) + 1);
			}),
			concurrency: 8,
		});
		try {
			await scheduler.onIdle();
			expect((await c.counts()).succeeded).toBe(n);
			expect(runs.size).toBe(n);
			expect([...runs.values()].every((v) => v === 1)).toBe(true);
		} finally {
			await scheduler.close();
			await c.close();
		}
	});

	it('runs a prepared statement again unprepared when a column was added under it', async () => {
		const knex = await pg.freshDatabase();
		const c = new SqlContainer({ knex, preparedStatements: true, notify: false });
		await c.add(records(Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, item: i }))));
		try {
			// The same claim and transition texts often enough to be prepared on the pool's connections.
			for (let i = 0; i < 5; i++) {
				const [task] = await c.claim(1, 'o', 30_000, Date.now());
				expect(await c.transition(task!.id, 'running', 'succeeded', DONE, 'o')).toMatchObject({
					status: 'succeeded',
				});
			}
			await c.knex.raw('ALTER TABLE lightsched_tasks ADD COLUMN added_later TEXT');
			for (let i = 0; i < 5; i++) {
				const [task] = await c.claim(1, 'o', 30_000, Date.now());
				expect(task).toBeDefined();
				expect(await c.transition(task!.id, 'running', 'succeeded', DONE, 'o')).toMatchObject({
					status: 'succeeded',
				});
			}
			expect((await c.counts()).succeeded).toBe(10);
		} finally {
			await c.close();
		}
	});
});
