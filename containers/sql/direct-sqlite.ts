/**
 * better-sqlite3 without knex's query path: the container's own statements (claims, transitions, promotion, renewals)
 * go straight to the connection's prepared statement. knex compiled each raw statement again (bindings formatted,
 * SQL rewritten, a runner and its promises per statement): about a sixth of a busy scheduler's time on SQLite.
 *
 * The connection still comes from knex's pool, one statement at a time, so a knex transaction that holds the one
 * connection (an add, a migration) is never joined by a statement of ours, and the pool's acquire timeout applies
 * as before. knex's `query`, `query-response` and `query-error` events are emitted as knex emits them, so query
 * logging and the listeners of tests still see every statement; a failing statement's message starts with its SQL,
 * as knex's does.
 */
import type { Knex } from 'knex';

/** Runs one SQL statement and returns its rows. */
export type RunRows = (sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;

interface PooledClient {
	readonly driverName?: unknown;
	readonly config?: { postProcessResponse?: unknown };
	acquireConnection(): Promise<unknown>;
	releaseConnection(connection: unknown): Promise<unknown>;
	emit(event: string, ...args: unknown[]): boolean;
	listenerCount(event: string): number;
}

interface BetterStatement {
	readonly reader: boolean;
	all(bindings: readonly unknown[]): Record<string, unknown>[];
	run(bindings: readonly unknown[]): unknown;
}

interface BetterConnection {
	prepare(sql: string): BetterStatement;
}

/** SQLite takes no booleans: 1 and 0, as knex's better-sqlite3 client binds them. */
const bindable = (bindings: readonly unknown[]): unknown[] =>
	bindings.map((value) => (typeof value === 'boolean' ? Number(value) : value));

/**
 * The direct runner for `knex` when it is a better-sqlite3 client whose results knex does not post-process
 * (`postProcessResponse` would see rows the direct path hands back unchanged); otherwise null (use knex).
 */
export function directSqlite(knex: Knex): RunRows | null {
	const client = knex.client as unknown as PooledClient;
	if (client.driverName !== 'better-sqlite3' || client.config?.postProcessResponse !== undefined) return null;
	return async (sql, bindings) => {
		const connection = (await client.acquireConnection()) as BetterConnection;
		const listened = client.listenerCount('query') > 0 || client.listenerCount('query-response') > 0;
		const described = listened ? { method: 'raw', sql, bindings: [...bindings] } : null;
		if (described !== null) client.emit('query', described);
		try {
			const statement = connection.prepare(sql);
			const values = bindable(bindings);
			const rows = statement.reader ? statement.all(values) : (statement.run(values), []);
			if (described !== null) client.emit('query-response', rows, described);
			return rows;
		} catch (error) {
			if (error instanceof Error) error.message = `${sql} - ${error.message}`;
			if (client.listenerCount('query-error') > 0)
				client.emit('query-error', error, { method: 'raw', sql, bindings: [...bindings] });
			throw error;
		} finally {
			void client.releaseConnection(connection);
		}
	};
}
