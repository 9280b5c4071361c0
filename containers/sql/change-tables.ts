/**
 * The change log's tables and triggers on SQL (the design, what they record and when: change-events.ts). Triggers on
 * the tasks table write `<prefix>changes` inside the statement that changes a task, only while
 * `<prefix>change_state.follow_until` is ahead of the database's clock.
 */
import type { Knex } from 'knex';
import { addColumnIfMissing } from './add-column.js';
import type { SqlDialect } from './dialect.js';
import { INSERT_COLUMNS } from './rows.js';

/** The names of the change tables and channel for a table prefix. */
export function changeTables(prefix: string): { changes: string; state: string; channel: string } {
	return { changes: `"${prefix}changes"`, state: `"${prefix}change_state"`, channel: `${prefix}changes` };
}

/** The database's clock in epoch milliseconds: SQLite, and PostgreSQL's clock at the moment of the call. */
export const SQLITE_NOW_MS = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
export const PG_CLOCK_MS = `(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000))::bigint`;

/** The change type of an update from row `o` to row `n` (src/task-change.ts changeTypeOf, stated again). */
function typeSql(dialect: SqlDialect, o: string, n: string): string {
	const distinct = dialect === 'pg' ? 'IS DISTINCT FROM' : 'IS NOT';
	return `CASE
		WHEN ${n}.status = 'waiting' AND ${o}.status IN ('running', 'exporting') THEN 'retrying'
		WHEN ${n}.status = 'waiting' AND ${o}.status IN ('succeeded', 'failed', 'stopped') THEN 'added'
		WHEN ${n}.status = 'running' AND ${o}.status = 'waiting' THEN 'started'
		WHEN ${n}.status = 'running' AND ${o}.status = 'running' AND ${n}.progress ${distinct} ${o}.progress THEN 'progress'
		WHEN ${n}.status IN ('succeeded', 'failed', 'stopped') AND ${n}.status <> ${o}.status THEN ${n}.status
	END`;
}

const dataSql = (type: string, n: string): string => `CASE ${type}
	WHEN 'succeeded' THEN ${n}.output WHEN 'failed' THEN ${n}.error WHEN 'retrying' THEN ${n}.error
	WHEN 'progress' THEN ${n}.progress END`;

/**
 * The migration step: the tables and triggers (inside the migration transaction). Written to run again over its own
 * leftovers (tables of a later version left behind by a downgrade), like a migration that failed half way cannot.
 */
