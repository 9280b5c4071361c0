/**
 * The `sqlite3` driver without knex's query path: the container's own statements (claims, transitions, promotion,
 * renewals) run on a statement prepared once per connection and kept, where knex had the driver prepare (parse and
 * compile, the change-log triggers' programs with it) every statement anew: 540 → 250 µs of CPU per claim of 8 tasks
 * (measured). Still one statement at a time on knex's pooled connection, with knex's events (pooled-statement.ts).
 *
 * Only on a knex instance the container made (connection.ts `keepSqlite3Statements`): the driver refuses to close a
 * connection with statements not finalized, so the kept statements are finalized before knex destroys a connection,
 * which needs a hook on the client that an instance of the caller's is not given.
 */
import type { Knex } from 'knex';
import { jsonReturning, jsonRows, returnsAll } from './json-returning.js';
import { runPooled, type PooledClient, type RunRows } from './pooled-statement.js';

type Row = Record<string, unknown>;

interface Sqlite3Statement {
	all(params: readonly unknown[], callback: (error: Error | null, rows: Row[]) => void): unknown;
	finalize(callback: (error: Error | null) => void): unknown;
}

interface Sqlite3Connection {
	prepare(sql: string): Sqlite3Statement;
}

interface DestroyingClient {
	destroyRawConnection(connection: unknown): Promise<unknown>;
}

/** Statements kept per connection (least recently used out past this). */
const KEPT = 256;

/** The kept statements of each connection, by SQL text. */
const statements = new WeakMap<object, Map<string, Sqlite3Statement>>();

/** A `RETURNING *` statement run with its rows as JSON (json-returning.ts): its text, and its rows' maker. */
interface JsonPlan {
	readonly sql: string;
	readonly rows: (rows: readonly Row[]) => Row[];
}

/**
 * Each connection's `RETURNING *` statements whose column names a row told (by the statement's own text): from then
 * on run with their rows as JSON. Cleared past `KEPT` texts.
 */
const plans = new WeakMap<object, Map<string, JsonPlan>>();

/** The knex instances whose connections keep statements (made by the container). */
const keeping = new WeakSet<object>();

const finalize = (statement: Sqlite3Statement): Promise<void> =>
	new Promise((resolve) => statement.finalize(() => resolve()));

/**
 * Let the container keep `sqlite3` statements on the connections of `knex` (an instance it made): each connection's
 * kept statements are finalized before knex destroys it.
 */
export function keepSqlite3Statements(knex: Knex): void {
	const client = knex.client as unknown as Partial<DestroyingClient>;
	const destroy = client.destroyRawConnection;
	if (typeof destroy !== 'function') return;
	client.destroyRawConnection = async function (this: unknown, connection: unknown): Promise<unknown> {
		const kept = statements.get(connection as object);
		plans.delete(connection as object);
		if (kept !== undefined) {
			statements.delete(connection as object);
			await Promise.all([...kept.values()].map(finalize));
		}
		return destroy.call(this, connection);
	};
	keeping.add(knex);
}

/** SQLite takes no booleans: 1 and 0. */
const bindable = (bindings: readonly unknown[]): unknown[] =>
	bindings.map((value) => (typeof value === 'boolean' ? Number(value) : value));

function statementFor(connection: Sqlite3Connection, sql: string): Sqlite3Statement {
	let kept = statements.get(connection);
	if (kept === undefined) {
		kept = new Map();
		statements.set(connection, kept);
	}
	let statement = kept.get(sql);
	if (statement !== undefined) {
		kept.delete(sql);
	} else {
		statement = connection.prepare(sql);
		if (kept.size >= KEPT) {
			const [oldest, old] = kept.entries().next().value as [string, Sqlite3Statement];
			kept.delete(oldest);
			void finalize(old);
		}
	}
	kept.set(sql, statement);
	return statement;
}

/** One statement on `connection` as it is written, its rows (none for a statement without any). */
function runText(connection: Sqlite3Connection, sql: string, bindings: readonly unknown[]): Promise<Row[]> {
	const statement = statementFor(connection, sql);
	return new Promise((resolve, reject) =>
		statement.all(bindable(bindings), (error, rows) => {
			if (error === null) {
				resolve(rows);
				return;
			}
			// Not kept after a failure (a statement that did not prepare fails every run): prepared again next time.
			const kept = statements.get(connection);
			if (kept?.get(sql) === statement) {
				kept.delete(sql);
				void finalize(statement);
			}
			reject(error);
		}),
	);
}

/**
 * One statement on `connection`, its rows. A `RETURNING *` statement runs as written until a row tells its column
 * names, then with its rows as JSON (json-returning.ts); a failure forgets that, so the next run is as written.
 */
async function runOn(connection: Sqlite3Connection, sql: string, bindings: readonly unknown[]): Promise<Row[]> {
	let known = plans.get(connection);
	const plan = known?.get(sql);
	if (plan !== undefined) {
		try {
			return plan.rows(await runText(connection, plan.sql, bindings));
		} catch (error) {
			known?.delete(sql);
			throw error;
		}
	}
	const rows = await runText(connection, sql, bindings);
	const first = rows[0];
	if (first !== undefined && returnsAll(sql)) {
		if (known === undefined) {
			known = new Map();
			plans.set(connection, known);
		}
		if (known.size >= KEPT) known.clear();
		const names = Object.keys(first);
		known.set(sql, { sql: jsonReturning(sql, names), rows: jsonRows(names) });
	}
	return rows;
}

/** Whether `knex` is a `sqlite3` client the container made (its connections keep statements). */
function keepsStatements(knex: Knex): boolean {
	const client = knex.client as unknown as PooledClient;
	return client.driverName === 'sqlite3' && client.config?.postProcessResponse === undefined && keeping.has(knex);
}

/** A runner of statements kept on the connections `client` hands out. */
const runnerOn =
	(client: PooledClient): RunRows =>
	(sql, bindings) =>
		runPooled<Sqlite3Connection>(client, sql, bindings, (connection) => runOn(connection, sql, bindings));

/** The direct runner for `knex` when it is a `sqlite3` client the container made; otherwise null (use knex). */
export function directSqlite3(knex: Knex): RunRows | null {
	return keepsStatements(knex) ? runnerOn(knex.client as unknown as PooledClient) : null;
}

/**
 * The direct runner inside `trx`, a transaction on `knex` (a `sqlite3` client the container made): statements kept
 * on the transaction's connection as on any of the pool's (the transaction's client hands out its connection, and
 * knex's events reach `knex` through it); otherwise null (use `trx`). A task insert carries the change-log triggers'
 * programs, which knex had the driver compile anew for every statement (a workflow release's transaction).
 */
export function directSqlite3In(knex: Knex, trx: Knex.Transaction): RunRows | null {
	return keepsStatements(knex) ? runnerOn(trx.client as unknown as PooledClient) : null;
}
