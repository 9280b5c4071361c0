/**
 * The SQL container's claim limits: `globalConcurrency` (at most N tasks running or exporting across every process)
 * and `rateLimit` (at most `max` claims in each `intervalMs` window across every process). Without either the
 * claim stays one statement; with one, the claim is a short transaction that serialises claimers first:
 *
 * 1. an upsert of the `claim_limits` row of the settings table: it takes that row's lock on PostgreSQL (the next
 *    claimer waits for our commit) and the write lock on SQLite (writers are serialised anyway), and returns the
 *    rate window's count and the statement's clock;
 * 2. with `globalConcurrency`, a count of the running and exporting tasks: a new statement, so on PostgreSQL's READ
 *    COMMITTED it sees every claim committed before we got the lock (a claim in the same statement as the lock
 *    would judge by a snapshot taken before the wait, and two claimers could both see the last free slot);
 * 3. the ordinary promotion of delayed tasks now due and claim statement, with its limit cut to what is left;
 * 4. with `rateLimit`, the window's new count written back to the row (only when something was claimed).
 *
 * Windows are fixed and aligned to the epoch on the statement clock (the database's on PostgreSQL with
 * `clock: 'server'`): `[k·intervalMs, (k+1)·intervalMs)`. A claim past the limit takes fewer tasks or none; they
 * stay waiting. The container remembers when that window ends (on this process's clock, late rather than early by
 * the claim's round trip) and `nextDueAt` answers it, so the scheduler sleeps until the window reopens (a window
 * that already reopened answers at once; a claim not cut by the limit forgets it, so nothing spins).
 *
 * A claim cut short by `globalConcurrency` leaves a `starved` row; on PostgreSQL with the wake-up channel the
 * container deletes it and notifies when a task leaves running (see `SqlContainer.transition`), so held-back
 * schedulers claim again at once. SQLite schedulers poll at `pollIntervalMs`.
 */
import type { Knex } from 'knex';
import type { ResolvedClaimLimits } from './options.js';
import type { SqlDialect, SqlTables } from './schema.js';
import { ACTIVE_SQL, rowsOf, type TaskStatements } from './statements.js';
import { SqlGroupLimit } from './group-limit.js';

/** The settings row the limits lock and count in. */
const LIMITS_ROW = 'claim_limits';
/** The settings row a claim cut short by `globalConcurrency` leaves (a slot freeing wakes claimers). */
export const STARVED_ROW = 'starved';

/** A window's start and how many claims it has had, as stored in the limits row (`<start>:<count>`). */
function parseWindow(value: unknown): { start: number; count: number } {
	const [start = '0', count = '0'] = String(value ?? '').split(':');
	return { start: Number(start) || 0, count: Number(count) || 0 };
}

export interface LimitedClaim {
	readonly rows: Record<string, unknown>[];
	/** Whether `globalConcurrency` cut the claim short. */
	readonly starved: boolean;
	/**
	 * When the rate limit cut the claim short: how long until its window reopens, in ms (0 when the group limit's
	 * scan bound stopped it: claim again at once); else null.
	 */
	readonly reopensInMs: number | null;
}

export class SqlClaimLimits {
	readonly limits: ResolvedClaimLimits;
	readonly #tables: SqlTables;
	readonly #sql: TaskStatements;
	readonly #dialect: SqlDialect;
	/** `groupRateLimit` (group-limit.ts), or null. */
	readonly group: SqlGroupLimit | null;

	constructor(dialect: SqlDialect, tables: SqlTables, statements: TaskStatements, limits: ResolvedClaimLimits) {
		this.#dialect = dialect;
		this.#tables = tables;
		this.#sql = statements;
		this.limits = limits;
		this.group = limits.groupRateLimit === null ? null : new SqlGroupLimit(dialect, tables, limits.groupRateLimit);
	}

	/** Whether any limit is set (otherwise the container claims with its one statement). */
	get active(): boolean {
		return this.limits.globalConcurrency > 0 || this.limits.rateLimit !== null || this.group !== null;
	}

