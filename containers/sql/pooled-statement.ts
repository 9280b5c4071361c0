/**
 * One of the container's own statements run outside knex's query path (direct-pg.ts, direct-sqlite.ts), on a
 * connection of knex's pool: the pool's acquire timeout applies, and a statement never joins a transaction that holds
 * a connection. knex's `query`, `query-response` and `query-error` events are emitted as knex emits them, so query
 * logging and the listeners of tests still see every statement; a failing statement's message starts with its SQL,
 * as knex's does.
 */

/** Runs one SQL statement and returns its rows. */
export type RunRows = (sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/** What the direct runners use of knex's client. */
export interface PooledClient {
	readonly dialect?: unknown;
	readonly driverName?: unknown;
	readonly config?: { postProcessResponse?: unknown };
	acquireConnection(): Promise<unknown>;
	releaseConnection(connection: unknown): Promise<unknown>;
	emit(event: string, ...args: unknown[]): boolean;
	listenerCount(event: string): number;
}

/** Run `sql` through `run` on a pooled connection, with knex's events and error message. */
export async function runPooled<C>(
	client: PooledClient,
	sql: string,
	bindings: readonly unknown[],
	run: (connection: C) => Promise<Record<string, unknown>[]> | Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
	const connection = (await client.acquireConnection()) as C;
	const listened = client.listenerCount('query') > 0 || client.listenerCount('query-response') > 0;
	const described = listened ? { method: 'raw', sql, bindings: [...bindings] } : null;
	if (described !== null) client.emit('query', described);
	try {
		const rows = await run(connection);
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
}
