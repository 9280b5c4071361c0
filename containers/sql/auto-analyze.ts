/**
 * PostgreSQL plans the claim from table statistics, which autovacuum refreshes only about once a minute. A queue
 * that just grew by thousands of rows looks empty until then, and the planner then sorts every waiting row instead
 * of reading the claim index in order. So after every 1,000 added rows the container refreshes the statistics
 * itself (`ANALYZE`, in the background, one at a time).
 */
import type { Knex } from 'knex';

/** The least time between two of the container's own ANALYZEs. */
const ANALYZE_EVERY_MS = 15_000;

export class AutoAnalyze {
	readonly #knex: Knex;
	readonly #table: string;
	/** Whether the container can still run statements. */
	readonly #open: () => boolean;
	#added = 0;
	#analyzing = false;
	/** When the last ANALYZE started (0: none yet, so a new queue gets its statistics at its first 1,000 rows). */
	#analyzedAt = 0;

	constructor(knex: Knex, table: string, open: () => boolean) {
		this.#knex = knex;
		this.#table = table;
		this.#open = open;
	}

	/** `rows` rows were added. */
	grew(rows: number): void {
		this.#added += rows;
		if (this.#added < 1_000 || this.#analyzing || !this.#open()) return;
		// At most one every ANALYZE_EVERY_MS: an ANALYZE holds the lock autovacuum needs, and back to back (a busy
		// queue) they kept autovacuum from ever running, so deleted rows were never reclaimed (the retention soak).
		if (Date.now() - this.#analyzedAt < ANALYZE_EVERY_MS) return;
		this.#analyzedAt = Date.now();
		this.#added = 0;
		this.#analyzing = true;
		this.#knex
			.raw(`ANALYZE ${this.#table}`)
			.catch(() => undefined)
			.finally(() => {
				this.#analyzing = false;
			});
	}
}
