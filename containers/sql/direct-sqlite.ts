/**
 * better-sqlite3 without knex's query path: the container's own statements (claims, transitions, promotion, renewals)
 * go straight to the connection's prepared statement. knex compiled each raw statement again (bindings formatted,
 * SQL rewritten, a runner and its promises per statement): about a sixth of a busy scheduler's time on SQLite.
 *
 * The connection still comes from knex's pool, one statement at a time, so a knex transaction that holds the one
 * connection (an add, a migration) is never joined by a statement of ours; knex's events as knex emits them
 * (pooled-statement.ts).
 */
import type { Knex } from 'knex';
import { runPooled, type PooledClient, type RunRows } from './pooled-statement.js';

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
	return (sql, bindings) =>
		runPooled<BetterConnection>(client, sql, bindings, (connection) => {
			const statement = connection.prepare(sql);
			const values = bindable(bindings);
			return statement.reader ? statement.all(values) : (statement.run(values), []);
		});
}
