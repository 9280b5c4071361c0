/**
 * A maintenance statement a PostgreSQL container runs on its own table, in the background: once `every` units (rows
 * added, tasks claimed) have been counted since the last one, one at a time, not once the container is closed, and
 * not before the time the last one's spacing rule gives. A count held back by that rule runs when the rule allows it
 * (a timer, unreferenced), even if nothing more is counted. Errors are ignored: the server's own maintenance still
 * runs, and the next count tries again. Used by auto-analyze.ts and auto-vacuum.ts, which say why each exists.
 */
import type { Knex } from 'knex';

export interface BackgroundStatementOptions {
	readonly knex: Knex;
	readonly sql: string;
	/** Units counted between two runs. */
	readonly every: number;
	/**
	 * The earliest time of the next run (`performance.now()`), given when the last one started and ended and the
	 * units counted since.
	 */
	readonly nextAt: (startedMs: number, endedMs: number, counted: number) => number;
	/** Whether the container can still run statements. */
	readonly open: () => boolean;
}

export class BackgroundStatement {
	readonly #options: BackgroundStatementOptions;
	#counted = 0;
	#running = false;
	/** When the last run started and ended (`performance.now()`), or null before the first. */
	#last: { started: number; ended: number } | null = null;
	/** A run held back by the spacing rule, due when it allows. */
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(options: BackgroundStatementOptions) {
		this.#options = options;
	}

	/** `units` more were counted (fewer when negative: never below none). */
	count(units: number): void {
		this.#counted = Math.max(0, this.#counted + units);
		if (units > 0) this.#try();
	}

	#try(): void {
		const { knex, sql, every, nextAt, open } = this.#options;
		if (this.#counted < every || this.#running || !open()) return;
		const started = performance.now();
		const last = this.#last;
		const notBefore = last === null ? started : nextAt(last.started, last.ended, this.#counted);
		if (started < notBefore) {
			clearTimeout(this.#timer);
			this.#timer = setTimeout(() => this.#try(), Math.ceil(notBefore - started));
			this.#timer.unref?.();
			return;
		}
		clearTimeout(this.#timer);
		this.#counted = 0;
		this.#running = true;
		knex.raw(sql)
			.catch(() => undefined)
			.finally(() => {
				this.#last = { started, ended: performance.now() };
				this.#running = false;
			});
	}
}