	/** The statement clock's bindings for one use of "now". */
	#nows(now: number): number[] {
		return this.#sql.serverClock ? [] : [now];
	}

	/** Claim up to `max` tasks within the limits, in one transaction (see above). */
	async claim(knex: Knex, owner: string, leaseMs: number, max: number, now: number): Promise<LimitedClaim> {
		const { globalConcurrency, rateLimit } = this.limits;
		const settings = this.#tables.settings;
		return knex.transaction(async (trx) => {
			const [lock] = await rowsOf(
				trx,
				`INSERT INTO ${settings} (name, value) VALUES (?, '0:0') ON CONFLICT (name) DO UPDATE SET value = ${settings}.value RETURNING value, ${this.#sql.nowSql} AS clock_now`,
				[LIMITS_ROW, ...this.#nows(now)],
			);
			const clockNow = Number(lock?.['clock_now'] ?? now);
			let allowed = max;
			let starved = false;
			if (globalConcurrency > 0) {
				const [active] = await rowsOf(
					trx,
					`SELECT COUNT(*) AS n FROM ${this.#tables.tasks}${this.#dialect === 'sqlite' ? ` INDEXED BY "${this.#tables.prefix}tasks_lease"` : ''} WHERE status IN ${ACTIVE_SQL}`,
				);
				const free = globalConcurrency - Number(active?.['n'] ?? 0);
				if (free < allowed) {
					starved = true;
					allowed = Math.max(0, free);
				}
			}
			let window = { start: 0, count: 0 };
			let reopensInMs: number | null = null;
			if (rateLimit !== null) {
				const start = Math.floor(clockNow / rateLimit.intervalMs) * rateLimit.intervalMs;
				const stored = parseWindow(lock?.['value']);
				window = { start, count: stored.start === start ? stored.count : 0 };
				const left = Math.max(0, rateLimit.max - window.count);
				if (stored.start > start) {
					// A claim before ours (in lock order) already counted in a later window: our clock was read before we
					// waited for the lock, or runs behind. Counting in our window would count in one that is over as if it
					// were empty; take nothing, and claim again when our clock reaches that window.
					allowed = 0;
					reopensInMs = stored.start - clockNow;
				} else if (left < allowed) {
					allowed = left;
					reopensInMs = start + rateLimit.intervalMs - clockNow;
				}
			}
			let rows: Record<string, unknown>[] = [];
			// Promoted even when the limits allow nothing now: a due task left delayed would make nextDueAt answer
			// "claim at once" (it reports delayed tasks that came due) while the limits still hold, a spin.
			const promote = this.#sql.promote(now);
			await rowsOf(trx, promote.sql, promote.bindings);
			if (allowed > 0) {
				if (this.group === null) {
					const { sql, bindings } = this.#sql.claim(owner, leaseMs, allowed, now);
					rows = await rowsOf(trx, sql, bindings);
				} else {
					const grouped = await this.group.claim(trx, owner, leaseMs, allowed, clockNow);
					rows = grouped.rows;
					// Stopped at the scan bound with room left: claim again at once.
					if (grouped.short) reopensInMs = 0;
				}
				if (rateLimit !== null && rows.length > 0) {
					await rowsOf(trx, `UPDATE ${settings} SET value = ? WHERE name = ?`, [
						`${window.start}:${window.count + rows.length}`,
						LIMITS_ROW,
					]);
				}
			}
			if (starved) {
				await rowsOf(
					trx,
					`INSERT INTO ${settings} (name, value) VALUES (?, '1') ON CONFLICT (name) DO NOTHING`,
					[STARVED_ROW],
				);
			}
			return { rows, starved, reopensInMs };
		});
	}

	/** The statement that wakes claimers a cut claim left waiting (PostgreSQL with the wake-up channel). */
	wakeStarved(channel: string, payload: string): { sql: string; bindings: unknown[] } {
		return {
			sql: `WITH d AS (DELETE FROM ${this.#tables.settings} WHERE name = ? RETURNING name) SELECT pg_notify(?, ?) FROM d`,
			bindings: [STARVED_ROW, channel, payload],
		};
	}
}
