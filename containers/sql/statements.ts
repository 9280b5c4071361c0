/**
 * The SQL the container runs, built once per container from its dialect and table names, and small helpers
 * for running raw statements. Every statement is plain parameterised SQL (`?` placeholders), no prepared names,
 * so it also works behind a transaction-mode connection pooler.
 */
import type { Knex } from 'knex';
import { LeaseExpiredError, toTaskError } from 'lightsched';
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

/** Whether a driver error is a unique-key violation (a concurrent add of the same id). */
export function isUniqueViolation(error: unknown): boolean {
	const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
	return code === '23505' || (code === 'SQLITE_CONSTRAINT' && typeof message === 'string' && message.includes('UNIQUE'));
}

/** The stored lease-expired error, split around the task id so SQL can build it per row. */
const LEASE_MESSAGE = (() => {
	const marker = '\u0000';
	const { message, code } = toTaskError(new LeaseExpiredError(marker));
	const [before = '', after = ''] = message.split(marker);
	return { before, after, code };
})();

/** The container's fixed statements. */
export interface TaskStatements {
	/** Bindings: owner, leaseUntil, startedAt, updatedAt, runAt limit (now), max. */
	readonly claim: string;
	/** Bindings: see `reclaimBindings`. */
	readonly reclaim: string;
	/** Bindings: now. */
	readonly nextDueAt: string;
	/** Bindings: id. */
	readonly requestStop: string;
}

export function taskStatements(dialect: SqlDialect, tables: SqlTables): TaskStatements {
	const t = tables.tasks;
	/**
	 * SQLite: name the partial index a query must use. Without statistics SQLite's planner prefers the
	 * (status, seq) index and then sorts every waiting row; PostgreSQL's planner picks right by itself.
	 */
	const indexedBy = (index: 'claim' | 'due' | 'lease'): string =>
		dialect === 'sqlite' ? ` INDEXED BY "${tables.prefix}tasks_${index}"` : '';
	const set = `status = 'running', owner = ?, lease_until = ?, started_at = ?, updated_at = ?, attempts = attempts + 1`;
	const pick = `SELECT seq FROM ${t}${indexedBy('claim')} WHERE status = 'waiting' AND run_at <= ? ORDER BY priority DESC, seq LIMIT ?`;
	const claim =
		dialect === 'pg'
			? `UPDATE ${t} SET ${set} WHERE seq = ANY(ARRAY(${pick} FOR UPDATE SKIP LOCKED)) AND status = 'waiting' RETURNING *`
			: `UPDATE ${t} SET ${set} WHERE seq IN (${pick}) RETURNING *`;
	const errorJson =
		dialect === 'pg'
			? `json_build_object('message', ?::text || id || ?::text, 'code', ?::text)::text`
			: `json_object('message', ? || id || ?, 'code', ?)`;
	const retry = `NOT stop_requested AND attempts < max_attempts`;
	const reclaim = `UPDATE ${t}${indexedBy('lease')} SET
		status = CASE WHEN stop_requested THEN 'stopped' WHEN attempts < max_attempts THEN 'waiting' ELSE 'failed' END,
		run_at = CASE WHEN ${retry} THEN ? ELSE run_at END,
		finished_at = CASE WHEN ${retry} THEN finished_at ELSE ? END,
		error = CASE WHEN NOT stop_requested AND attempts >= max_attempts THEN ${errorJson} ELSE error END,
		owner = NULL, lease_until = NULL, updated_at = ?
		WHERE status IN ${ACTIVE_SQL} AND lease_until < ?
		RETURNING *`;
	return {
		claim,
		reclaim,
		nextDueAt: `SELECT MIN(run_at) AS at FROM ${t}${indexedBy('due')} WHERE status = 'waiting' AND run_at > ?`,
		requestStop: `UPDATE ${t} SET stop_requested = ${dialect === 'pg' ? 'TRUE' : '1'} WHERE id = ? AND status IN ${ACTIVE_SQL} RETURNING *`,
	};
}

/** The bindings of `reclaim` at time `now`. */
export function reclaimBindings(now: number): unknown[] {
	return [now, now, LEASE_MESSAGE.before, LEASE_MESSAGE.after, LEASE_MESSAGE.code, now, now];
}
