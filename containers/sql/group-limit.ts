/**
 * The SQL container's `groupRateLimit`: at most `max` claims of each group's tasks (`task_group`, schema 6) in each
 * `intervalMs` window across every process. Tasks with no group are not limited by it. (Judged by a clock that never
 * goes back from one claim to the next: see `claim`.) It runs inside the limited
 * claim's transaction (rate-limit.ts), after the `claim_limits` row lock serialised claimers and after
 * `globalConcurrency` and `rateLimit` cut the claim's size, on that transaction's clock.
 *
 * The table `group_limits` holds one row per group: its current window (`window_start`, aligned to the epoch, and
 * `n` claims in it) and, while the group has parked tasks, `parked_until` (when its window reopens).
 *
 * Parking, so a saturated group blocks nobody and a claim never wades through its backlog. The claim reads due
 * waiting tasks in claim order (priority, then arrival) in batches; a task whose group has room is claimed, one
 * whose group has none is parked (`delayed` = 2: out of the claim index, in `tasks_parked`), and the claim reads on.
 * Before that, the claim un-parks the groups whose window reopened (at most `UNPARK_GROUPS` per claim): at most `max`
 * tasks each, the first in claim order, back into the claim index, and `parked_until` moves on a window while more
 * are parked. So each task is moved at most once per window it cannot start in, and one claim reads at most
 * `SCAN_LIMIT` tasks; a claim that stops at that bound asks to be called again at once. `nextDueAt` answers the
 * earliest `parked_until`, so schedulers sleep until a group's window reopens. At most once a minute a claim deletes
 * the rows of groups whose window ended with nothing parked (an ended window counts as empty anyway).
 */
import type { Knex } from 'knex';
import type { SqlDialect, SqlTables } from './schema.js';
import { marks, rowsOf } from './statements.js';

/** The most waiting tasks one claim reads (claimed or parked) before it stops and asks to be called again. */
export const SCAN_LIMIT = 1000;
/** The most groups one claim un-parks. */
export const UNPARK_GROUPS = 100;
/** How often (this process's clock) a claim deletes the rows of groups with no parked tasks whose window ended. */
export const SWEEP_EVERY_MS = 60_000;

/** What a group-limited claim did. */
export interface GroupClaim {
	readonly rows: Record<string, unknown>[];
	/** Whether it stopped at `SCAN_LIMIT` with room left (call again at once). */
	readonly short: boolean;
}

interface Window {
	n: number;
	/** Whether `n` changed or the group parked a task (its row is written back). */
	dirty: boolean;
	parked: boolean;
}

export class SqlGroupLimit {
	readonly max: number;
	readonly intervalMs: number;
	readonly #dialect: SqlDialect;
	readonly #t: SqlTables;
	/** When this process last deleted ended windows (`SWEEP_EVERY_MS`). */
	#sweptAt = Date.now();

	constructor(dialect: SqlDialect, tables: SqlTables, limit: { readonly max: number; readonly intervalMs: number }) {
		this.#dialect = dialect;
		this.#t = tables;
		this.max = limit.max;
		this.intervalMs = limit.intervalMs;
	}

