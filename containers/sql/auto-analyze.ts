/**
 * PostgreSQL plans the claim from table statistics, which autovacuum refreshes only about once a minute. A queue
 * that just grew by thousands of rows looks empty until then, and the planner then sorts every waiting row instead
 * of reading the claim index in order (behind 100,000 stored finished tasks, a burst of 10,000 ran at 0.6 x the rate
 * of a fresh queue: bench/backlog.ts). So once the rows this container added exceed those it claimed by 1,000 since
 * its last ANALYZE (the queue grew), it refreshes the statistics itself (`ANALYZE`, in the background, one at a
 * time): at most once per 15 s while the queue grows slowly, and soon after a burst (the queue grew by 5,000 rows or
 * more), even when nothing is added after it: at least 1 s after the last one started and 4 times its duration
 * after it ended. A queue whose adds are claimed as they come (steady, however busy) has statistics that stay
 * right, and is not analyzed for it.
 *
 * `SKIP_LOCKED`: when autovacuum (or another process's ANALYZE) holds the table, this one is skipped instead of
 * waiting, so it never makes autovacuum cancel itself; the next count tries again.
 */
import type { Knex } from 'knex';
import { BackgroundStatement } from './background-statement.js';

/**
 * The least time between the starts of two of the container's own ANALYZEs: an ANALYZE holds the lock autovacuum
 * needs, and back to back (a busy queue) they kept autovacuum from ever running, so deleted rows were never
 * reclaimed (the retention soak).
 */
const ANALYZE_EVERY_MS = 15_000;
/** Growth of the queue (rows added less rows claimed) since the last ANALYZE that makes a burst, analyzed sooner. */
const BURST_ROWS = 5_000;
/** After a burst: at least this long after the last ANALYZE started, and ... */
const BURST_EVERY_MS = 1_000;
/**
 * ... at least this many times the last ANALYZE's duration after it ended (measured here at load 8: 200 ms for a
 * table of 100,000 rows, 600 ms for 1,000,000: the next one after a burst 0.8 and 2.4 s later).
 */
const BURST_PAUSE_FACTOR = 4;

/** The container's own ANALYZE of `table`, counted in rows added less rows claimed (the first at a new queue's first 1,000). */
export function autoAnalyze(knex: Knex, table: string, open: () => boolean): BackgroundStatement {
	return new BackgroundStatement({
		knex,
		sql: `ANALYZE (SKIP_LOCKED) ${table}`,
		every: 1_000,
		nextAt: (started, ended, counted) =>
			counted >= BURST_ROWS
				? Math.max(started + BURST_EVERY_MS, ended + BURST_PAUSE_FACTOR * (ended - started))
				: started + ANALYZE_EVERY_MS,
		open,
	});
}
