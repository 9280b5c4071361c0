/**
 * The insert of an add's new rows: multi-row INSERTs of up to 500 rows, each row given the `seq` the database
 * assigned. On the server's clock `updated_at` is the database's; every other time is stored as given.
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched';
import type { RunRows } from './pooled-statement.js';
import { arrayLiteral } from './pg-array.js';
import { INSERT_COLUMNS, recordToValues } from './rows.js';
import { chunks, rowsOf, type TaskStatements } from './statements.js';

/** What an insert needs to know of the container. */
export interface InsertShape {
	readonly table: string;
	readonly sql: Pick<TaskStatements, 'serverClock' | 'nowSql'>;
	readonly bool: (value: boolean) => unknown;
}

/** The SQL of one row's values in `INSERT_COLUMNS` order: `?` each, the server's clock for `updated_at`. */
function rowSql(shape: InsertShape, firstStatus?: string): string {
	const server = shape.sql.serverClock;
	const updatedAt = INSERT_COLUMNS.indexOf('updated_at');
	const statusAt = INSERT_COLUMNS.indexOf('status');
	return INSERT_COLUMNS.map((_, i) =>
		server && i === updatedAt ? shape.sql.nowSql : firstStatus !== undefined && i === statusAt ? firstStatus : '?',
	).join(', ');
}

/** The bindings of one row of `rowSql` (without the values the SQL supplies itself). */
function rowBindings(shape: InsertShape, task: TaskRecord, item: string, now: number, firstStatus?: string): unknown[] {
	const all = recordToValues(task, item, now, shape.bool);
	// Removed from the back first, so the front index stays right.
	if (shape.sql.serverClock) all.splice(INSERT_COLUMNS.indexOf('updated_at'), 1);
	if (firstStatus !== undefined) all.splice(INSERT_COLUMNS.indexOf('status'), 1);
	return all;
}

/**
 * One multi-row `INSERT … RETURNING id, seq` of `tasks` (items already JSON text in `items`, same order; at most
 * CHUNK rows). `firstStatus`, when given, is the SQL of the first row's status in place of a binding (see
 * add-batch.ts: it orders the insert after the statement's other parts). With `ifAbsent`, a task whose id is stored
 * already is skipped (`ON CONFLICT (id) DO NOTHING`) and left as it is: only the rows inserted come back.
 */
export function insertStatement(
	shape: InsertShape,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	firstStatus?: string,
	ifAbsent = false,
): { sql: string; bindings: unknown[] } {
	const now = Date.now();
	const bindings: unknown[] = [];
	tasks.forEach((task, i) => {
		bindings.push(...rowBindings(shape, task, items[i] as string, now, i === 0 ? firstStatus : undefined));
	});
	const rows = tasks.map((_, i) => `(${rowSql(shape, i === 0 ? firstStatus : undefined)})`).join(', ');
	return {
		sql: `INSERT INTO ${shape.table} (${INSERT_COLUMNS.join(', ')}) VALUES ${rows}${ifAbsent ? ' ON CONFLICT (id) DO NOTHING' : ''} RETURNING id, seq`,
		bindings,
	};
}

/** A piece of SQL and its bindings. */
export interface SqlPart {
	readonly sql: string;
	readonly bindings: readonly unknown[];
}

/**
 * The most rows of one guarded insert (larger releases take the transaction). 500 rows are under 1 MB of JSON.
 */
export const MAX_GUARDED_ROWS = 500;

/** `"<column>":` for each of `INSERT_COLUMNS`, the start of its member in a guarded insert's JSON object. */
const MEMBER_KEYS = INSERT_COLUMNS.map((column) => `,${JSON.stringify(column)}:`);

/** A value of `recordToValues` as JSON, as `JSON.stringify` writes it (a number as `String` does, or null). */
const jsonValue = (value: unknown): string =>
	typeof value === 'number'
		? Number.isFinite(value)
			? String(value)
			: 'null'
		: typeof value === 'boolean'
			? value
				? 'true'
				: 'false'
			: (JSON.stringify(value) ?? 'null');

/**
 * PostgreSQL: the insert of `tasks`, each only where its `owners[i]` is among the ids `among` (a SELECT, e.g. of an
 * earlier part of the same statement) returns, for a data-modifying WITH. The rows travel as ONE JSON array
 * parameter, turned into rows of the table's own type (`jsonb_populate_recordset`), so every column gets its type
 * and the statement's size does not grow with the rows, and the owners as one text array beside it, matched by
 * position: `INSERT … SELECT … FROM jsonb_populate_recordset(NULL::<table>, ?) WITH ORDINALITY AS r JOIN
 * unnest(?::text[]) WITH ORDINALITY AS o (owner, n) ON o.n = r.ordinality WHERE o.owner IN (<among>) ON CONFLICT
 * (id) DO NOTHING RETURNING id, seq`. (A multi-row VALUES under the SELECT would make every parameter text, and
 * measured 2.5 times slower with its first row typed: 32 tasks 23 ms against 10 ms, loaded. Until 7 Dec 2026 each
 * element went through `jsonb_array_elements` and `jsonb_populate_record` with its owner as a member: a copy of
 * each element and a lookup more, 17.8 against 16.5 µs a task of the server's time.)
 *
 * The JSON is written member by member, not as an object per row given to `JSON.stringify` (a 27-property object a
 * task and its serialisation: 3.6 µs a task in a batch of 80 against 1.45, 7 Dec 2026), and a NULL column is left
 * out, which `jsonb_populate_recordset` on a NULL record reads as NULL (a third less text for the server to parse).
 */