export async function createChangeTables(
	trx: Knex.Transaction,
	dialect: SqlDialect,
	prefix: string,
	tasks: string,
): Promise<void> {
	const c = changeTables(prefix);
	if (dialect === 'pg') {
		await trx.raw(`CREATE TABLE IF NOT EXISTS ${c.changes} (
			pos BIGSERIAL PRIMARY KEY,
			tx BIGINT NOT NULL DEFAULT txid_current(),
			task_id VARCHAR(512) NOT NULL,
			type VARCHAR(16) NOT NULL,
			at BIGINT NOT NULL,
			attempts INTEGER NOT NULL,
			data TEXT,
			record TEXT,
			written_at BIGINT NOT NULL
		)`);
		await trx.raw(`CREATE INDEX IF NOT EXISTS "${prefix}changes_order" ON ${c.changes} (tx, pos)`);
		await trx.raw(`CREATE INDEX IF NOT EXISTS "${prefix}changes_written" ON ${c.changes} (written_at)`);
		await trx.raw(`CREATE TABLE IF NOT EXISTS ${c.state} (
			id INTEGER PRIMARY KEY, follow_until BIGINT NOT NULL, pruned_tx BIGINT NOT NULL, pruned_pos BIGINT NOT NULL
		)`);
		await trx.raw(
			`INSERT INTO ${c.state} (id, follow_until, pruned_tx, pruned_pos) VALUES (1, 0, 0, 0) ON CONFLICT DO NOTHING`,
		);
		const gate = `EXISTS (SELECT 1 FROM ${c.state} WHERE id = 1 AND follow_until > ${PG_CLOCK_MS})`;
		const notify = `IF FOUND THEN PERFORM pg_notify('${c.channel}', '{"type":"wake"}'); END IF;`;
		const insertCols = `${c.changes} (task_id, type, at, attempts, data, written_at)`;
		await trx.raw(`CREATE OR REPLACE FUNCTION "${prefix}record_added"() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF ${gate} THEN
					INSERT INTO ${insertCols}
					SELECT n.id, 'added', n.updated_at, n.attempts, NULL, ${PG_CLOCK_MS} FROM new_rows n ORDER BY n.seq;
					${notify}
				END IF;
				RETURN NULL;
			END $$`);
		await trx.raw(`CREATE OR REPLACE FUNCTION "${prefix}record_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF ${gate} THEN
					INSERT INTO ${c.changes} (task_id, type, at, attempts, data, written_at, record)
					SELECT x.id, x.type, x.updated_at, x.attempts, ${dataSql('x.type', 'x')}, ${PG_CLOCK_MS},
						CASE WHEN x.type IN ('succeeded', 'failed', 'stopped') THEN row_to_json(x)::text END
					FROM (SELECT n.*, ${typeSql('pg', 'o', 'n')} AS type
						FROM new_rows n JOIN old_rows o ON o.seq = n.seq) x
					WHERE x.type IS NOT NULL ORDER BY x.seq;
					${notify}
				END IF;
				RETURN NULL;
			END $$`);
		await trx.raw(`DROP TRIGGER IF EXISTS "${prefix}changes_added" ON ${tasks}`);
		await trx.raw(`DROP TRIGGER IF EXISTS "${prefix}changes_changed" ON ${tasks}`);
		await trx.raw(`CREATE TRIGGER "${prefix}changes_added" AFTER INSERT ON ${tasks}
			REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE PROCEDURE "${prefix}record_added"()`);
		await trx.raw(`CREATE TRIGGER "${prefix}changes_changed" AFTER UPDATE ON ${tasks}
			REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE PROCEDURE "${prefix}record_changed"()`);
		return;
	}
	await trx.raw(`CREATE TABLE IF NOT EXISTS ${c.changes} (
		pos INTEGER PRIMARY KEY AUTOINCREMENT,
		task_id VARCHAR(512) NOT NULL,
		type VARCHAR(16) NOT NULL,
		at BIGINT NOT NULL,
		attempts INTEGER NOT NULL,
		data TEXT,
		written_at BIGINT NOT NULL
	)`);
	await trx.raw(`CREATE INDEX IF NOT EXISTS "${prefix}changes_written" ON ${c.changes} (written_at)`);
	await trx.raw(`CREATE TABLE IF NOT EXISTS ${c.state} (
		id INTEGER PRIMARY KEY, follow_until BIGINT NOT NULL, pruned_tx BIGINT NOT NULL, pruned_pos BIGINT NOT NULL
	)`);
	await trx.raw(
		`INSERT INTO ${c.state} (id, follow_until, pruned_tx, pruned_pos) VALUES (1, 0, 0, 0) ON CONFLICT DO NOTHING`,
	);
	const gate = `EXISTS (SELECT 1 FROM ${c.state} WHERE id = 1 AND follow_until > ${SQLITE_NOW_MS})`;
	await trx.raw(`DROP TRIGGER IF EXISTS "${prefix}changes_added"`);
	await trx.raw(`DROP TRIGGER IF EXISTS "${prefix}changes_changed"`);
	await trx.raw(`CREATE TRIGGER "${prefix}changes_added" AFTER INSERT ON ${tasks} WHEN ${gate}
		BEGIN
			INSERT INTO ${c.changes} (task_id, type, at, attempts, data, written_at)
			VALUES (NEW.id, 'added', NEW.updated_at, NEW.attempts, NULL, ${SQLITE_NOW_MS});
		END`);
	const type = typeSql('sqlite', 'OLD', 'NEW');
	await trx.raw(`CREATE TRIGGER "${prefix}changes_changed" AFTER UPDATE OF status, progress ON ${tasks}
		WHEN (${type}) IS NOT NULL AND ${gate}
		BEGIN
			INSERT INTO ${c.changes} (task_id, type, at, attempts, data, written_at)
			SELECT NEW.id, x.type, NEW.updated_at, NEW.attempts, ${dataSql('x.type', 'NEW')}, ${SQLITE_NOW_MS}
			FROM (SELECT ${type} AS type) x;
		END`);
}

/**
 * Schema 8, SQLite: a final change carries the task's row as JSON (`record`), as PostgreSQL's always did, so a
 * `waitFor` in another process needs no read back, and gets its record even when the task was deleted at once
 * (`NewTask.retention` of 0). SQLite has no `row_to_json`: the trigger names every column of the tasks table
 * (`seq` and `INSERT_COLUMNS`); a later schema that adds a column must run this again (a test compares the
 * trigger with the table's columns). Written to run again over its own result.
 */
export async function addFinalRecords(
	trx: Knex.Transaction,
	dialect: SqlDialect,
	prefix: string,
	tasks: string,
): Promise<void> {
	if (dialect !== 'sqlite') return;
	const c = changeTables(prefix);
	await addColumnIfMissing(trx, dialect, c.changes, `${prefix}changes`, 'record', 'TEXT');
	const gate = `EXISTS (SELECT 1 FROM ${c.state} WHERE id = 1 AND follow_until > ${SQLITE_NOW_MS})`;
	const row = ['seq', ...INSERT_COLUMNS].map((column) => `'${column}', NEW.${column}`).join(', ');
	const type = typeSql('sqlite', 'OLD', 'NEW');
	await trx.raw(`DROP TRIGGER IF EXISTS "${prefix}changes_changed"`);
	await trx.raw(`CREATE TRIGGER "${prefix}changes_changed" AFTER UPDATE OF status, progress ON ${tasks}
		WHEN (${type}) IS NOT NULL AND ${gate}
		BEGIN
			INSERT INTO ${c.changes} (task_id, type, at, attempts, data, written_at, record)
			SELECT NEW.id, x.type, NEW.updated_at, NEW.attempts, ${dataSql('x.type', 'NEW')}, ${SQLITE_NOW_MS},
				CASE WHEN x.type IN ('succeeded', 'failed', 'stopped') THEN json_object(${row}) END
			FROM (SELECT ${type} AS type) x;
		END`);
}