	/** A bigint binding (PostgreSQL types an untyped `?` in arithmetic or CASE as text). */
	#big(): string {
		return this.#dialect === 'pg' ? '?::bigint' : '?';
	}

	#indexed(index: 'claim' | 'parked'): string {
		return this.#dialect === 'sqlite' ? ` INDEXED BY "${this.#t.prefix}tasks_${index}"` : '';
	}

	/**
	 * Claim up to `max` due tasks for `owner` at `clockNow` (the transaction's clock), within the group windows.
	 *
	 * Windows never go back: `clockNow` was read before this claimer waited for the lock (PostgreSQL's `now()` is
	 * the transaction's start; a caller's `now` is taken before the call), so a claimer that waited may judge by a
	 * time older than one a claimer before it already used, and would count in a window that is over as if it were
	 * empty. The claims are serialised, so each stores the time it judged by (the row of the empty group name,
	 * which no task has) and the next judges by the later of its clock and that: windows, start times and leases
	 * all follow the order claims took the lock.
	 */
	async claim(
		trx: Knex.Transaction,
		owner: string,
		leaseMs: number,
		max: number,
		clockNow: number,
	): Promise<GroupClaim> {
		const t = this.#t;
		const big = this.#big();
		const [mark] = await rowsOf(trx, `SELECT window_start FROM ${t.groupLimits} WHERE grp = ''`);
		const at = Math.max(clockNow, Number(mark?.['window_start'] ?? 0));
		const start = Math.floor(at / this.intervalMs) * this.intervalMs;
		const reopen = start + this.intervalMs;
		await this.#unpark(trx, at, reopen);
		const windows = new Map<string, Window>();
		const claimed: Record<string, unknown>[] = [];
		let scanned = 0;
		let exhausted = false;
		const notPaused = `NOT EXISTS (SELECT 1 FROM ${t.settings} WHERE name = 'paused')`;
		while (claimed.length < max && scanned < SCAN_LIMIT) {
			const batch = Math.min(SCAN_LIMIT - scanned, Math.max(max - claimed.length, 100));
			const candidates = await rowsOf(
				trx,
				`SELECT seq, task_group FROM ${t.tasks}${this.#indexed('claim')} WHERE status = 'waiting' AND delayed = 0 AND run_at <= ${big} AND ${notPaused} ORDER BY priority DESC, seq LIMIT ?`,
				[clockNow, batch],
			);
			scanned += candidates.length;
			if (candidates.length < batch) exhausted = true;
			await this.#loadWindows(trx, candidates, windows, start);
			const take: unknown[] = [];
			const park: unknown[] = [];
			for (const row of candidates) {
				if (claimed.length + take.length >= max) break;
				const group = row['task_group'];
				if (group === null || group === undefined) {
					take.push(row['seq']);
					continue;
				}
				const window = windows.get(String(group)) as Window;
				if (window.n < this.max) {
					window.n++;
					window.dirty = true;
					take.push(row['seq']);
				} else {
					window.parked = true;
					window.dirty = true;
					park.push(row['seq']);
				}
			}
			if (take.length > 0) {
				claimed.push(
					...(await rowsOf(
						trx,
						`UPDATE ${t.tasks} SET status = 'running', owner = ?, lease_until = ${big}, started_at = ${big}, updated_at = ${big}, attempts = attempts + 1 WHERE seq IN (${marks(take.length)}) AND status = 'waiting' RETURNING *`,
						[owner, at + leaseMs, at, at, ...take],
					)),
				);
			}
			if (park.length > 0) {
				await rowsOf(
					trx,
					`UPDATE ${t.tasks} SET delayed = 2 WHERE seq IN (${marks(park.length)}) AND status = 'waiting' AND delayed = 0`,
					park,
				);
			}
			if (exhausted) break;
		}
		await this.#store(trx, windows, start, reopen, at);
		if (Date.now() - this.#sweptAt >= SWEEP_EVERY_MS) {
			this.#sweptAt = Date.now();
			// A group's row is only its window: one that ended, with nothing parked, counts as an empty window.
			await rowsOf(
				trx,
				`DELETE FROM ${t.groupLimits} WHERE parked_until IS NULL AND window_start < ${big} AND grp <> ''`,
				[start],
			);
		}
		return { rows: claimed, short: !exhausted && scanned >= SCAN_LIMIT && claimed.length < max };
	}

	/** The groups whose window reopened by `clockNow`: up to `max` of their parked tasks back in the claim index. */
	async #unpark(trx: Knex.Transaction, clockNow: number, reopen: number): Promise<void> {
		const t = this.#t;
		const big = this.#big();
		const groups = await rowsOf(
			trx,
			`SELECT grp FROM ${t.groupLimits} WHERE parked_until IS NOT NULL AND parked_until <= ${big} ORDER BY parked_until LIMIT ?`,
			[clockNow, UNPARK_GROUPS],
		);
		for (const { grp } of groups) {
			await rowsOf(
				trx,
				`UPDATE ${t.tasks} SET delayed = 0 WHERE seq IN (SELECT seq FROM ${t.tasks}${this.#indexed('parked')} WHERE task_group = ? AND status = 'waiting' AND delayed = 2 ORDER BY priority DESC, seq LIMIT ?)`,
				[grp, this.max],
			);
			await rowsOf(
				trx,
				`UPDATE ${t.groupLimits} SET parked_until = CASE WHEN EXISTS (SELECT 1 FROM ${t.tasks}${this.#indexed('parked')} WHERE task_group = ? AND status = 'waiting' AND delayed = 2) THEN ${big} ELSE NULL END WHERE grp = ?`,
				[grp, reopen, grp],
			);
		}
	}

	/** The stored windows of the candidates' groups not read yet (a group with no row, or an old window, has 0). */
	async #loadWindows(
		trx: Knex.Transaction,
		candidates: readonly Record<string, unknown>[],
		windows: Map<string, Window>,
		start: number,
	): Promise<void> {
		const missing = new Set<string>();
		for (const row of candidates) {
			const group = row['task_group'];
			if (group !== null && group !== undefined && !windows.has(String(group))) missing.add(String(group));
		}
		if (missing.size === 0) return;
		for (const group of missing) windows.set(group, { n: 0, dirty: false, parked: false });
		const rows = await rowsOf(
			trx,
			`SELECT grp, window_start, n FROM ${this.#t.groupLimits} WHERE grp IN (${marks(missing.size)})`,
			[...missing],
		);
		for (const row of rows) {
			const window = windows.get(String(row['grp']));
			if (window !== undefined && Number(row['window_start']) === start) window.n = Number(row['n']);
		}
	}

	/**
	 * Write back the windows that changed (a group that parked a task gets `parked_until` = its reopening) and the
	 * time this claim judged by (`at`, in the row of the empty group name).
	 */
	async #store(
		trx: Knex.Transaction,
		windows: Map<string, Window>,
		start: number,
		reopen: number,
		at: number,
	): Promise<void> {
		const changed: [string, Window][] = [['', { n: 0, dirty: true, parked: false }]];
		for (const entry of windows) if (entry[1].dirty) changed.push(entry);
		const t = this.#t.groupLimits;
		const big = this.#big();
		const values: unknown[] = [];
		for (const [group, window] of changed) {
			values.push(group, group === '' ? at : start, window.n, window.parked ? reopen : null);
		}
		await rowsOf(
			trx,
			`INSERT INTO ${t} (grp, window_start, n, parked_until) VALUES ${changed.map(() => `(?, ${big}, ?, ${big})`).join(', ')}
			ON CONFLICT (grp) DO UPDATE SET window_start = excluded.window_start, n = excluded.n, parked_until = COALESCE(excluded.parked_until, ${t}.parked_until)`,
			values,
		);
	}

	/** Rows: `at`, the earliest reopening of a group with parked tasks (on the claim clock), or null. */
	nextReopening(): string {
		return `SELECT MIN(parked_until) AS at FROM ${this.#t.groupLimits} WHERE parked_until IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${this.#t.settings} WHERE name = 'paused')`;
	}
}
