/**
 * The SqlContainer's own ANALYZE on PostgreSQL (a queue that just grew gets planner statistics). A trickle of adds
 * is analyzed at most once per 15 s. Before that rule, a busy queue ran one per 1,000 added rows, back to back: each
 * holds the lock autovacuum needs, so autovacuum never ran and the rows retention deleted were never reclaimed (the
 * table grew to 728 MiB in the 1,000,000-task retention soak while it held 35,000 rows). A burst (5,000 rows or more
 * since the last ANALYZE) is analyzed within about a second, even when nothing is added after it: with the
 * statistics of a near-empty queue, the planner read every waiting task and sorted them for each claim instead of
 * reading the claim index in order (0.6 x the claim rate of a fresh queue behind 100,000 stored finished tasks).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
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

it('analyzes a trickle of adds once, not once per 1,000 added rows', { timeout: 60_000 }, async () => {
	const connection = await pg.createDatabase('analyze_throttle');
	const container = new SqlContainer({ knex: { client: 'pg', connection } });
	try {
		for (let batch = 0; batch < 5; batch++) {
			await container.add(records(Array.from({ length: 1_000 }, (_, i) => ({ id: `t${batch}-${i}`, item: i }))));
			// Let a started ANALYZE finish, so only the throttle can hold the next one back.
			await new Promise((resolve) => setTimeout(resolve, 150));
		}
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		const { rows } = (await container.knex.raw(
			`SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'lightsched_tasks'`,
		)) as { rows: { analyze_count: string }[] };
		expect(Number(rows[0]?.analyze_count)).toBe(1);
	} finally {
		await container.close();
	}
});

type Rows<T> = { rows: T[] };

it(
	'analyzes a burst of adds within seconds, and the claim then reads the claim index in order',
	{ timeout: 60_000 },
	async () => {
		const connection = await pg.createDatabase('analyze_burst');
		const container = new SqlContainer({ knex: { client: 'pg', connection } });
		const knex = container.knex;
		const analyzed = async (): Promise<number> => {
			const { rows } = (await knex.raw(
				`SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'lightsched_tasks'`,
			)) as Rows<{ analyze_count: string }>;
			return Number(rows[0]?.analyze_count);
		};
		try {
			// 100,000 finished tasks stored, then a queue of 1,000: the container's first ANALYZE sees few waiting tasks.
			await container.add(records([{ id: 'first', item: 0 }])); // creates the tables
			await knex.raw(
				`INSERT INTO lightsched_tasks (id, status, priority, attempts, max_attempts, created_at, updated_at, started_at, finished_at, run_at, item, delayed)
			SELECT 'done-' || g, 'succeeded', 0, 1, 1, 1, 1, 1, 1, 1, '0', 0 FROM generate_series(1, 100000) AS g`,
			);
			await container.add(records(Array.from({ length: 1_000 }, (_, i) => ({ id: `a${i}`, item: i }))));
			for (let i = 0; i < 100 && (await analyzed()) < 1; i++) await new Promise((r) => setTimeout(r, 50));
			expect(await analyzed()).toBe(1);
			await new Promise((r) => setTimeout(r, 200));
			// Then a burst, and nothing after it.
			for (let batch = 0; batch < 5; batch++)
				await container.add(
					records(Array.from({ length: 4_000 }, (_, i) => ({ id: `b${batch}-${i}`, item: i }))),
				);
			for (let i = 0; i < 100 && (await analyzed()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
			expect(await analyzed()).toBeGreaterThanOrEqual(2);
			// The claim's pick (containers/sql/statements.ts): the first 16 entries of the claim index, not a sort of all.
			const { rows } = (await knex.raw(
				`EXPLAIN (FORMAT JSON) SELECT seq FROM lightsched_tasks
			WHERE status = 'waiting' AND delayed = 0 AND run_at <= (FLOOR(EXTRACT(EPOCH FROM now()) * 1000))::bigint
			ORDER BY priority DESC, seq LIMIT 16 FOR UPDATE SKIP LOCKED`,
			)) as Rows<{ 'QUERY PLAN': unknown }>;
			const plan = JSON.stringify(rows[0]?.['QUERY PLAN']);
			expect(plan).toContain('lightsched_tasks_claim');
			expect(plan).not.toContain('"Node Type":"Sort"');
		} finally {
			await container.close();
		}
	},
);
