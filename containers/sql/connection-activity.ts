/**
 * Whether this process is using its SQLite connection now, and for how long it has not: the SQLite wake-up
 * channel (file-watch.ts) reads a change of the write-ahead log that comes while the connection has been idle a
 * moment as another process's commit, and looks at once, where a change while this process writes may be its own.
 *
 * Counted on the knex client of an instance the container made itself (never on the caller's instance): every
 * statement and transaction of knex, and the container's direct statements (direct-sqlite.ts), take their
 * connection through the client's `acquireConnection` and give it back through `releaseConnection`.
 */
import type { Knex } from 'knex';

export interface ConnectionActivity {
	/** Milliseconds since the last connection was given back; 0 while one is taken. */
	quietMs(): number;
}

interface PooledClient {
	acquireConnection(...args: unknown[]): Promise<unknown>;
	releaseConnection(...args: unknown[]): Promise<unknown>;
}

const tracked = new WeakMap<Knex, ConnectionActivity>();

/** Start counting the connections `knex` takes and gives back (an instance the container made). */
export function trackConnectionActivity(knex: Knex): void {
	const client = knex.client as unknown as Partial<PooledClient>;
	const acquire = client.acquireConnection;
	const release = client.releaseConnection;
	if (typeof acquire !== 'function' || typeof release !== 'function') return;
	let taken = 0;
	let givenBackAt = performance.now();
	client.acquireConnection = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
		const connection = await acquire.apply(this, args);
		taken++;
		return connection;
	};
	client.releaseConnection = function (this: unknown, ...args: unknown[]): Promise<unknown> {
		taken = Math.max(0, taken - 1);
		givenBackAt = performance.now();
		return release.apply(this, args);
	};
	tracked.set(knex, { quietMs: () => (taken > 0 ? 0 : performance.now() - givenBackAt) });
}

/** The activity of `knex`'s connections, or null when they are not counted (an instance of the caller's). */
export function connectionActivity(knex: Knex): ConnectionActivity | null {
	return tracked.get(knex) ?? null;
}
