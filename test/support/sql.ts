/**
 * SQL backends for tests: a SQLite file in a temp folder or a database on a throw-away PostgreSQL server,
 * each a fresh, empty database per call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexModule, { type Knex } from 'knex';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startPostgres, type PostgresServer } from './postgres.js';

/** knex's factory, whether the module's default export is the function or holds it as `knex`. */
export const createKnex = ((knexModule as unknown as { knex?: typeof knexModule }).knex ?? knexModule) as (
	config: Knex.Config,
) => Knex;

export interface SqlBackend {
	readonly name: 'SQLite' | 'PostgreSQL';
	/** A knex configuration for a fresh, empty database. */
	freshDatabase(): Promise<Knex.Config>;
	/** Stop the server / remove the files. */
	stop(): Promise<void>;
	/** The PostgreSQL server (PostgreSQL only). */
	readonly server?: PostgresServer;
}

/** SQLite files through the `sqlite3` driver (the default) or `better-sqlite3`. */
export function sqliteBackend(client: 'sqlite3' | 'better-sqlite3' = 'sqlite3'): SqlBackend {
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-sqlite-'));
	let n = 0;
	return {
		name: 'SQLite',
		freshDatabase: async () => ({
			client,
			connection: { filename: join(dir, `db${++n}.sqlite`) },
			useNullAsDefault: true,
		}),
		stop: async () => rmSync(dir, { recursive: true, force: true }),
	};
}

export async function postgresBackend(): Promise<SqlBackend> {
	const server = await startPostgres();
	let n = 0;
	return {
		name: 'PostgreSQL',
		server,
		freshDatabase: async () => ({
			client: 'pg',
			connection: await server.createDatabase(`db${++n}`),
			pool: { min: 0, max: 4 },
		}),
		stop: () => server.stop(),
	};
}

/** The backend of `kind`, fresh: a temp folder of SQLite files, or a throw-away PostgreSQL server. */
export async function sqlBackend(kind: 'SQLite' | 'PostgreSQL'): Promise<SqlBackend> {
	return kind === 'SQLite' ? sqliteBackend() : await postgresBackend();
}

/** Something a test opens and must close: a container, a persistencer, a store (`close`) or a knex (`destroy`). */
export type Closable = { close(): Promise<void> } | Knex;

/**
 * For a `describe` block on `kind`: its backend, started before the block's tests and stopped after them; `track`,
 * to close a part (or destroy a knex) after the test that opened it, the last opened first; and `closeTracked`, to
 * do so at once, inside a test.
 */
export function sqlBackendPerSuite(kind: 'SQLite' | 'PostgreSQL'): {
	backend: () => SqlBackend;
	track: <T extends Closable>(part: T) => T;
	closeTracked: () => Promise<void>;
} {
	let backend: SqlBackend | undefined;
	const opened: Closable[] = [];
	const closeTracked = async (): Promise<void> => {
		for (const part of opened.splice(0).reverse())
			await ('destroy' in part && typeof part.destroy === 'function'
				? part.destroy()
				: (part as { close(): Promise<void> }).close());
	};
	beforeAll(async () => {
		backend = await sqlBackend(kind);
	}, 60_000);
	afterEach(closeTracked);
	afterAll(() => backend?.stop());
	return {
		backend: () => {
			if (backend === undefined) throw new Error(`The ${kind} backend is not started yet (use it inside a test)`);
			return backend;
		},
		track: (part) => {
			opened.push(part);
			return part;
		},
		closeTracked,
	};
}

/** A transition patch to a final status that clears the claim (owner, lease) and sets no output or error. */
export const DONE = { finishedAt: 1, owner: null, leaseUntil: null, output: null, error: null };

/**
 * From now on the database of `admin` refuses every `CREATE FUNCTION` with insufficient_privilege (42501, "no
 * functions here"), as a managed server's policy may: an event trigger. Resolves with the undo.
 */
export async function refuseFunctions(admin: Knex): Promise<() => Promise<void>> {
	await admin.raw(`CREATE FUNCTION no_functions() RETURNS event_trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no functions here' USING ERRCODE = '42501'; END $$`);
	await admin.raw(`CREATE EVENT TRIGGER no_functions ON ddl_command_start WHEN TAG IN ('CREATE FUNCTION')
		EXECUTE FUNCTION no_functions()`);
	return async () => {
		await admin.raw('DROP EVENT TRIGGER no_functions');
	};
}
