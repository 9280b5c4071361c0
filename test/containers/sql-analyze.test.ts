/**
 * The SqlContainer's own ANALYZE on PostgreSQL (a queue that just grew gets planner statistics) runs at most once
 * per 15 s. Before, a busy queue ran one per 1,000 added rows, back to back: each holds the lock autovacuum needs,
 * so autovacuum never ran and the rows retention deleted were never reclaimed (the table grew to 728 MiB in the
 * 1,000,000-task retention soak while it held 35,000 rows).
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

it('analyzes a growing table once, not once per 1,000 added rows', { timeout: 60_000 }, async () => {
	const connection = await pg.createDatabase('analyze_throttle');
	const container = new SqlContainer({ knex: { client: 'pg', connection } });
	try {
		for (let batch = 0; batch < 10; batch++) {
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
