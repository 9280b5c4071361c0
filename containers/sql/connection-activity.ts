/**
 * Whether this process's SQLite connection is settled: not taken, and given back at least two turns of the event
 * loop ago. The SQLite wake-up channel (file-watch.ts) reads a change of the write-ahead log that comes while the
 * connection is settled as another process's commit, and looks at once, where a change while this process writes
 * may be its own. An own commit's change comes before that: the log is written before the statement's reply,
 * so with the asynchronous `sqlite3` driver its change is seen in the same turn as the reply (the connection given
 * back), and with the synchronous `better-sqlite3`, which writes inside a turn, in the next one.
 *
 * Counted on the knex client of an instance the container made itself (never on the caller's instance): every
 * statement and transaction of knex, and the container's direct statements (direct-sqlite.ts), take their
 * connection through the client's `acquireConnection` and give it back through `releaseConnection`.
 */
import type { Knex } from 'knex';

export interface ConnectionActivity {
	/** Whether no connection is taken, and none was given back in this turn of the event loop or the one before. */
	settled(): boolean;
}

interface PooledClient {
	acquireConnection(...args: unknown[]): Promise<unknown>;
	releaseConnection(...args: unknown[]): Promise<unknown>;
}

/** The turns of the event loop (check phases) after a connection is given back before it counts as settled. */
const SETTLE_TURNS = 2;

const tracked = new WeakMap<Knex, ConnectionActivity>();

/** Start counting the connections `knex` takes and gives back (an instance the container made). */
export function trackConnectionActivity(knex: Knex): void {
	const client = knex.client as unknown as Partial<PooledClient>;
	const acquire = client.acquireConnection;
	const release = client.releaseConnection;
	if (typeof acquire !== 'function' || typeof release !== 'function') return;
	let taken = 0;
	let turns = SETTLE_TURNS;
	let counting = false;
	const count = (): void => {
		turns++;
		if (turns < SETTLE_TURNS) setImmediate(count);
		else counting = false;
	};
	client.acquireConnection = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
		const connection = await acquire.apply(this, args);
		taken++;
		return connection;
	};
	client.releaseConnection = function (this: unknown, ...args: unknown[]): Promise<unknown> {
		taken = Math.max(0, taken - 1);
		turns = 0;
		if (!counting) {
			counting = true;
			setImmediate(count);
		}
		return release.apply(this, args);
	};
	tracked.set(knex, { settled: () => taken === 0 && turns >= SETTLE_TURNS });
}

/** The activity of `knex`'s connections, or null when they are not counted (an instance of the caller's). */
export function connectionActivity(knex: Knex): ConnectionActivity | null {
	return tracked.get(knex) ?? null;
}
