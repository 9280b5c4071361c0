/**
 * PostgreSQL plans the claim from table statistics, which autovacuum refreshes only about once a minute. A queue
 * that just grew by thousands of rows looks empty until then, and the planner then sorts every waiting row instead
 * of reading the claim index in order. So after every 1,000 added rows the container refreshes the statistics
 * itself (`ANALYZE`, in the background, one at a time).
 */
import type { Knex } from 'knex';
import { BackgroundStatement } from './background-statement.js';

/**
 * The least time between the starts of two of the container's own ANALYZEs: an ANALYZE holds the lock autovacuum
 * needs, and back to back (a busy queue) they kept autovacuum from ever running, so deleted rows were never
 * reclaimed (the retention soak).
 */
const ANALYZE_EVERY_MS = 15_000;

/** The container's own ANALYZE of `table`, counted in added rows (the first one at a new queue's first 1,000). */
export function autoAnalyze(knex: Knex, table: string, open: () => boolean): BackgroundStatement {
	return new BackgroundStatement({
		knex,
		sql: `ANALYZE ${table}`,
		every: 1_000,
		nextAt: (started) => started + ANALYZE_EVERY_MS,
		open,
	});
}
