/**
 * A real redis-server for tests and benchmarks: started as a child process on a random loopback port in a temp
 * dir, stopped at the end. Installs redis-server with apt-get when it is missing and we are root; otherwise
 * fails with the command that installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { listenOnLoopback, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface RedisServerOptions {
	/** Extra `redis-server` arguments, for example `['--appendonly', 'yes']`. */
	readonly args?: readonly string[];
}

export interface RedisServer {
	readonly port: number;
	readonly url: string;
	/** The server's working directory (AOF files live here). */
	readonly dir: string;
	readonly pid: number | undefined;
	/** Stop the server (SIGTERM, so it writes its AOF) and wait for it to exit. */
	stop(): Promise<void>;
	/** Stop it and start it again on the same port and dir. */
	restart(): Promise<void>;
	/** Freeze the server (SIGSTOP): connections stay open but nothing answers. */
	pause(): void;
	/** Unfreeze it (SIGCONT). */
	resume(): void;
	/** Stop the server and delete its dir. */
	close(): Promise<void>;
}

const INSTALL = 'apt-get install -y redis-server';

/** Servers still running; killed if the test process exits without closing them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
	for (const child of live) child.kill('SIGKILL');
});

function findBinary(): string {
	const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
	if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
	if (process.getuid?.() === 0) {
		// Wait for another apt run (the shared machine installs several packages) before ours.
		spawnSync('sh', ['-c', 'while pgrep -x apt-get >/dev/null; do sleep 2; done'], { stdio: 'ignore' });
		const installed = spawnSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${INSTALL}`], { encoding: 'utf8' });
		if (installed.status === 0) return findBinary();
		throw new Error(`redis-server is missing and \`${INSTALL}\` failed:\n${installed.stderr}`);
	}
	throw new Error(`redis-server is missing; install it with: sudo ${INSTALL}`);
}

function launch(binary: string, port: number, dir: string, args: readonly string[]): Promise<ChildProcess> {
	return new Promise((resolve, reject) => {
		const child = spawn(
			binary,
			['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', '--dir', dir, ...args],
			{ cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
		);
		let output = '';
		const onData = (chunk: Buffer): void => {
			output += chunk.toString();
			if (output.includes('Ready to accept connections')) {
				child.stdout?.off('data', onData);
				child.stdout?.resume();
				live.add(child);
				child.once('exit', () => live.delete(child));
				resolve(child);
			}
		};
		child.stdout?.on('data', onData);
		child.stderr?.on('data', (chunk: Buffer) => {
			output += chunk.toString();
		});
		child.once('exit', (code) =>
			reject(new Error(`redis-server exited with ${String(code)} before it was ready:\n${output}`)),
		);
		child.once('error', reject);
	});
}

/** Start a redis-server on a random loopback port in a new temp dir. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
	const binary = findBinary();
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-redis-'));
	const args = options.args ?? [];
	let port = 0;
	let child: ChildProcess | undefined;
	for (let tries = 0; child === undefined; tries++) {
		port = await freePort();
		try {
			child = await launch(binary, port, dir, args);
		} catch (error) {
			if (tries >= 4) throw error;
		}
	}
	let current: ChildProcess = child;
	const stop = async (): Promise<void> => {
		if (current.exitCode !== null || current.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
		current.kill('SIGCONT');
		current.kill('SIGTERM');
		await exited;
	};
	const server: RedisServer = {
		port,
		url: `redis://127.0.0.1:${port}`,
		dir,
		get pid() {
			return current.pid;
		},
		stop,
		async restart() {
			await stop();
			current = await launch(binary, port, dir, args);
		},
		pause() {
			current.kill('SIGSTOP');
		},
		resume() {
			current.kill('SIGCONT');
		},
		async close() {
			await stop();
			rmSync(dir, { recursive: true, force: true });
		},
	};
	return server;
}

export interface CuttingProxy {
	readonly port: number;
	readonly url: string;
	/** How many times connections were cut. */
	readonly cuts: number;
	/** Cut every connection through it now (as the timer does), whatever is in flight. */
	cut(): void;
	close(): Promise<void>;
}

/**
 * A TCP proxy on a random loopback port in front of `targetPort` that cuts every connection through it every
 * `everyMs` (both sockets destroyed at once, whatever is in flight): a flaky network, where a command may be
 * applied by the server while its reply never reaches the client.
 */
export async function startCuttingProxy(targetPort: number, everyMs: number): Promise<CuttingProxy> {
	const pairs = new Set<[Socket, Socket]>();
	let cuts = 0;
	const server = createServer((client) => {
		const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
		const pair: [Socket, Socket] = [client, upstream];
		pairs.add(pair);
		const end = (): void => {
			pairs.delete(pair);
			client.destroy();
			upstream.destroy();
		};
		client.on('error', end).on('close', end);
		upstream.on('error', end).on('close', end);
		client.pipe(upstream);
		upstream.pipe(client);
	});
	const port = await listenOnLoopback(server);
	const cut = (): void => {
		if (pairs.size > 0) cuts++;
		for (const [client, upstream] of [...pairs]) {
			client.destroy();
			upstream.destroy();
		}
		pairs.clear();
	};
	const timer = setInterval(cut, everyMs);
	return {
		port,
		url: `redis://127.0.0.1:${port}`,
		get cuts() {
			return cuts;
		},
		cut,
		async close() {
			clearInterval(timer);
			for (const [client, upstream] of pairs) {
				client.destroy();
				upstream.destroy();
			}
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

/** A TCP proxy in front of a redis-server whose traffic a test can swallow or refuse (test/support/tcp-proxy.ts). */
export interface SwallowingProxy extends TcpProxy {
	/** `redis://` and the proxy's address. */
	readonly url: string;
}

/** A proxy in front of the redis-server at `targetPort` (see `startTcpProxy`). */
export async function startSwallowingProxy(targetPort: number): Promise<SwallowingProxy> {
	const proxy = await startTcpProxy(targetPort);
	return Object.assign(proxy, { url: `redis://127.0.0.1:${proxy.port}` });
}
