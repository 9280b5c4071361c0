/**
 * The SQL container's optional operations as statements: the queue-wide pause flag (a row of the settings table,
 * which every claim probes, see statements.ts) and bulk clean of finished tasks by the rule of `cleanSelects`
 * (src/clean-rule.ts).
 */
import type { CleanQuery } from 'lightsched';
import type { SqlDialect, SqlTables } from './schema.js';
import type { Statement } from './statements.js';

/** Set or clear the pause row (idempotent); `RETURNING` tells whether a resume cleared a set flag. */
export function setPausedStatement(dialect: SqlDialect, tables: SqlTables, paused: boolean): Statement {
	if (!paused) return { sql: `DELETE FROM ${tables.settings} WHERE name = 'paused' RETURNING name`, bindings: [] };
	const insert = `INSERT INTO ${tables.settings} (name, value) VALUES ('paused', '1')`;
	return {
		sql: dialect === 'pg' ? `${insert} ON CONFLICT (name) DO NOTHING` : `${insert} ON CONFLICT(name) DO NOTHING`,
		bindings: [],
	};
}

/** Rows: one when paused. */
export function isPausedStatement(tables: SqlTables): Statement {
	return { sql: `SELECT 1 AS paused FROM ${tables.settings} WHERE name = 'paused'`, bindings: [] };
}

/**
 * Delete up to `limit` tasks of the status, oldest by arrival first, that are beyond the newest `keep` of the
 * status or finished before `finishedBefore` (every one when neither is given). Rows: the ids deleted. One
 * statement, so a task re-added meanwhile under the same id (a new row) is not deleted; on PostgreSQL rows another
 * cleaner holds are skipped rather than waited for.
 */
export function cleanStatement(dialect: SqlDialect, tables: SqlTables, query: CleanQuery): Statement {
	const t = tables.tasks;
	const rules: string[] = [];
	const bindings: unknown[] = [query.status];
	if (query.keep !== undefined) {
		if (query.keep === 0) rules.push('TRUE');
		else {
			// Older than the keep-th newest of the status (none when there are fewer: the comparison is NULL).
			rules.push(`seq < (SELECT seq FROM ${t} WHERE status = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`);
			bindings.push(query.status, query.keep - 1);
		}
	}
	if (query.finishedBefore !== undefined) {
		rules.push('finished_at < ?');
		bindings.push(Math.floor(query.finishedBefore));
	}
	const rule = rules.length === 0 ? '' : ` AND (${rules.join(' OR ')})`;
	const lock = dialect === 'pg' ? ' FOR UPDATE SKIP LOCKED' : '';
	const pick = `SELECT seq FROM ${t} WHERE status = ?${rule} ORDER BY seq LIMIT ?${lock}`;
	bindings.push(query.limit);
	const where = dialect === 'pg' ? `seq = ANY(ARRAY(${pick}))` : `seq IN (${pick})`;
	return { sql: `DELETE FROM ${t} WHERE ${where} RETURNING id, seq`, bindings };
}
