/**
 * A busy PostgreSQL queue: the claim must not step over the index entries of every task claimed before
 * (issue 15 item 6). Each claim moves a row out of `waiting`; its entry in the claim index stays until a VACUUM, and
 * autovacuum looks at a table at most once a minute (`autovacuum_naptime`). Before the container ran its own VACUUM
 * (containers/sql/auto-vacuum.ts), a claim after 20,000 tasks had run through the queue read every leaf page those
 * entries fill (116 buffers for a pick of 16 measured, 20 with it; 500 after 100,000 tasks). The server here runs with autovacuum
 * off, so only the container can have cleaned the index.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { records } from '../contracts/container.contract.js';

let pg: PostgresServer;
beforeAll(async () => {
	pg = await startPostgres({ settings: { autovacuum: 'off' } });
}, 120_000);
afterAll(async () => {
	await pg?.stop();
});

type Rows<T> = { rows: T[] };

it(
	'keeps the claim cheap after 20,000 tasks ran through the queue, without autovacuum',
	{ timeout: 120_000 },
	async () => {
		const connection = await pg.createDatabase('churned');
		const container = new SqlContainer({ knex: { client: 'pg', connection } });
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator(async () => undefined),
			concurrency: 16,
			autoStart: false,
		});
		try {
			const knex = container.knex;
			/** Lets a VACUUM the container started finish. */
			const vacuumed = async (): Promise<void> => {
				await new Promise((resolve) => setTimeout(resolve, 200));
				for (;;) {
					const { rows } = (await knex.raw(
						`SELECT count(*)::int AS n FROM pg_stat_progress_vacuum`,
					)) as Rows<{
						n: number;
					}>;
					if (rows[0]?.n === 0) return;
					await new Promise((resolve) => setTimeout(resolve, 50));
				}
			};
			// 4 rounds of 5,000: each round's end is a 5,000th claim. Between rounds, time for the pause after a VACUUM
			// (19 times its duration) to pass even on a loaded machine, so the test does not hang on the machine's speed.
			for (let round = 0; round < 4; round++) {
				for (let batch = 0; batch < 5; batch++)
					await container.add(
						records(Array.from({ length: 1_000 }, (_, i) => ({ id: `t${round}-${batch}-${i}`, item: i }))),
					);
				scheduler.resume();
				await scheduler.onIdle();
				scheduler.pause();
				await vacuumed();
				if (round < 3) await new Promise((resolve) => setTimeout(resolve, 2_000));
			}
			await container.add(records(Array.from({ length: 100 }, (_, i) => ({ id: `next-${i}`, item: i }))));
			// The claim's pick (see containers/sql/statements.ts), in a transaction rolled back.
			const buffers = await knex.transaction(async (trx) => {
				const { rows } = (await trx.raw(
					`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT seq FROM lightsched_tasks
					WHERE status = 'waiting' AND delayed = 0 AND run_at <= (FLOOR(EXTRACT(EPOCH FROM now()) * 1000))::bigint
					ORDER BY priority DESC, seq LIMIT 16 FOR UPDATE SKIP LOCKED`,
				)) as Rows<{ 'QUERY PLAN': { Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }[] }>;
				const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
				return (plan?.['Shared Hit Blocks'] ?? 0) + (plan?.['Shared Read Blocks'] ?? 0);
			});
			// 20,000 claimed tasks' entries fill about 100 leaf pages; the last VACUUM came at the 20,000th claim.
			expect(buffers).toBeLessThan(45);
			const { rows } = (await knex.raw(
				`SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'lightsched_tasks'`,
			)) as Rows<{ n: number }>;
			expect(rows[0]?.n).toBeGreaterThanOrEqual(4);
			// And every task ran.
			scheduler.resume();
			await scheduler.onIdle();
			const succeeded = await container.list({ status: 'succeeded', limit: 1 });
			expect(succeeded.total).toBe(20_100);
		} finally {
			await scheduler.close();
			await container.close();
		}
	},
);

it('runs no VACUUM of its own with `vacuum: false`, and refuses a value that is not a boolean', async () => {
	expect(
		() => new SqlContainer({ knex: { client: 'pg', connection: pg.connection }, vacuum: 'no' as never }),
	).toThrow('Expected `vacuum` to be a boolean');
	const connection = await pg.createDatabase('not_vacuumed');
	const container = new SqlContainer({ knex: { client: 'pg', connection }, vacuum: false });
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(async () => undefined),
		concurrency: 16,
		autoStart: false,
	});
	try {
		for (let batch = 0; batch < 6; batch++)
			await container.add(records(Array.from({ length: 1_000 }, (_, i) => ({ id: `t${batch}-${i}`, item: i }))));
		scheduler.resume();
		await scheduler.onIdle();
		await new Promise((resolve) => setTimeout(resolve, 500));
		const { rows } = (await container.knex.raw(
			`SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'lightsched_tasks'`,
		)) as Rows<{ n: number }>;
		expect(rows[0]?.n).toBe(0);
	} finally {
		await scheduler.close();
		await container.close();
	}
});
