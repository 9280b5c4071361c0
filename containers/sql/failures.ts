/**
 * Failures of the SQL database, said plainly: which database (PostgreSQL `host:port/database`, never the
 * password; or the SQLite file) and why (refused, no answer in time, wrong password, no such database, read-only
 * file, missing folder, full disk), with the driver's error kept as `cause`.
 */
import type { Knex } from 'knex';
import { PartialAddError } from 'lightsched/kit';
import type { SqlDialect } from './schema.js';

/** `PostgreSQL at host:port/database` or `SQLite file <path>`, from a knex instance's configuration. */
export function describeDatabase(knex: Knex, dialect: SqlDialect): string {
	const connection = (knex.client as { config?: { connection?: unknown } }).config?.connection;
	if (dialect === 'sqlite') {
		const filename =
			typeof connection === 'object' && connection !== null
				? (connection as { filename?: unknown }).filename
				: connection;
		return `SQLite file ${typeof filename === 'string' ? filename : '(unknown)'}`;
	}
	return `PostgreSQL at ${describePgConnection(connection)}`;
}

/** `host:port/database` of a pg connection setting (a URL or an object), without user or password. */
export function describePgConnection(connection: unknown): string {
	let host: unknown;
	let port: unknown;
	let database: unknown;
	let url: unknown = connection;
	if (typeof connection === 'object' && connection !== null) {
		({ host, port, database } = connection as { host?: unknown; port?: unknown; database?: unknown });
		url = (connection as { connectionString?: unknown }).connectionString;
	}
	if (typeof url === 'string') {
		try {
			const parsed = new URL(url);
			host ??= decodeURIComponent(parsed.hostname);
			port ??= parsed.port;
			database ??= decodeURIComponent(parsed.pathname.replace(/^\//, ''));
		} catch {
			// Not a URL (a libpq key=value string): say nothing more of it, it may hold a password.
		}
	}
	if (typeof connection === 'function') return '(a connection from a function)';
	const text = (value: unknown, fallback: string): string =>
		(typeof value === 'string' && value.length > 0) || typeof value === 'number' ? String(value) : fallback;
	return `${text(host ?? process.env['PGHOST'], 'localhost')}:${text(port ?? process.env['PGPORT'], '5432')}/${text(database ?? process.env['PGDATABASE'], '(default database)')}`;
}

/** Why a driver error happened, in words, or `null` when it is not a connection or storage failure we know. */
export function explain(error: unknown, bounds: { connectTimeoutMs: number; acquireTimeoutMs: number }): string | null {
	const { code, message, name } = (error ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
	const text = typeof message === 'string' ? message : '';
	switch (code) {
		case 'ECONNREFUSED':
			return 'connection refused (is the server running and listening there?)';
		case 'ENOTFOUND':
		case 'EAI_AGAIN':
			return 'host not found';
		case 'ECONNRESET':
		case 'EPIPE':
			return 'the connection was cut';
		case 'ETIMEDOUT':
		case 'EHOSTUNREACH':
		case 'ENETUNREACH':
			return 'the server cannot be reached';
		case '28P01':
			return 'password authentication failed';
		case '28000':
			return 'the server refused this user (authentication)';
		case '3D000':
			return 'the database does not exist';
		case '57P01':
		case '57P02':
			return 'the server shut the connection down';
		case '57P03':
			return 'the server is starting up or shutting down';
		case '53300':
			return 'the server has no connection slot left';
		case 'SQLITE_READONLY':
			return 'the database file (or its folder) is read-only';
		case 'SQLITE_CANTOPEN':
			return 'cannot open the database file (does its folder exist, and may this process write there?)';
		case 'SQLITE_FULL':
			return 'the disk is full';
		case 'SQLITE_IOERR':
			return 'disk I/O error (a full disk or a file size limit?)';
		case 'SQLITE_BUSY':
			return 'the file stayed locked by another connection past busyTimeoutMs';
		default:
			break;
	}
	if (name === 'KnexTimeoutError') return `no connection within ${bounds.acquireTimeoutMs} ms (acquireTimeoutMs)`;
	if (text === 'timeout expired' || /Connection terminated due to connection timeout/.test(text)) {
		return `no answer within ${bounds.connectTimeoutMs} ms (connectTimeoutMs)`;
	}
	if (/Connection terminated|connection ended|Client has encountered a connection error/i.test(text))
		return 'the connection was cut';
	return null;
}

/** The message of a failed call: `<what> failed: <database>: <why> (<driver message>)`. */
export function failureMessage(
	what: string,
	database: string,
	error: unknown,
	bounds: { connectTimeoutMs: number; acquireTimeoutMs: number },
): string {
	const driver = error instanceof Error ? error.message : String(error);
	const why = explain(error, bounds);
	return why === null ? `${what} failed: ${database}: ${driver}` : `${what} failed: ${database}: ${why} (${driver})`;
}

/**
 * Whether a PostgreSQL call may have been applied although it failed: its connection was cut while it was on its
 * way (the server may have committed it and lost only its reply). A call refused before it was sent (connection
 * refused, no connection in time, a client no longer queryable) and an error the server answered with were not.
 * A connection cut while it was being made looks the same to the driver (pg: "Connection terminated unexpectedly"),
 * so it counts as maybe applied too: unsure, never wrongly "not stored".
 */
export function mayHaveApplied(error: unknown): boolean {
	const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
	if (code === 'ECONNRESET' || code === 'EPIPE') return true;
	return typeof message === 'string' && /Connection terminated unexpectedly|connection ended/i.test(message);
}

/**
 * An add's failure as its caller should see it: on PostgreSQL, when the add may have been applied (see
 * `mayHaveApplied`: the connection cut with it on its way), a `PartialAddError` whose `unsureIds` are all its ids
 * (stored all or none: one statement), so the caller can look them up or add them again by id; else `error`.
 */
export function addFailure(error: unknown, dialect: SqlDialect, where: string, ids: readonly string[]): unknown {
	if (dialect !== 'pg' || error instanceof PartialAddError) return error;
	const cause = (error as { cause?: unknown } | null)?.cause ?? error;
	return mayHaveApplied(cause) ? new PartialAddError(where, ids.length, [], ids, error) : error;
}
