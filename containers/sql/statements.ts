/**
 * The SQL the container runs, built once per container from its dialect and table names, and small helpers
 * for running raw statements. Every statement is plain parameterised SQL (`?` placeholders), no prepared names,
 * no session state (no SET, no session-level advisory lock), so it also works behind a transaction-mode pooler.
 */
import type { Knex } from 'knex';
import { LeaseExpiredError, toTaskError } from 'lightsched/kit';
import { resultRows, type SqlDialect, type SqlTables } from './schema.js';

/** The final statuses and the statuses a lease covers, as SQL lists. */
export const FINAL_SQL = `('succeeded', 'failed', 'stopped')`;
export const ACTIVE_SQL = `('running', 'exporting')`;

/** Rows per multi-row INSERT and ids per IN list: far below SQLite's and PostgreSQL's bind limits. */
export const CHUNK = 500;

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}

/** `?, ?, ?` for `n` values. */
export const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** Run one raw statement and return its rows (bindings are plain values: strings, numbers, booleans, null). */
export async function rowsOf(
	db: Knex | Knex.Transaction,
	sql: string,
	bindings: readonly unknown[] = [],
): Promise<Record<string, unknown>[]> {
	return resultRows(await db.raw(sql, bindings as readonly Knex.RawBinding[]));
}

/**
 * Whether a driver error is a unique index's refusal (a concurrent add of the same id or key): PostgreSQL's 23505;
 * SQLite's constraint error naming UNIQUE (`SQLITE_CONSTRAINT` from sqlite3, the extended `SQLITE_CONSTRAINT_UNIQUE`
 * from better-sqlite3).
 */
export function isUniqueViolation(error: unknown): boolean {
	const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
	return (
		code === '23505' ||
		(typeof code === 'string' &&
			code.startsWith('SQLITE_CONSTRAINT') &&
			typeof message === 'string' &&
			message.includes('UNIQUE'))
	);
}

/** The stored lease-expired error, split around the task id so SQL can build it per row. */
const LEASE_MESSAGE = (() => {
	const marker = '\u0000';
	const { message, code } = toTaskError(new LeaseExpiredError(marker));
	const [before = '', after = ''] = message.split(marker);
	return { before, after, code };
})();

/** Whose clock the statements judge time by: PostgreSQL's own (`server`), or the `now` bound by the caller. */
export type ClockMode = 'server' | 'caller';

/**
 * PostgreSQL's clock in milliseconds since the epoch: the transaction's start (`now()`), the same for every row
 * of a statement, so one claim or reclaim judges all its rows at one instant.
 */
export const PG_NOW_MS = `(FLOOR(EXTRACT(EPOCH FROM now()) * 1000))::bigint`;

/** One statement and its bindings. */
export interface Statement {
	readonly sql: string;
	readonly bindings: unknown[];
}

/**
 * The container's fixed statements. Each takes the caller's `now`, which a statement on the server's clock
 * ignores (it reads PostgreSQL's clock in the same statement: no extra round trip).
 */
export interface TaskStatements {
	/** Whether the statements read the database's clock (PostgreSQL with `clock: 'server'`). */
	readonly serverClock: boolean;
	/** The SQL for "now" in a statement: PostgreSQL's clock, or a `?` bound to the caller's `now`. */
	readonly nowSql: string;
	/**
	 * Mark the delayed waiting tasks that are now due as due (`delayed` = 0), so the claim index holds them: one
	 * probe of the `tasks_delayed` index when nothing is due. Rows: PostgreSQL one, `n` (how many were promoted) and
	 * `next` (the earliest run_at still delayed); SQLite one per promoted task (see `nextDelayed`).
	 */
	promote(now: number): Statement;
	/** SQLite, after `promote`: rows, one, `next` (the earliest run_at still delayed). */
	readonly nextDelayed: string;
	claim(owner: string, leaseMs: number, max: number, now: number): Statement;
	/**
	 * PostgreSQL: the claim, each row also carrying `delayed_next` (the earliest run_at of a delayed task) and
	 * `delayed_due` (whether that one is due now), read in the same statement; when it claims nothing, one row whose
	 * task columns are NULL. So a claim that takes too few learns without a second round trip whether a promotion
	 * could give it more. Null on SQLite.
	 */
	readonly claimNoting: ((owner: string, leaseMs: number, max: number, now: number) => Statement) | null;
	/**
	 * The claim made with a batch of transitions (claim-ahead.ts). PostgreSQL: a part of the transitions' statement,
	 * a `RETURNING *` UPDATE for a data-modifying WITH whose pick leaves out the tasks of the statement's own update,
	 * the CTE `u` (a row may be changed only once per statement). SQLite: the claim itself, run after the
	 * transitions' statement in the same transaction (transitions.ts `runPair`).
	 */
	readonly claimAhead: ((owner: string, leaseMs: number, max: number, now: number) => Statement) | null;
	/**
	 * SQLite, a claim ahead in the transitions' own statement (the `sqlite3` driver, transitions.ts): the tasks the
	 * claim picks as rows shaped like the batch's transitions (the `VALUES` list `w`, whose tasks it leaves out:
	 * a row may be changed only once per statement), `waiting` to `running` with the claim's patch, the
	 * `CLAIM_PATCH_KEYS`. Null on PostgreSQL.
	 */
	readonly claimAheadRows: ((owner: string, leaseMs: number, max: number, now: number) => Statement) | null;
	/**
	 * PostgreSQL: the earliest run_at of a delayed task (`delayed_next`) and whether it is due now (`delayed_due`), one
	 * row, for a claim ahead to read in its statement (`WITH … d AS (…)`) what a promotion would find, as
	 * `claimNoting` does for a claim (see promotion.ts). Null on SQLite.
	 */
	readonly delayedNote: ((now: number) => Statement) | null;
	reclaim(now: number): Statement;
	/** Rows: `at` (the earliest future run_at) and `clock_now` (the clock it was judged by). */
	nextDueAt(now: number): Statement;
	/** Bindings: id. */
	readonly requestStop: string;
	/** Extend leases of `ids` held by `owner`; rows: id, stop_requested. */
	renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Statement;
	/** The ids of every task `owner` holds as running or exporting. */
	held(owner: string): Statement;
}

