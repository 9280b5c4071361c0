/**
 * A real PgBouncer in front of a test PostgreSQL server (test/support/postgres.ts): Debian's
 * `/usr/sbin/pgbouncer` with an ini of its own in a temp folder, on a random loopback port, in transaction pool
 * mode by default (the usual production set-up, where LISTEN does not survive). Every database of the server is
 * reachable through it (a `*` fallback entry). Auth: the test server trusts loopback, so PgBouncer does too
 * (`auth_type = trust`, the `postgres` user listed in its auth file). PgBouncer refuses to run as root, so as
 * root it runs as the `postgres` OS user, like the server.
 *
 * Usage: `const bouncer = await startPgBouncer(pg); … { client: 'pg', connection: bouncer.connection('db1') } … await bouncer.stop();`
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import type { PostgresServer } from './postgres.js';

export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

export interface PgBouncer {
	readonly host: '127.0.0.1';
	readonly port: number;
	/** A knex / pg connection object for `database` through the pooler. */
	connection(database: string): { host: string; port: number; user: string; database: string };
	/** PgBouncer's log so far (for failure messages). */
	log(): string;
	/** Stop PgBouncer and remove its folder. Idempotent. */
	stop(): Promise<void>;
}

export interface StartPgBouncerOptions {
	/** @default 'transaction' */
	readonly poolMode?: 'transaction' | 'session' | 'statement';
	/** Server connections per database and user. @default 4 */
	readonly poolSize?: number;
}

function runAs(): { uid: number; gid: number } | null {
	if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
	const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
	return { uid: id('-u'), gid: id('-g') };
}

/** Start PgBouncer in front of `server`; resolves once it listens. */
export async function startPgBouncer(server: PostgresServer, options: StartPgBouncerOptions = {}): Promise<PgBouncer> {
	if (!existsSync(PGBOUNCER_BIN))
		throw new Error(`No ${PGBOUNCER_BIN}: install Debian's pgbouncer package (apt-get install -y pgbouncer)`);
	const user = runAs();
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-pgbouncer-'));
	const port = await freePort();
	const ini = join(dir, 'pgbouncer.ini');
	const users = join(dir, 'users.txt');
	writeFileSync(users, '"postgres" ""\n');
	writeFileSync(
		ini,
		[
			'[databases]',
			`* = host=${server.host} port=${server.port}`,
			'[pgbouncer]',
			`listen_addr = 127.0.0.1`,
			`listen_port = ${port}`,
			'unix_socket_dir =',
			'auth_type = trust',
			`auth_file = ${users}`,
			`pool_mode = ${options.poolMode ?? 'transaction'}`,
			`default_pool_size = ${options.poolSize ?? 4}`,
			'max_client_conn = 500',
			'ignore_startup_parameters = extra_float_digits,options,application_name',
			'server_login_retry = 1',
			'',
		].join('\n'),
	);
	if (user !== null) for (const path of [dir, ini, users]) chownSync(path, user.uid, user.gid);
	const child: ChildProcess = spawn(PGBOUNCER_BIN, [ini], {
		cwd: dir,
		stdio: ['ignore', 'pipe', 'pipe'],
		...(user ?? {}),
	});
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	let log = '';
	const kill = (): void => {
		child.kill('SIGKILL');
	};
	process.once('exit', kill);
	try {
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`PgBouncer did not start within 20 s:\n${log}`)), 20_000);
			const onData = (chunk: Buffer): void => {
				log = (log + chunk.toString()).slice(-20_000);
				if (/listening on 127\.0\.0\.1:\d+/.test(log)) {
					clearTimeout(timer);
					resolve();
				}
			};
			child.stdout?.on('data', onData);
			child.stderr?.on('data', onData);
			child.once('error', (error) => {
				clearTimeout(timer);
				reject(error);
			});
			child.once('exit', (code, signal) => {
				clearTimeout(timer);
				reject(new Error(`PgBouncer exited (${String(code ?? signal)}) before listening:\n${log}`));
			});
		});
	} catch (error) {
		kill();
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
	let stopping: Promise<void> | null = null;
	return {
		host: '127.0.0.1',
		port,
		connection: (database) => ({ host: '127.0.0.1', port, user: 'postgres', database }),
		log: () => log,
		stop() {
			stopping ??= (async () => {
				process.removeListener('exit', kill);
				if (child.exitCode === null && child.signalCode === null) {
					child.kill('SIGINT');
					const timer = setTimeout(kill, 5_000);
					await exited;
					clearTimeout(timer);
				}
				rmSync(dir, { recursive: true, force: true });
			})();
			return stopping;
		},
	};
}