export function guardedInsertStatement(
	shape: InsertShape,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	owners: readonly string[],
	among: string,
): SqlPart {
	const now = Date.now();
	// The server's clock sets `updated_at` in the SELECT: the value is not sent.
	const skipped = shape.sql.serverClock ? INSERT_COLUMNS.indexOf('updated_at') : -1;
	// One string a row, joined: flat, where `+=` over the whole array would leave a rope for the driver to flatten.
	const rows = tasks.map((task, i) => {
		const values = recordToValues(task, items[i] as string, now, shape.bool);
		let row = '';
		for (let c = 0; c < values.length; c++) {
			const value = values[c];
			if (value !== null && value !== undefined && c !== skipped)
				row += (MEMBER_KEYS[c] as string) + jsonValue(value);
		}
		// Every row has an id: the first member's comma becomes the brace.
		return `{${row.slice(1)}}`;
	});
	const columns = INSERT_COLUMNS.join(', ');
	const select = INSERT_COLUMNS.map((column) =>
		shape.sql.serverClock && column === 'updated_at' ? shape.sql.nowSql : `r.${column}`,
	).join(', ');
	return {
		sql:
			`INSERT INTO ${shape.table} (${columns}) SELECT ${select} FROM ` +
			`jsonb_populate_recordset(NULL::${shape.table}, ?::jsonb) WITH ORDINALITY AS r ` +
			`JOIN unnest(?::text[]) WITH ORDINALITY AS o (owner, n) ON o.n = r.ordinality WHERE o.owner IN (${among}) ` +
			`ON CONFLICT (id) DO NOTHING RETURNING id, seq`,
		bindings: [`[${rows.join(',')}]`, arrayLiteral(owners)],
	};
}

/**
 * A step release's task inserts as a part of the run write's statement (PostgreSQL), or as a statement of the run
 * write's transaction after its UPDATE (SQLite on better-sqlite3); containers/sql/run-writes.ts. Made by
 * `SqlContainer` for its own tasks (`guardedInserts`).
 */
export interface GuardedInserts {
	/** The insert (see `guardedInsertStatement`). */
	readonly statement: SqlPart;
	/** The wake-up notification's channel and payload (sent once, when any row was inserted), or `null`. */
	readonly wake: readonly [channel: string, payload: string] | null;
	/** Once the statement has run: the tasks inserted (those whose ids came back with a `seq`), given their `seq`. */
	settle(rows: readonly Record<string, unknown>[]): TaskRecord[];
}

/**
 * Build the guarded insert of `tasks` (the container checks them as `add` does, and throws before anything is
 * written), task `i` stored only where `owners[i]` is among the ids the SQL `among` selects (PostgreSQL); `among`
 * null: every task, as one `INSERT … ON CONFLICT (id) DO NOTHING RETURNING id, seq` (SQLite: the caller runs it in
 * the run write's transaction, for the tasks of the runs written). `null` when these tasks need the checked
 * transaction instead (a task with a deduplication key: the key is looked for before the insert, to refuse it with
 * the holder's id; more than `MAX_GUARDED_ROWS` tasks).
 */
export type PrepareGuardedInserts = (
	tasks: readonly TaskRecord[],
	owners: readonly string[],
	among: string | null,
) => GuardedInserts | null;

/**
 * Each `SqlContainer`'s `PrepareGuardedInserts`, for the `SqlWorkflowStore` that shares its connection (kept off
 * the container's public surface).
 */
export const guardedInserts = new WeakMap<object, PrepareGuardedInserts>();

/** The records are handed over (see TaskContainer.add): they get the seq the database gave them. */
export function takeSeqs(tasks: readonly TaskRecord[], rows: readonly Record<string, unknown>[]): void {
	const seqs = new Map(rows.map((r) => [String(r['id']), Number(r['seq'])]));
	for (const task of tasks) task.seq = seqs.get(task.id) ?? task.seq;
}

/**
 * Insert `tasks` (whose items are already JSON text in `items`, same order) inside the caller's transaction (an
 * add's, or a workflow release's). With `ifAbsent`, a task whose id is stored already is skipped and left as it is.
 * `run` runs a statement in `trx` (default: knex's `raw`; direct-sqlite3.ts `directSqlite3In`). Returns the records
 * inserted, each given its `seq`.
 */
export async function insertTasks(
	trx: Knex.Transaction,
	shape: InsertShape,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	ifAbsent = false,
	run: RunRows = (sql, bindings) => rowsOf(trx, sql, bindings),
): Promise<TaskRecord[]> {
	const inserted: TaskRecord[] = [];
	const indexed = tasks.map((task, i) => ({ task, item: items[i] as string }));
	for (const part of chunks(indexed)) {
		const some = part.map((p) => p.task);
		const { sql, bindings } = insertStatement(
			shape,
			some,
			part.map((p) => p.item),
			undefined,
			ifAbsent,
		);
		const seqs = new Map((await run(sql, bindings)).map((r) => [String(r['id']), Number(r['seq'])]));
		for (const task of some) {
			const seq = seqs.get(task.id);
			if (seq === undefined) continue;
			task.seq = seq;
			inserted.push(task);
		}
	}
	return inserted;
}