/** The patch fields a claim sets besides status and `updated_at` (`claimAheadRows` gives a flag and a value each). */
export const CLAIM_PATCH_KEYS = ['attempts', 'startedAt', 'owner', 'leaseUntil'] as const;

/** The most claim sizes whose SQLite statement `literalLimit` keeps (a scheduler claims up to its concurrency). */
const LIMITS_KEPT = 256;

/**
 * SQLite: `sql`, whose only `LIMIT ?` is its last placeholder, with the limit written into the text instead, one text
 * per limit (kept). SQLite lets a bound LIMIT steer the query plan, so it marks the statement to be compiled again
 * whenever that parameter is bound anew, which a prepared statement run with new bindings always is: the claim was
 * parsed and compiled again on every run, the change-log triggers' programs with it (measured: 280 µs of CPU per
 * claim against 110 µs with the limit written in). With the limit in the text a kept prepared statement runs as
 * it is. Bindings then end before the limit.
 */
export function literalLimit(sql: string): (limit: number) => string {
	const at = sql.lastIndexOf('LIMIT ?');
	if (at < 0 || sql.indexOf('?', at + 'LIMIT ?'.length) >= 0)
		throw new TypeError('Expected a statement whose last placeholder is its LIMIT');
	const before = `${sql.slice(0, at)}LIMIT `;
	const after = sql.slice(at + 'LIMIT ?'.length);
	const kept = new Map<number, string>();
	return (limit) => {
		const n = Math.max(0, Math.floor(limit));
		if (!Number.isSafeInteger(n)) throw new RangeError(`Expected a claim size, got ${limit}`);
		let text = kept.get(n);
		if (text === undefined) {
			text = `${before}${n}${after}`;
			if (kept.size < LIMITS_KEPT) kept.set(n, text);
		}
		return text;
	};
}

