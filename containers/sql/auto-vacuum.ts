/**
 * A busy queue leaves the claim index's front full of entries of tasks claimed since (a claim moves a row out of
 * `waiting`, and an index entry stays until a VACUUM removes it). Every claim starts at that front and steps over
 * them: after 100,000 tasks run through a queue, 500 index pages per claim and 2 ms (bench/churned-queue.ts).
 * Autovacuum clears them, but looks at a table at most once per `autovacuum_naptime` (a server-wide setting, one
 * minute by default), however low the table's own thresholds (schema 2) are: a queue running thousands of tasks a
 * second piles up a minute of them between two passes. So, on PostgreSQL, after every 5,000 tasks it claimed the
 * container runs a VACUUM of the tasks table itself (in the background, one at a time).
 *
 * The VACUUM is plain (no exclusive lock: claims, adds and transitions go on), skips the table when another vacuum
 * or an ANALYZE holds it (`SKIP_LOCKED`, so several processes do not queue up behind each other), always cleans the
 * indexes (`INDEX_CLEANUP`: PostgreSQL 14 and later would otherwise skip them when few heap pages have dead rows,
 * which is when a large table of finished tasks churns at its end) and does not truncate the table (which would take
 * an exclusive lock for a moment). It reads every index of the table in full, so on a large table it is dearer: the
 * next one waits at least 19 times as long as the last one took (at most a twentieth of one connection's time). With
 * 9 times, on a table of 1,100,000 tasks (each VACUUM 105–283 ms) the server's CPU per task rose in both of two pairs
 * (bench/churned-queue.ts STORED=1000000), though within the spread the same code showed in later runs: the cautious
 * bound was kept. Set `vacuum: false` to leave vacuuming to autovacuum (or a schedule of your own). A role
 * that does not own the table gets a warning from PostgreSQL and nothing is vacuumed; errors are ignored.
 */
import type { Knex } from 'knex';
import { BackgroundStatement } from './background-statement.js';

/** Tasks this container claims between two of its VACUUMs. */
export const VACUUM_EVERY_TASKS = 5_000;

/** The least pause after a VACUUM, as a multiple of how long it took. */
const PAUSE_FACTOR = 19;

/** The container's own VACUUM of `table`, counted in claimed tasks. */
export function autoVacuum(knex: Knex, table: string, open: () => boolean): BackgroundStatement {
	return new BackgroundStatement({
		knex,
		sql: `VACUUM (INDEX_CLEANUP TRUE, TRUNCATE FALSE, SKIP_LOCKED TRUE) ${table}`,
		every: VACUUM_EVERY_TASKS,
		nextAt: (started, ended) => ended + PAUSE_FACTOR * (ended - started),
		open,
	});
}
