/**
 * The SQL container's optional operations as statements: the queue-wide pause flag (a row of the settings table,
 * which every claim probes, see statements.ts) and bulk clean of finished tasks by the rule of `cleanSelects`
 * (src/clean-rule.ts); counting tasks by status and removing a finished one.
 */
import type { Knex } from 'knex';
import { emptyCounts, InvalidStateError, type CleanQuery, type TaskCounts } from 'lightsched/kit';
import { dropLogs } from './logs.js';
import { resultRows, RETAINED_SQL, type SqlDialect, type SqlTables } from './schema.js';
import { WAKE_PAYLOAD } from './notify.js';
import { FINAL_SQL, marks, type Statement } from './statements.js';

/** Runs one statement on the container's connection; rows come back as plain objects. */
type Query = (sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/** Set or clear the pause row (idempotent); `RETURNING` tells whether a resume cleared a set flag. */
export function setPausedStatement(dialect: SqlDialect, tables: SqlTables, paused: boolean): Statement {
	if (!paused) return { sql: `DELETE FROM ${tables.settings} WHERE name = 'paused' RETURNING name`, bindings: [] };
	const insert = `INSERT INTO ${tables.settings} (name, value) VALUES ('paused', '1')`;
	return {
		sql: dialect === 'pg' ? `${insert} ON CONFLICT (name) DO NOTHING` : `${insert} ON CONFLICT(name) DO NOTHING`,
		bindings: [],
	};
}

/** Set or clear the pause flag; a resume that cleared it wakes the schedulers that listen (the others poll). */
export async function setPaused(
	query: Query,
	dialect: SqlDialect,
	tables: SqlTables,
	paused: boolean,
	notify: boolean,
): Promise<void> {
	const { sql, bindings } = setPausedStatement(dialect, tables, paused);
	const cleared = await query(sql, bindings);
	if (!paused && cleared.length > 0 && notify) await query('SELECT pg_notify(?, ?)', [tables.channel, WAKE_PAYLOAD]);
}

/** Rows: one when paused. */
export function isPausedStatement(tables: SqlTables): Statement {
	return { sql: `SELECT 1 AS paused FROM ${tables.settings} WHERE name = 'paused'`, bindings: [] };
}

/**
 * Delete up to `limit` tasks of the status, oldest by arrival first, that are beyond the newest `keep` of the
 * status or finished before `finishedBefore` (every one when neither is given); with `exceptOwnRule`, tasks with
 * their own rule for the status (`retain_<status>` set) are neither selected nor counted. With `expiredBy`, only
 * tasks whose own rule has lapsed (`finished_at + retain_<status> <= expiredBy`, through `tasks_retained`),
 * optionally among `ids`. Rows: the ids deleted. One statement, so a task re-added meanwhile under the same id (a
 * new row) is not deleted; on PostgreSQL rows another cleaner holds are skipped rather than waited for.
 */
export function cleanStatement(dialect: SqlDialect, tables: SqlTables, query: CleanQuery): Statement {
	const t = tables.tasks;
	// The status is one of three names (checked by assertCleanQuery), so its column name is safe to write out.
	const own = `retain_${query.status}`;
	const rules: string[] = [];
	const bindings: unknown[] = [query.status];
	let scope = '';
	if (query.expiredBy !== undefined) {
		scope = ` AND ${own} IS NOT NULL AND ${RETAINED_SQL} AND finished_at + ${own} <= ?`;
		bindings.push(Math.floor(query.expiredBy));
		if (query.ids !== undefined) {
			scope += ` AND id IN (${marks(query.ids.length)})`;
			bindings.push(...query.ids);
		}
	} else if (query.exceptOwnRule === true) scope = ` AND ${own} IS NULL`;
	if (query.keep !== undefined) {
		if (query.keep === 0) rules.push('TRUE');
		else {
			// Older than the keep-th newest of the status (none when there are fewer: the comparison is NULL).
			rules.push(`seq < (SELECT seq FROM ${t} WHERE status = ?${scope} ORDER BY seq DESC LIMIT 1 OFFSET ?)`);
			bindings.push(query.status, query.keep - 1);
		}
	}
	if (query.finishedBefore !== undefined) {
		rules.push('finished_at < ?');
		bindings.push(Math.floor(query.finishedBefore));
	}
	const rule = rules.length === 0 ? '' : ` AND (${rules.join(' OR ')})`;
	const lock = dialect === 'pg' ? ' FOR UPDATE SKIP LOCKED' : '';
	const pick = `SELECT seq FROM ${t} WHERE status = ?${scope}${rule} ORDER BY seq LIMIT ?${lock}`;
	bindings.push(query.limit);
	const where = dialect === 'pg' ? `seq = ANY(ARRAY(${pick}))` : `seq IN (${pick})`;
	return { sql: `DELETE FROM ${t} WHERE ${where} RETURNING id, seq`, bindings };
}

/** The stored counts by status. */
export async function countTasks(knex: Knex, tables: SqlTables): Promise<TaskCounts> {
	const rows = resultRows(await knex.raw(`SELECT status, COUNT(*) AS n FROM ${tables.tasks} GROUP BY status`));
	const counts = emptyCounts();
	for (const row of rows) {
		const status = row['status'] as keyof TaskCounts;
		if (status in counts) counts[status] = Number(row['n']);
	}
	return counts;
}

/**
 * Delete finished task `id` and its log; `false` when there is no such task; an `InvalidStateError` when it has not
 * finished.
 */
export async function removeTask(knex: Knex, tables: SqlTables, id: string): Promise<boolean> {
	const t = tables.tasks;
	const deleted = resultRows(
		await knex.raw(`DELETE FROM ${t} WHERE id = ? AND status IN ${FINAL_SQL} RETURNING seq`, [id]),
	);
	if (deleted.length > 0) {
		await dropLogs(
			knex,
			tables,
			deleted.map((row) => Number(row['seq'])),
		);
		return true;
	}
	const rows = resultRows(await knex.raw(`SELECT status FROM ${t} WHERE id = ?`, [id]));
	const status = rows[0]?.['status'];
	if (status === undefined) return false;
	throw new InvalidStateError(`Task \`${id}\` is ${String(status)}: stop it before removing it`);
}

/** `clean`: delete what `cleanStatement` selects and the logs of the deleted; their ids in arrival order. */
export async function cleanTasks(
	query: Query,
	knex: Knex,
	dialect: SqlDialect,
	tables: SqlTables,
	clean: CleanQuery,
): Promise<string[]> {
	const { sql, bindings } = cleanStatement(dialect, tables, clean);
	const deleted = await query(sql, bindings);
	await dropLogs(
		knex,
		tables,
		deleted.map((row) => Number(row['seq'])),
	);
	return deleted.sort((a, b) => Number(a['seq']) - Number(b['seq'])).map((row) => String(row['id']));
}
