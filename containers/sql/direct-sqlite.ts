/**
 * better-sqlite3 without knex's query path: the container's own statements (claims, transitions, promotion, renewals)
 * go straight to the connection's prepared statement. knex compiled each raw statement again (bindings formatted,
 * SQL rewritten, a runner and its promises per statement): about a sixth of a busy scheduler's time on SQLite.
 *
 * Rows come from the driver as arrays (its `raw` mode) and are made into objects here, by a function made once per
 * statement that builds the whole row in one object literal. The driver made each row's object column by column
 * from C++, a property at a time (a task's row has 27 columns, and a busy scheduler gets two rows per task): 8.2 µs
 * a row against 3.5 µs this way (reading 16 rows of 27 columns, each row read and made).
 *
 * The connection still comes from knex's pool, one statement at a time, so a knex transaction that holds the one
 * connection (an add, a migration) is never joined by a statement of ours; knex's events as knex emits them
 * (pooled-statement.ts).
 */
import type { Knex } from 'knex';
import { runPooled, type PooledClient, type RunRows } from './pooled-statement.js';

type Row = Record<string, unknown>;

interface BetterStatement {
	readonly reader: boolean;
	all(bindings: readonly unknown[]): unknown[];
	run(bindings: readonly unknown[]): unknown;
	raw(on: boolean): BetterStatement;
	columns(): readonly { readonly name: string }[];
}

interface BetterConnection {
	prepare(sql: string): BetterStatement;
	readonly inTransaction: boolean;
}

/** SQLite takes no booleans: 1 and 0, as knex's better-sqlite3 client binds them. */
const bindable = (bindings: readonly unknown[]): unknown[] =>
	bindings.map((value) => (typeof value === 'boolean' ? Number(value) : value));

/** A statement's row maker and the number of columns it was made for. */
interface Maker {
	readonly width: number;
	readonly make: (values: unknown[]) => Row;
}

/** Row makers kept per direct runner, by SQL text (the batched transitions make a few hundred texts at most). */
const MAKERS_KEPT = 1_000;

/**
 * The function that makes a row's object from its values in column order: one object literal, so every row of a
 * statement gets the same shape at once. A later column of the same name wins, as in the driver's own objects. A
 * name the literal would not make an own property of (`__proto__`) gets its properties defined one by one.
 */
export function rowMaker(names: readonly string[]): (values: unknown[]) => Row {
	if (names.includes('__proto__')) {
		return (values) => {
			const row: Row = {};
			names.forEach((name, i) =>
				Object.defineProperty(row, name, {
					value: values[i],
					enumerable: true,
					writable: true,
					configurable: true,
				}),
			);
			return row;
		};
	}
	const fields = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
	return new Function('v', `return { ${fields} };`) as (values: unknown[]) => Row;
}

function rowsOf(
	statement: BetterStatement,
	values: readonly unknown[],
	makers: Map<string, Maker>,
	sql: string,
): Row[] {
	// The statement is shared with knex's own queries of the same text (connection.ts keeps them): raw only here.
	statement.raw(true);
	let rows: unknown[];
	try {
		rows = statement.all(values);
	} finally {
		statement.raw(false);
	}
	if (rows.length === 0) return [];
	let maker = makers.get(sql);
	// Made anew when the columns changed in number: SQLite prepares a statement again after a schema change (a
	// newer process's migration adding a column), and `RETURNING *` then returns more.
	if (maker === undefined || maker.width !== (rows[0] as unknown[]).length) {
		const names = statement.columns().map((column) => column.name);
		maker = { width: names.length, make: rowMaker(names) };
		if (makers.size >= MAKERS_KEPT) makers.clear();
		makers.set(sql, maker);
	}
	const { make } = maker;
	const out = new Array<Row>(rows.length);
	for (let i = 0; i < rows.length; i++) out[i] = make(rows[i] as unknown[]);
	return out;
}

/** One statement on `connection`: its rows (a reader), or none. */
function runOn(
	connection: BetterConnection,
	sql: string,
	bindings: readonly unknown[],
	makers: Map<string, Maker>,
): Row[] {
	const statement = connection.prepare(sql);
	const values = bindable(bindings);
	return statement.reader ? rowsOf(statement, values, makers, sql) : (statement.run(values), []);
}

/** Runs one statement synchronously and returns its rows (inside `DirectSqlite.transaction`). */
export type RunRowsNow = (sql: string, bindings: readonly unknown[]) => Row[];

/** What `directSqlite` gives: one statement, two in one transaction, or any in one transaction (all or none). */
export interface DirectSqlite {
	readonly run: RunRows;
	readonly pair: (
		first: { readonly sql: string; readonly bindings: readonly unknown[] },
		second: { readonly sql: string; readonly bindings: readonly unknown[] },
	) => Promise<[Row[], Row[]]>;
	/**
	 * `work` in one write transaction (`BEGIN IMMEDIATE` … `COMMIT`; `ROLLBACK` when it throws), its statements run
	 * synchronously by the `run` it is given, so nothing of this process comes between them and no knex transaction
	 * is made. knex's events see it as one statement, `label` with `bindings` (the texts it runs, as far as known).
	 */
	readonly transaction: <T>(label: string, bindings: readonly unknown[], work: (run: RunRowsNow) => T) => Promise<T>;
}

/**
 * The direct runners for `knex` when it is a better-sqlite3 client whose results knex does not post-process
 * (`postProcessResponse` would see rows the direct path hands back unchanged); otherwise null (use knex).
 */
export function directSqlite(knex: Knex): DirectSqlite | null {
	const client = knex.client as unknown as PooledClient;
	if (client.driverName !== 'better-sqlite3' || client.config?.postProcessResponse !== undefined) return null;
	const makers = new Map<string, Maker>();
	// The statements in one write transaction on the one connection, synchronously: another process's writer waits
	// for the commit (or this one for its, busy_timeout).
	const transaction = <T>(label: string, bindings: readonly unknown[], work: (run: RunRowsNow) => T): Promise<T> =>
		runPooled<BetterConnection>(client, label, bindings, (connection) => {
			runOn(connection, 'BEGIN IMMEDIATE', [], makers);
			try {
				const out = work((sql, values) => runOn(connection, sql, values, makers));
				runOn(connection, 'COMMIT', [], makers);
				return out as unknown as Row[];
			} catch (error) {
				if (connection.inTransaction) runOn(connection, 'ROLLBACK', [], makers);
				throw error;
			}
		}) as unknown as Promise<T>;
	return {
		run: (sql, bindings) =>
			runPooled<BetterConnection>(client, sql, bindings, (connection) =>
				runOn(connection, sql, bindings, makers),
			),
		// knex's events see them as one statement, their texts joined by `;`.
		pair: (first, second) =>
			transaction(`${first.sql};\n${second.sql}`, [...first.bindings, ...second.bindings], (run) => [
				run(first.sql, first.bindings),
				run(second.sql, second.bindings),
			]) as Promise<[Row[], Row[]]>,
		transaction,
	};
}
