/**
 * Making (or adopting) the knex instance: which database family it speaks, and the SQLite settings the
 * container needs (WAL, a busy timeout, one connection per process).
 */
import knexModule, { type Knex } from 'knex';
import { trackConnectionActivity } from './connection-activity.js';
import { keepSqlite3Statements } from './direct-sqlite3.js';
import {
	boundedConfig,
	type ConnectionBounds,
	type KnexSource,
	type SqlContainerOptions,
	type SqliteSettings,
} from './options.js';

export type { KnexSource, SqliteSettings } from './options.js';
import type { SqlDialect } from './schema.js';

/** What the container works with. */
export interface SqlConnection {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	/** Whether the container made the instance (and so destroys it on close). */
	readonly owned: boolean;
}

const createKnex = ((knexModule as unknown as { knex?: typeof knexModule }).knex ?? knexModule) as (
	config: Knex.Config,
) => Knex;

/** Whether `value` is a Knex instance (a function with a `client`) rather than a configuration. */
export function isKnexInstance(value: unknown): value is Knex {
	return typeof value === 'function' && typeof (value as { client?: unknown }).client === 'object';
}

function dialectOf(client: unknown, field: string): SqlDialect {
	const name =
		typeof client === 'string'
			? client
			: (client as { prototype?: { dialect?: unknown } } | undefined)?.prototype?.dialect;
	if (name === 'sqlite3' || name === 'better-sqlite3') return 'sqlite';
	if (name === 'pg' || name === 'postgres' || name === 'postgresql') return 'pg';
	throw new TypeError(
		`Expected \`${field}\` to be 'sqlite3', 'better-sqlite3' or 'pg' (the drivers SqlContainer supports), got ${typeof name === 'string' ? JSON.stringify(name) : String(name)}`,
	);
}

interface PreparingConnection {
	prepare(sql: string): unknown;
}

/** Prepared statements kept per better-sqlite3 connection (knex prepares every query again). */
const PREPARED_KEPT = 256;

/**
 * better-sqlite3: keep the connection's prepared statements by their SQL (least recently used out past
 * `PREPARED_KEPT`), since knex prepares each query anew and preparing cost about a sixth of a busy scheduler's time.
 */
function cachePrepared(connection: PreparingConnection): void {
	const prepare = connection.prepare.bind(connection);
	const kept = new Map<string, unknown>();
	connection.prepare = (sql: string): unknown => {
		let statement = kept.get(sql);
		if (statement !== undefined) {
			kept.delete(sql);
		} else {
			statement = prepare(sql);
			if (kept.size >= PREPARED_KEPT) kept.delete(kept.keys().next().value as string);
		}
		kept.set(sql, statement);
		return statement;
	};
}

/**
 * The PRAGMAs for one SQLite connection, the busy timeout first: it then covers what follows. (`applySqlitePragmas`
 * runs them, retrying the switch to WAL.)
 */
export function sqlitePragmas(settings: SqliteSettings): string[] {
	return [
		`PRAGMA busy_timeout = ${Math.floor(settings.busyTimeoutMs)}`,
		'PRAGMA journal_mode = WAL',
		`PRAGMA synchronous = ${settings.synchronous}`,
	];
}

