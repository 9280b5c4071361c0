/**
 * What the SQL container does when its database fails (issue 11, items 1 and 6): PostgreSQL refused, stopped,
 * unreachable (accepts and never answers), wrong password, missing database; SQLite read-only, folder missing,
 * disk full. Each call rejects within a bounded time with a `ContainerError` that names the database
 * (`host:port/database`, never the password, or the file) and why, the driver's error kept as `cause`, and
 * nothing already stored is lost. `close()` settles every call in flight.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, SchedulerClosedError } from 'lightsched';
import { SqlContainer, SqlPersistencer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { freePort } from '../support/free-port.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

/** How long a call took to settle, and how: its error (or null when it resolved). */
async function timed(call: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
	const started = Date.now();
	try {
		await call;
		return { error: null, ms: Date.now() - started };
	} catch (error) {
		return { error, ms: Date.now() - started };
	}
}

/** A TCP server that accepts connections and never answers (a hung server or a black-holed network). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
	const sockets = new Set<Socket>();
	const server: Server = createServer((socket) => {
		sockets.add(socket);
		socket.on('error', () => undefined);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const address = server.address();
	return {
		port: typeof address === 'object' && address !== null ? address.port : 0,
		close: () =>
			new Promise((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	};
}

function expectContainerError(error: unknown, where: string, why: RegExp): void {
	expect(error).toBeInstanceOf(ContainerError);
	const e = error as ContainerError;
	expect(e.code).toBe('ERR_CONTAINER');
	expect(e.message).toContain(where);
	expect(e.message).toMatch(why);
	expect(e.cause).toBeInstanceOf(Error);
}

describe('SqlContainer on PostgreSQL when the server fails', () => {
	let pg: PostgresServer;
	beforeAll(async () => {
		pg = await startPostgres();
	}, 60_000);
	afterAll(() => pg?.stop());

	it('connection refused: rejects at once, naming host:port/database and never the password', async () => {
		const port = await freePort();
		const c = new SqlContainer({
			knex: {
				client: 'pg',
				connection: { host: '127.0.0.1', port, user: 'postgres', password: 's3cret-pw', database: 'jobs' },
			},
		});
		const { error, ms } = await timed(c.add(records([{ id: 'a', item: 1 }])));
		expectContainerError(error, `PostgreSQL at 127.0.0.1:${port}/jobs`, /add failed: .*connection refused/);
		expect((error as Error).message).not.toContain('s3cret-pw');
		expect(ms).toBeLessThan(10_000);
		// The same through a URL with a password in it.
		const url = new SqlContainer({
			knex: { client: 'pg', connection: `postgres://postgres:s3cret-pw@127.0.0.1:${port}/jobs` },
		});
		const byUrl = await timed(url.counts());
		expectContainerError(byUrl.error, `PostgreSQL at 127.0.0.1:${port}/jobs`, /connection refused/);
		expect((byUrl.error as Error).message).not.toContain('s3cret-pw');
		await c.close();
		await url.close();
	});

	it('a server that accepts and never answers: rejects within connectTimeoutMs, and close() settles a call in flight', async () => {
		const silent = await silentServer();
		try {
			const c = new SqlContainer({
				knex: {
					client: 'pg',
					connection: { host: '127.0.0.1', port: silent.port, user: 'postgres', database: 'x' },
				},
				connectTimeoutMs: 1_500,
			});
			const { error, ms } = await timed(c.counts());
			expectContainerError(
				error,
				`PostgreSQL at 127.0.0.1:${silent.port}/x`,
				/no answer within 1500 ms \(connectTimeoutMs\)/,
			);
			expect(ms).toBeLessThan(1_500 + 5_000);
			// Defaults (no option): a few seconds, not knex's 60 s, and a close() while the add waits settles both.
			const d = new SqlContainer({
				knex: {
					client: 'pg',
					connection: { host: '127.0.0.1', port: silent.port, user: 'postgres', database: 'x' },
				},
			});
			const pending = timed(d.add(records([{ id: 'a', item: 1 }])));
			await new Promise((resolve) => setTimeout(resolve, 200));
			const closing = timed(d.close());
			const [add, close] = await Promise.all([pending, closing]);
			expect(add.error instanceof SchedulerClosedError || add.error instanceof ContainerError).toBe(true);
			expect(add.ms).toBeLessThan(5_000 + 5_000);
			expect(close.error).toBeNull();
			await c.close();
		} finally {
			await silent.close();
		}
	}, 30_000);

	it('an adopted Knex instance: its own acquire bound names the failure; timeouts set beside it are refused', async () => {
		const silent = await silentServer();
		const adopted = knex({
			client: 'pg',
			// pg's own connect bound, so that the pool can be destroyed while the silent server holds the socket.
			connection: {
				host: '127.0.0.1',
				port: silent.port,
				user: 'postgres',
				database: 'x',
				connectionTimeoutMillis: 3_000,
			},
			acquireConnectionTimeout: 1_200,
		});
		try {
			// The container's timeouts apply to a configuration it opens; on the caller's instance they would do nothing.
			for (const option of [{ connectTimeoutMs: 1_000 }, { acquireTimeoutMs: 1_000 }]) {
				expect(() => new SqlContainer({ knex: adopted, ...option })).toThrow(
					/`connectTimeoutMs` and `acquireTimeoutMs` apply to a knex configuration the container opens/,
				);
			}
			const c = new SqlContainer({ knex: adopted });
			const { error, ms } = await timed(c.counts());
			expectContainerError(
				error,
				`PostgreSQL at 127.0.0.1:${silent.port}/x`,
				/no connection within 1200 ms \(acquireTimeoutMs\)/,
			);
			expect(ms).toBeLessThan(1_200 + 5_000);
			await c.close();
		} finally {
			await adopted.destroy();
			await silent.close();
		}
	}, 30_000);

	it('close() settles a call stuck on the server (a statement waiting on a row lock) within the bound', async () => {
		const db = await pg.createDatabase('stuck');
		const c = new SqlContainer({ knex: { client: 'pg', connection: db }, acquireTimeoutMs: 1_000 });
		await c.add(records([{ id: 'a', item: 1 }]));
		await c.claim(1, 'o', 60_000, Date.now());
		// Another session holds the task's row: the container's transition waits on the lock, indefinitely.
		const pgModule = await import('pg');
		const holder = new pgModule.default.Client(db);
		await holder.connect();
		try {
			await holder.query('BEGIN');
			await holder.query(`SELECT * FROM lightsched_tasks WHERE id = 'a' FOR UPDATE`);
			const stuck = timed(
				c.transition('a', 'running', 'succeeded', { finishedAt: 1, owner: null, leaseUntil: null }, 'o'),
			);
			await new Promise((resolve) => setTimeout(resolve, 300));
			const close = await timed(c.close());
			const call = await stuck;
			expect(close.error).toBeNull();
			expect(call.error).toBeInstanceOf(SchedulerClosedError);
			expect(close.ms).toBeLessThan(1_000 * 3 + 2_000);
		} finally {
			await holder.query('ROLLBACK').catch(() => undefined);
			await holder.end();
		}
	}, 30_000);

	it('database missing and wrong password: say so, naming the server', async () => {
		const missing = new SqlContainer({
			knex: { client: 'pg', connection: { ...pg.connection, database: 'no_such_db' } },
		});
		const a = await timed(missing.counts());
		expectContainerError(a.error, `PostgreSQL at 127.0.0.1:${pg.port}/no_such_db`, /the database does not exist/);
		await missing.close();

		// A role that must give a password (scram) from loopback; the test server trusts everyone else.
		const admin = new SqlContainer({ knex: { client: 'pg', connection: pg.connection }, notify: false });
		await admin.knex.raw(`CREATE ROLE pwuser LOGIN PASSWORD 'right-pw'`);
		const hba = join(pg.dir, 'data', 'pg_hba.conf');
		const { readFileSync } = await import('node:fs');
		writeFileSync(hba, `host all pwuser 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
		await admin.knex.raw('SELECT pg_reload_conf()');
		await admin.close();
		const wrong = new SqlContainer({
			knex: { client: 'pg', connection: { ...pg.connection, user: 'pwuser', password: 'wrong-pw' } },
		});
		const b = await timed(wrong.add(records([{ id: 'a', item: 1 }])));
		expectContainerError(b.error, `PostgreSQL at 127.0.0.1:${pg.port}/postgres`, /password authentication failed/);
		expect((b.error as Error).message).not.toContain('wrong-pw');
		await wrong.close();
	});

	it('server stopped: calls reject clearly while it is down; after a restart everything stored is there', async () => {
		const db = await pg.createDatabase('stopped');
		const c = new SqlContainer({ knex: { client: 'pg', connection: db, pool: { min: 0, max: 4 } } });
		const persist = new SqlPersistencer({ knex: { client: 'pg', connection: db } });
		await c.add(records(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, item: i }))));
		await persist.persist({ ...(await c.get('t0'))!, output: null }, { kept: true });
		await pg.halt();
		try {
			// Each call timed from the start, all at once (a rejection is handled as soon as it comes).
			const outcomes = await Promise.all(
				[
					c.add(records([{ id: 'down', item: 1 }])),
					c.counts(),
					c.claim(5, 'o', 10_000, Date.now()),
					c.get('t1'),
				].map(timed),
			);
			for (const { error, ms } of outcomes) {
				expectContainerError(
					error,
					`PostgreSQL at 127.0.0.1:${pg.port}/stopped`,
					/connection refused|shut the connection down|connection was cut|starting up or shutting down/,
				);
				expect(ms).toBeLessThan(15_000);
			}
			const p = await timed(persist.get('t0'));
			expect((p.error as Error).message).toMatch(
				new RegExp(
					`SqlPersistencer get failed: PostgreSQL at 127.0.0.1:${pg.port}/stopped: connection refused`,
				),
			);
		} finally {
			await pg.restart();
		}
		expect(await c.counts()).toMatchObject({ waiting: 50 });
		expect(await c.get('down')).toBeNull();
		expect(await persist.get('t0')).toEqual({ kept: true });
		await persist.close();
		await c.close();
	}, 60_000);
});

describe('SqlContainer on SQLite when the file cannot be written', () => {
	const root = process.getuid?.() === 0;
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-sqlite-faults-'));
	const mounts: string[] = [];
	const mountTmpfs = (path: string, size: string): void => {
		mkdirSync(path, { recursive: true });
		execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path]);
		mounts.push(path);
	};
	afterAll(() => {
		for (const path of mounts.reverse()) execFileSync('umount', ['-l', path]);
		rmSync(dir, { recursive: true, force: true });
	});
	const open = (filename: string): SqlContainer =>
		new SqlContainer({ knex: { client: 'sqlite3', connection: { filename } } });

	it('folder missing: names the file and says why', async () => {
		const filename = join(dir, 'no', 'such', 'folder', 'tasks.db');
		const c = open(filename);
		const { error } = await timed(c.add(records([{ id: 'a', item: 1 }])));
		expectContainerError(error, `SQLite file ${filename}`, /cannot open the database file \(does its folder exist/);
		await c.close();
		expect(existsSync(filename)).toBe(false);
	});

	it('read-only file: writes say so, reads still work, nothing stored is lost', async () => {
		expect(root).toBe(true); // root ignores file modes: the read-only case needs a read-only mount
		const mount = join(dir, 'ro');
		mountTmpfs(mount, '4m');
		const filename = join(mount, 'tasks.db');
		const first = open(filename);
		await first.add(records(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, item: i }))));
		await first.close();
		execFileSync('mount', ['-o', 'remount,ro', mount]);
		const c = open(filename);
		const { error } = await timed(c.add(records([{ id: 'new', item: 1 }])));
		expectContainerError(error, `SQLite file ${filename}`, /read-only|cannot open/);
		await c.close();
		execFileSync('mount', ['-o', 'remount,rw', mount]);
		const again = open(filename);
		expect(await again.counts()).toMatchObject({ waiting: 20 });
		expect(await again.get('new')).toBeNull();
		await again.close();
	});

	it('disk full: the add that does not fit says so and stores nothing of itself; what was stored stays', async () => {
		expect(root).toBe(true); // a tiny tmpfs needs mount
		const mount = join(dir, 'full');
		mountTmpfs(mount, '256k');
		const filename = join(mount, 'tasks.db');
		const c = open(filename);
		await c.add(records([{ id: 'kept', item: 'x' }]));
		let failure: unknown = null;
		let stored = 1;
		for (let round = 0; round < 200 && failure === null; round++) {
			const batch = records(
				Array.from({ length: 20 }, (_, i) => ({ id: `r${round}-${i}`, item: 'y'.repeat(2_000) })),
			);
			const { error } = await timed(c.add(batch));
			if (error === null) stored += batch.length;
			else failure = error;
		}
		expectContainerError(failure, `SQLite file ${filename}`, /disk is full|disk I\/O error/);
		await c.close();
		const again = open(filename);
		expect((await again.counts()).waiting).toBe(stored);
		expect(await again.get('kept')).toMatchObject({ status: 'waiting', item: 'x' });
		await again.close();
	});
});
