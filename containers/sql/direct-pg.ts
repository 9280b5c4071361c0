/**
 * PostgreSQL without knex's query path: the container's own statements (claims, transitions, renewals, the
 * promotion) go straight to a pooled pg connection. knex built each raw statement anew (bindings formatted, `?`
 * rewritten to `$n` by a regular expression, a runner and its promises per statement); here the `$n` form of each
 * statement is made once and kept.
 *
 * The connection still comes from knex's pool (the pool's acquire timeout applies, and a statement never joins a
 * transaction that holds a connection). knex's `query`, `query-response` and `query-error` events are emitted as
 * knex emits them, so query logging and the listeners of tests still see every statement.
 */
import type { Knex } from 'knex';
import type { RunRows } from './direct-sqlite.js';

interface PooledClient {
	readonly dialect?: unknown;
	readonly config?: { postProcessResponse?: unknown; wrapIdentifier?: unknown };
	acquireConnection(): Promise<unknown>;
	releaseConnection(connection: unknown): Promise<unknown>;
	emit(event: string, ...args: unknown[]): boolean;
	listenerCount(event: string): number;
}

interface PgConnection {
	query(config: { text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The most statements whose `$n` form is kept (the container's shapes are few; this only bounds a runaway). */
const MAX_KEPT = 2_000;

/** `?` placeholders to `$1`, `$2`, … (the container's SQL has no `?` of any other kind). */
function numbered(sql: string): string {
	let n = 0;
	return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * The direct runner for `knex` when it is a pg client whose results knex does not post-process; otherwise null
 * (use knex).
 */
export function directPg(knex: Knex): RunRows | null {
	const client = knex.client as unknown as PooledClient;
	if (client.dialect !== 'postgresql' || client.config?.postProcessResponse !== undefined) return null;
	const texts = new Map<string, string>();

	return async (sql, bindings) => {
		let text = texts.get(sql);
		if (text === undefined) {
			if (texts.size >= MAX_KEPT) texts.clear();
			text = numbered(sql);
			texts.set(sql, text);
		}
		const listened = client.listenerCount('query') > 0 || client.listenerCount('query-response') > 0;
		const described = listened ? { method: 'raw', sql, bindings: [...bindings] } : null;
		const connection = (await client.acquireConnection()) as PgConnection;
		if (described !== null) client.emit('query', described);
		try {
			const { rows } = await connection.query({ text, values: bindings as unknown[] });
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