/** Whether `error` is SQLite's "database is locked" (`SQLITE_BUSY` or one of its extended codes), from either driver. */
function isBusy(error: unknown): boolean {
	return String((error as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_BUSY');
}

/**
 * Run `sqlitePragmas(settings)` through `exec`. The switch to WAL takes a lock SQLite does not wait for with the busy
 * timeout: on a new file opened by several connections at once (processes starting together) it failed at once with
 * SQLITE_BUSY in about 1 connection in 200 here, and the connection was refused. It is retried (10, 20, … 100 ms
 * apart) for up to `busyTimeoutMs`.
 */
export async function applySqlitePragmas(
	exec: (sql: string) => Promise<unknown>,
	settings: SqliteSettings,
): Promise<void> {
	const [timeout, wal, synchronous] = sqlitePragmas(settings) as [string, string, string];
	await exec(timeout);
	const until = Date.now() + settings.busyTimeoutMs;
	for (let attempt = 1; ; attempt++) {
		try {
			await exec(wal);
			break;
		} catch (error) {
			if (!isBusy(error) || Date.now() >= until) throw error;
			await new Promise((resolve) => setTimeout(resolve, Math.min(10 * attempt, 100)));
		}
	}
	await exec(synchronous);
}

type AfterCreate = (connection: unknown, done: (error: Error | null, connection: unknown) => void) => void;

/**
 * Open or adopt the knex instance described by `source`. A configuration gets `bounds` (connect and acquire
 * timeouts) where it sets none; an instance of the caller's is used as it is.
 */
export function openKnex(
	source: KnexSource,
	sqlite: SqliteSettings,
	bounds: ConnectionBounds = { connectTimeoutMs: 5_000, acquireTimeoutMs: undefined },
): SqlConnection {
	if (isKnexInstance(source)) {
		const client = source.client as { config?: { client?: unknown }; dialect?: unknown };
		return {
			knex: source,
			dialect: dialectOf(client.config?.client ?? client.dialect, 'knex.client'),
			owned: false,
		};
	}
	if (typeof source !== 'object' || source === null) {
		throw new TypeError(
			`Expected \`knex\` to be a knex configuration ({ client: 'sqlite3' | 'better-sqlite3' | 'pg', connection }) or a Knex instance, got ${source === null ? 'null' : typeof source}`,
		);
	}
	const dialect = dialectOf(source.client, 'knex.client');
	if (dialect === 'pg') return { knex: createKnex(boundedConfig(source, true, bounds)), dialect, owned: true };
	const userAfterCreate = (source.pool as { afterCreate?: AfterCreate } | undefined)?.afterCreate;
	const next = (connection: unknown, done: (error: Error | null, connection: unknown) => void): void => {
		if (userAfterCreate) userAfterCreate(connection, done);
		else done(null, connection);
	};
	const exec =
		source.client === 'better-sqlite3'
			? (connection: unknown) => async (sql: string) => (connection as { exec(sql: string): void }).exec(sql)
			: (connection: unknown) => (sql: string) =>
					new Promise<void>((resolve, reject) =>
						(connection as { exec(sql: string, cb: (error: Error | null) => void): void }).exec(
							sql,
							(error) => (error === null ? resolve() : reject(error)),
						),
					);
	const afterCreate: AfterCreate = (connection, done) => {
		applySqlitePragmas(exec(connection), sqlite).then(
			() => {
				if (source.client === 'better-sqlite3') cachePrepared(connection as PreparingConnection);
				next(connection, done);
			},
			(error: unknown) => done(error as Error, connection),
		);
	};
	const config: Knex.Config = {
		useNullAsDefault: true,
		...source,
		// One connection per process: SQLite allows one writer at a time anyway, and the container's
		// transactions then never wait on each other inside the process.
		pool: { min: 1, max: 1, ...source.pool, afterCreate },
	};
	const knex = createKnex(boundedConfig(config, false, bounds));
	trackConnectionActivity(knex);
	if (source.client === 'sqlite3') keepSqlite3Statements(knex);
	return { knex, dialect, owned: true };
}

/**
 * How long a call waits for an answer and for a connection: what failure messages name. The acquire bound is the
 * knex instance's own (60 s when it sets none). The timeouts apply only to a configuration the container opens:
 * set on an adopted PostgreSQL instance, they are refused.
 */
export function callBounds(
	connection: SqlConnection,
	options: SqlContainerOptions,
	connectTimeoutMs: number,
): { connectTimeoutMs: number; acquireTimeoutMs: number } {
	if (
		!connection.owned &&
		connection.dialect === 'pg' &&
		(options.connectTimeoutMs !== undefined || options.acquireTimeoutMs !== undefined)
	) {
		throw new TypeError(
			'`connectTimeoutMs` and `acquireTimeoutMs` apply to a knex configuration the container opens: set them on your own Knex instance instead',
		);
	}
	const config = (connection.knex.client as { config?: { acquireConnectionTimeout?: unknown } }).config;
	return { connectTimeoutMs, acquireTimeoutMs: Number(config?.acquireConnectionTimeout ?? 60_000) };
}
