/**
 * A maintenance statement a PostgreSQL container runs on its own table, in the background: once `every` units (rows
 * added, tasks claimed) have been counted since the last one, one at a time, not once the container is closed, and
 * not before the time the last one's spacing rule gives. Errors are ignored: the server's own maintenance still runs,
 * and the next count tries again. Used by auto-analyze.ts and auto-vacuum.ts, which say why each exists.
 */
import type { Knex } from 'knex';

export interface BackgroundStatementOptions {
	readonly knex: Knex;
	readonly sql: string;
	/** Units counted between two runs. */
	readonly every: number;
	/** The earliest time of the next run (`performance.now()`), given when the last one started and ended. */
	readonly nextAt: (startedMs: number, endedMs: number) => number;
	/** Whether the container can still run statements. */
	readonly open: () => boolean;
}

export class BackgroundStatement {
	readonly #options: BackgroundStatementOptions;
	#counted = 0;
	#running = false;
	/** No run starts before this time (`performance.now()`). */
	#notBefore = Number.NEGATIVE_INFINITY;

	constructor(options: BackgroundStatementOptions) {
		this.#options = options;
	}

	/** `units` more were counted. */
	count(units: number): void {
		this.#counted += units;
		const { knex, sql, every, nextAt, open } = this.#options;
		if (this.#counted < every || this.#running || !open()) return;
		const started = performance.now();
		if (started < this.#notBefore) return;
		this.#counted = 0;
		this.#running = true;
		knex.raw(sql)
			.catch(() => undefined)
			.finally(() => {
				this.#notBefore = nextAt(started, performance.now());
				this.#running = false;
			});
	}
}