export function taskStatements(dialect: SqlDialect, tables: SqlTables, clock: ClockMode): TaskStatements {
	const t = tables.tasks;
	const serverClock = dialect === 'pg' && clock === 'server';
	const nowSql = serverClock ? PG_NOW_MS : dialect === 'pg' ? '?::bigint' : '?';
	/** The bindings of `count` uses of "now": none on the server's clock. */
	const nows = (now: number, count: number): number[] =>
		serverClock ? [] : Array.from({ length: count }, () => now);
	/**
	 * SQLite: name the partial index a query must use. Without statistics SQLite's planner prefers the
	 * (status, seq) index and then sorts every waiting row; PostgreSQL's planner picks right by itself.
	 */
	const indexedBy = (index: 'claim' | 'due' | 'lease' | 'delayed'): string =>
		dialect === 'sqlite' ? ` INDEXED BY "${tables.prefix}tasks_${index}"` : '';
	const set = `status = 'running', owner = ?, lease_until = ${nowSql} + ?, started_at = ${nowSql}, updated_at = ${nowSql}, attempts = attempts + 1`;
	// A queue-wide pause (setPaused) holds every claim: one primary-key probe of the settings table.
	const notPaused = `NOT EXISTS (SELECT 1 FROM ${tables.settings} WHERE name = 'paused')`;
	// Only tasks marked due (`delayed` = 0, schema 5) are in the claim index; `run_at <= now` stays, since a task
	// marked due by one clock may not be due yet by this claimer's.
	const pickWhere = `status = 'waiting' AND delayed = 0 AND run_at <= ${nowSql} AND ${notPaused}`;
	const pickOrder = `ORDER BY priority DESC, seq LIMIT ?`;
	const pick = `SELECT seq FROM ${t}${indexedBy('claim')} WHERE ${pickWhere} ${pickOrder}`;
	// Promotion: the delayed tasks now due, through the index of only those. On PostgreSQL rows another claimer is
	// promoting are skipped (its statement promotes them) rather than waited for.
	const dueDelayed = `SELECT seq FROM ${t}${indexedBy('delayed')} WHERE status = 'waiting' AND delayed = 1 AND run_at <= ${nowSql}`;
	const promote =
		dialect === 'pg'
			? `WITH p AS (UPDATE ${t} SET delayed = 0 WHERE seq = ANY(ARRAY(${dueDelayed} FOR UPDATE SKIP LOCKED)) AND status = 'waiting' AND delayed = 1 RETURNING 1)
				SELECT (SELECT COUNT(*) FROM p) AS n, (SELECT MIN(run_at) FROM ${t} WHERE status = 'waiting' AND delayed = 1 AND run_at > ${nowSql}) AS next`
			: `UPDATE ${t} SET delayed = 0 WHERE seq IN (${dueDelayed}) RETURNING seq`;
	const nextDelayed = `SELECT MIN(run_at) AS next FROM ${t}${indexedBy('delayed')} WHERE status = 'waiting' AND delayed = 1`;
	const claim =
		dialect === 'pg'
			? `UPDATE ${t} SET ${set} WHERE seq = ANY(ARRAY(${pick} FOR UPDATE SKIP LOCKED)) AND status = 'waiting' RETURNING *`
			: `UPDATE ${t} SET ${set} WHERE seq IN (${pick}) RETURNING *`;
	const sqliteClaim = dialect === 'sqlite' ? literalLimit(claim) : null;
	const claimAhead = `UPDATE ${t} SET ${set} WHERE seq = ANY(ARRAY(SELECT seq FROM ${t} WHERE ${pickWhere} AND id NOT IN (SELECT id FROM u) ${pickOrder} FOR UPDATE SKIP LOCKED)) AND status = 'waiting' RETURNING *`;
	// The claim's `set` as a transition's patch, for each task the pick takes (`CLAIM_PATCH_KEYS`).
	const sqliteAheadRows =
		dialect === 'sqlite'
			? literalLimit(`SELECT id AS c_id, 'waiting' AS c_from, 'running' AS c_to, NULL AS c_owner, ? AS c_updated,
				1 AS f_attempts, attempts + 1 AS p_attempts, 1 AS f_startedAt, ? AS p_startedAt,
				1 AS f_owner, ? AS p_owner, 1 AS f_leaseUntil, ? + ? AS p_leaseUntil
				FROM ${t}${indexedBy('claim')} WHERE ${pickWhere} AND id NOT IN (SELECT c_id FROM w) ${pickOrder}`)
			: null;
	const delayedNote = `SELECT m.next AS delayed_next, m.next <= ${nowSql} AS delayed_due
		FROM (SELECT MIN(run_at) AS next FROM ${t} WHERE status = 'waiting' AND delayed = 1) m`;
	const claimNoting = `WITH c AS (${claim}), d AS (${delayedNote})
		SELECT c.*, d.delayed_next, d.delayed_due FROM d LEFT JOIN c ON TRUE`;
	const errorJson =
		dialect === 'pg'
			? `json_build_object('message', ?::text || id || ?::text, 'code', ?::text)::text`
			: `json_object('message', ? || id || ?, 'code', ?)`;
	const retry = `NOT stop_requested AND attempts < max_attempts`;
	// PostgreSQL: a reclaim and a renewal pass over rows another statement holds (SKIP LOCKED) instead of waiting for
	// them. Locking several rows in their plan's order while the owner's batch of transitions locks them in its own
	// order could deadlock (SQLSTATE 40P01 after a one-second stall). A held row is being moved by its owner: the
	// next reclaim looks at it again, and a renewal counts it as held (`renewSql`).
	const expired = `status IN ${ACTIVE_SQL} AND lease_until < ${nowSql}`;
	const expiredWhere =
		dialect === 'pg' ? `seq = ANY(ARRAY(SELECT seq FROM ${t} WHERE ${expired} FOR UPDATE SKIP LOCKED))` : expired;
	const reclaim = `UPDATE ${t}${indexedBy('lease')} SET
		status = CASE WHEN stop_requested THEN 'stopped' WHEN attempts < max_attempts THEN 'waiting' ELSE 'failed' END,
		run_at = CASE WHEN ${retry} THEN ${nowSql} ELSE run_at END,
		finished_at = CASE WHEN ${retry} THEN finished_at ELSE ${nowSql} END,
		error = CASE WHEN NOT stop_requested AND attempts >= max_attempts THEN ${errorJson} ELSE error END,
		owner = NULL, lease_until = NULL, updated_at = ${nowSql}, delayed = 0
		WHERE ${expiredWhere}
		RETURNING *`;
	// The earliest waiting task due after now, and the earliest delayed one (due or not): a delayed task that came due
	// since the last promotion is in neither the claim index nor the first set, and a claim must be made to promote it
	// (a claim then takes it). Each MIN is one seek of its partial index.
	const nextDueAt = `SELECT (SELECT MIN(run_at) FROM ${t}${indexedBy('due')} WHERE status = 'waiting' AND run_at > ${nowSql} AND ${notPaused}) AS at,
		(SELECT MIN(run_at) FROM ${t}${indexedBy('delayed')} WHERE status = 'waiting' AND delayed = 1 AND ${notPaused}) AS delayed_at,
		${nowSql} AS clock_now`;
	const heldWhere = (n: number): string => `owner = ? AND status IN ${ACTIVE_SQL} AND id IN (${marks(n)})`;
	// PostgreSQL: the rows it can lock at once are renewed; the rest of those the owner holds are read, unlocked, from
	// the statement's snapshot, so a row held by another statement (the owner's own transitions) is neither waited for
	// nor reported lost. Its lease is extended by the next renewal.
	const renewSql = (n: number): string =>
		dialect === 'pg'
			? `WITH u AS (UPDATE ${t} SET lease_until = ${nowSql} + ? WHERE id = ANY(ARRAY(SELECT id FROM ${t} WHERE ${heldWhere(n)} FOR UPDATE SKIP LOCKED)) RETURNING id, stop_requested)
		SELECT id, stop_requested FROM u UNION ALL SELECT id, stop_requested FROM ${t} WHERE ${heldWhere(n)} AND id NOT IN (SELECT id FROM u)`
			: `UPDATE ${t} SET lease_until = ${nowSql} + ? WHERE ${heldWhere(n)} RETURNING id, stop_requested`;
	return {
		serverClock,
		nowSql,
		promote: (now) => ({ sql: promote, bindings: nows(now, dialect === 'pg' ? 2 : 1) }),
		nextDelayed,
		claim: (owner, leaseMs, max, now) =>
			sqliteClaim === null
				? { sql: claim, bindings: [owner, ...nows(now, 1), leaseMs, ...nows(now, 3), max] }
				: { sql: sqliteClaim(max), bindings: [owner, ...nows(now, 1), leaseMs, ...nows(now, 3)] },
		claimNoting:
			dialect === 'pg'
				? (owner, leaseMs, max, now) => ({
						sql: claimNoting,
						bindings: [owner, ...nows(now, 1), leaseMs, ...nows(now, 3), max, ...nows(now, 1)],
					})
				: null,
		claimAhead:
			sqliteClaim === null
				? (owner, leaseMs, max, now) => ({
						sql: claimAhead,
						bindings: [owner, ...nows(now, 1), leaseMs, ...nows(now, 3), max],
					})
				: (owner, leaseMs, max, now) => ({
						sql: sqliteClaim(max),
						bindings: [owner, ...nows(now, 1), leaseMs, ...nows(now, 3)],
					}),
		claimAheadRows:
			sqliteAheadRows === null
				? null
				: (owner, leaseMs, max, now) => ({
						sql: sqliteAheadRows(max),
						bindings: [now, now, owner, now, leaseMs, now],
					}),
		delayedNote: dialect === 'pg' ? (now) => ({ sql: delayedNote, bindings: nows(now, 1) }) : null,
		reclaim: (now) => ({
			sql: reclaim,
			bindings: [...nows(now, 2), LEASE_MESSAGE.before, LEASE_MESSAGE.after, LEASE_MESSAGE.code, ...nows(now, 2)],
		}),
		nextDueAt: (now) => ({ sql: nextDueAt, bindings: nows(now, 2) }),
		requestStop: `UPDATE ${t} SET stop_requested = ${dialect === 'pg' ? 'TRUE' : '1'} WHERE id = ? AND status IN ${ACTIVE_SQL} RETURNING *`,
		renew: (owner, ids, leaseMs, now) => ({
			sql: renewSql(ids.length),
			bindings:
				dialect === 'pg'
					? [...nows(now, 1), leaseMs, owner, ...ids, owner, ...ids]
					: [...nows(now, 1), leaseMs, owner, ...ids],
		}),
		held: (owner) => ({
			sql: `SELECT id FROM ${t} WHERE owner = ? AND status IN ${ACTIVE_SQL}`,
			bindings: [owner],
		}),
	};
}
