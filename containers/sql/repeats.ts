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

/**
 * Store a repeat by compare-and-set (see `TaskContainer.putRepeat`): inserted when none has its key (`expected`
 * null), else replacing the row only while its next tick and update time are still `expected`'s. Returns whether
 * it was stored; a statement retried after a lost reply finds its own write and says false, and the caller reads
 * again.
 */
export async function putRepeat(
	knex: Knex,
	dialect: SqlDialect,
	t: SqlTables,
	repeat: RepeatRecord,
	expected: RepeatRecord | null,
): Promise<boolean> {
	const spec = JSON.stringify(repeat.spec);
	if (expected === null) {
		const values = [repeat.key, spec, repeat.nextRunAt, repeat.createdAt, repeat.updatedAt];
		const sql = `INSERT INTO ${t.repeats} (${COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (repeat_key) DO NOTHING RETURNING repeat_key`;
		return (await rowsOf(knex, sql, values)).length > 0;
	}
	const sameNext = dialect === 'pg' ? 'next_run_at IS NOT DISTINCT FROM ?' : 'next_run_at IS ?';
	const rows = await rowsOf(
		knex,
		`UPDATE ${t.repeats} SET spec = ?, next_run_at = ?, updated_at = ? WHERE repeat_key = ? AND ${sameNext} AND updated_at = ? RETURNING repeat_key`,
		[spec, repeat.nextRunAt, repeat.updatedAt, repeat.key, expected.nextRunAt, expected.updatedAt],
	);
	return rows.length > 0;
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
