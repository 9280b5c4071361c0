/**
 * A run row's columns and the compare-and-set UPDATE of a batch of run writes (run-writes.ts sends it, alone, inside
 * a release's transaction or as the first part of PostgreSQL's release statement; run-creates.ts shares the columns
 * and PostgreSQL's column arguments).
 */
import type { SqlPart } from './insert.js';
import { arrayLiteral } from './pg-array.js';
import { INDEXED_COLUMNS } from './run-index-values.js';
import type { SqlDialect } from './schema.js';

/** The columns of a run row a create sets besides `id` and `created_at`, in this order (an update: `UPDATE_COLUMNS`). */
export const RUN_WRITE_COLUMNS = [
	'definition',
	'version',
	'run_key',
	'active_key',
	'status',
	'open',
	'updated_at',
	'rev',
	'body',
] as const;

/**
 * The columns an update sets: not a run's definition, version and key, which its create wrote and which never change
 * (each named in a SET would have SQLite rewrite its index entry, changed or not).
 */
const UPDATE_COLUMNS = ['active_key', 'status', 'open', 'updated_at', 'rev', 'body'] as const;

/** SQLite: the columns an update that leaves the indexed ones alone sets (run-index-values.ts). */
const UNINDEXED_COLUMNS = UPDATE_COLUMNS.filter((column) => !(INDEXED_COLUMNS as readonly string[]).includes(column));

/** A run row's new values, by column. */
export type RunWriteValues = Record<(typeof RUN_WRITE_COLUMNS)[number], unknown>;

/** Each written column's PostgreSQL type (the batches' arrays). */
export const PG_TYPES: Record<(typeof RUN_WRITE_COLUMNS)[number], string> = {
	definition: 'text',
	version: 'integer',
	run_key: 'text',
	active_key: 'text',
	status: 'text',
	open: 'boolean',
	updated_at: 'bigint',
	rev: 'integer',
	body: 'text',
};

/**
 * A separator no run body holds: bodies are `JSON.stringify` output, which writes every control character inside a
 * string as an escape (`\u0001`) and none outside one.
 */
const BODY_SEPARATOR = '\u0001';

/**
 * PostgreSQL: one column of a batch as an argument of its `unnest(…)`, its SQL and its binding. A column of values
 * goes as an array (`?::type[]`); the `body` column as ONE text, the bodies joined by `BODY_SEPARATOR` and split by
 * the server (`string_to_array`), where an array made the driver escape every quote of every body into an array
 * literal (two replacements, a concatenation and its copy per body; the server then parsed the escapes back).
 */
export function pgColumnArgument(column: string, type: string, values: unknown[]): [sql: string, binding: unknown] {
	if (column === 'body') return ['string_to_array(?::text, chr(1))', values.join(BODY_SEPARATOR)];
	return [`?::${type}[]`, arrayLiteral(values)];
}

/**
 * One run write of a batch: the run, the `rev` and `createdAt` its compare-and-set expects (a run removed and created
 * again under its id restarts its revs: its creation time tells it from the old one), its new values.
 */
export interface RunUpdate {
	readonly id: string;
	readonly rev: number;
	readonly createdAt: number;
	readonly values: RunWriteValues;
}

/**
 * The compare-and-set UPDATE of `batch`, `RETURNING` the ids written: for one write a plain `UPDATE … WHERE id
 * = ? AND rev = ? AND created_at = ?` (`with` null); for several, `UPDATE … FROM v` where `with` is the part of the
 * WITH that must come first: `v (…) AS (SELECT * FROM unnest(…))` on PostgreSQL, `v (…) AS (VALUES …)` on SQLite.
 * `unindexed` (SQLite): the indexed columns compared in the WHERE instead of set (run-index-values.ts).
 */
export function runUpdateParts(
	dialect: SqlDialect,
	table: string,
	batch: readonly RunUpdate[],
	unindexed = false,
): { with: string | null; sql: string; bindings: unknown[] } {
	const setting = unindexed ? UNINDEXED_COLUMNS : UPDATE_COLUMNS;
	if (batch.length === 1) {
		const p = batch[0] as RunUpdate;
		const sets = setting.map((column) => `${column} = ?`).join(', ');
		const same = unindexed ? ' AND active_key IS ? AND status = ? AND open = ?' : '';
		return {
			with: null,
			sql: `UPDATE ${table} SET ${sets} WHERE id = ? AND rev = ? AND created_at = ?${same} RETURNING id`,
			bindings: [
				...setting.map((column) => p.values[column]),
				p.id,
				p.rev,
				p.createdAt,
				...(unindexed ? INDEXED_COLUMNS.map((column) => p.values[column]) : []),
			],
		};
	}
	const pg = dialect === 'pg';
	const sets = setting.map((column) => `${column} = v.n_${column}`).join(', ');
	const same = unindexed ? ' AND t.active_key IS v.n_active_key AND t.status = v.n_status AND t.open = v.n_open' : '';
	const sql = `UPDATE ${table} AS t SET ${sets} FROM v WHERE t.id = v.c_id AND t.rev = v.c_rev AND t.created_at = v.c_created${same} RETURNING ${pg ? 't.id' : 'id'}`;
	// `c_` columns are the comparison, `n_` the new values.
	const columns = ['c_id', 'c_rev', 'c_created', ...UPDATE_COLUMNS.map((column) => `n_${column}`)];
	if (pg) {
		// One argument per column: the same text for every batch size, so one statement function carries them all.
		const args: [string, unknown][] = [
			['?::text[]', batch.map((p) => p.id)],
			['?::integer[]', batch.map((p) => p.rev)],
			['?::bigint[]', batch.map((p) => p.createdAt)],
			...UPDATE_COLUMNS.map((column) =>
				pgColumnArgument(
					column,
					PG_TYPES[column],
					batch.map((p) => p.values[column]),
				),
			),
		];
		return {
			with: `v (${columns.join(', ')}) AS (SELECT * FROM unnest(${args.map(([arg]) => arg).join(', ')}))`,
			sql,
			bindings: args.map(([, binding]) => binding),
		};
	}
	const row = `(${columns.map(() => '?').join(', ')})`;
	const bindings: unknown[] = [];
	for (const p of batch) {
		bindings.push(p.id, p.rev, p.createdAt);
		for (const column of UPDATE_COLUMNS) bindings.push(p.values[column]);
	}
	return { with: `v (${columns.join(', ')}) AS (VALUES ${batch.map(() => row).join(', ')})`, sql, bindings };
}

/** `runUpdateParts` as one statement. */
export function runUpdate(dialect: SqlDialect, table: string, batch: readonly RunUpdate[], unindexed = false): SqlPart {
	const update = runUpdateParts(dialect, table, batch, unindexed);
	return { sql: update.with === null ? update.sql : `WITH ${update.with} ${update.sql}`, bindings: update.bindings };
}
