/**
 * A migration's "add this column unless it is there", so a migration runs again over its own result: PostgreSQL
 * says `ADD COLUMN IF NOT EXISTS`; SQLite has no such clause, so its table's columns are looked up first.
 */
import type { Knex } from 'knex';
import type { SqlDialect } from './dialect.js';

/**
 * Add `column` of `type` to `table` (the quoted name used in statements; `rawName` the unquoted one) unless it exists.
 */
export async function addColumnIfMissing(
	trx: Knex.Transaction,
	dialect: SqlDialect,
	table: string,
	rawName: string,
	column: string,
	type: string,
): Promise<void> {
	if (dialect === 'pg') {
		await trx.raw(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} ${type}`);
		return;
	}
	const found = (await trx.raw(`SELECT 1 AS x FROM pragma_table_info(?) WHERE name = ?`, [
		rawName,
		column,
	])) as unknown[];
	if (found.length === 0) await trx.raw(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}
