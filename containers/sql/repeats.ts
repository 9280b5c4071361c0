/**
 * The SQL container's repeats: one row per repeat in `<prefix>repeats`. A tick is a compare-and-set on
 * `next_run_at` in the same transaction as its task's insert (the container's own add), so each tick adds exactly
 * one task however many processes share the database: on PostgreSQL the losing UPDATE waits for the winner's row
 * lock and then matches nothing; SQLite runs one writer at a time.
 */
import type { Knex } from 'knex';
import type { RepeatRecord } from 'lightsched';
import type { SqlDialect, SqlTables } from './schema.js';
import { rowsOf } from './statements.js';

const COLUMNS = 'repeat_key, spec, next_run_at, created_at, updated_at';

function toRepeat(row: Record<string, unknown>): RepeatRecord {
	const next = row['next_run_at'];
	return {
		key: String(row['repeat_key']),
		spec: JSON.parse(String(row['spec'])) as unknown,
		nextRunAt: next === null || next === undefined ? null : Number(next),
		createdAt: Number(row['created_at']),
		updatedAt: Number(row['updated_at']),
	};
}

/** Store a repeat, replacing the one with the same key. */
export async function putRepeat(knex: Knex, dialect: SqlDialect, t: SqlTables, repeat: RepeatRecord): Promise<void> {
	const values = [repeat.key, JSON.stringify(repeat.spec), repeat.nextRunAt, repeat.createdAt, repeat.updatedAt];
	const update = 'spec = excluded.spec, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at';
	const conflict =
		dialect === 'pg' ? 'ON CONFLICT (repeat_key) DO UPDATE SET' : 'ON CONFLICT(repeat_key) DO UPDATE SET';
	await rowsOf(knex, `INSERT INTO ${t.repeats} (${COLUMNS}) VALUES (?, ?, ?, ?, ?) ${conflict} ${update}`, values);
}

export async function getRepeat(knex: Knex, t: SqlTables, key: string): Promise<RepeatRecord | null> {
	const rows = await rowsOf(knex, `SELECT ${COLUMNS} FROM ${t.repeats} WHERE repeat_key = ?`, [key]);
	return rows[0] === undefined ? null : toRepeat(rows[0]);
}

export async function listRepeats(knex: Knex, t: SqlTables): Promise<RepeatRecord[]> {
	return (await rowsOf(knex, `SELECT ${COLUMNS} FROM ${t.repeats} ORDER BY repeat_key`, [])).map(toRepeat);
}

export async function removeRepeat(knex: Knex, t: SqlTables, key: string): Promise<boolean> {
	const rows = await rowsOf(knex, `DELETE FROM ${t.repeats} WHERE repeat_key = ? RETURNING repeat_key`, [key]);
	return rows.length > 0;
}

/**
 * Inside the caller's transaction: move `key`'s next tick from `expected` to `next`. Returns whether it moved (the
 * caller then adds the tick's task in the same transaction).
 */
export async function moveTick(
	trx: Knex.Transaction,
	t: SqlTables,
	key: string,
	expected: number,
	next: number | null,
): Promise<boolean> {
	const rows = await rowsOf(
		trx,
		`UPDATE ${t.repeats} SET next_run_at = ?, updated_at = ? WHERE repeat_key = ? AND next_run_at = ? RETURNING repeat_key`,
		[next, Date.now(), key, expected],
	);
	return rows.length > 0;
}
