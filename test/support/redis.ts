/**
 * A real redis-server for tests and benchmarks: started as a child process on a random loopback port in a temp
 * dir, stopped at the end. Installs redis-server with apt-get when it is missing and we are root; otherwise
 * fails with the command that installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { startInterceptingProxy, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

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
	/**
	 * The last lines the current server (the restarted one after `restart()`) wrote, and how it exited if it did:
	 * for a failure's message when the server could not be reached.
	 */
	log(): string;
}

const INSTALL = 'apt-get install -y redis-server';

/** Servers still running, and the dirs of servers not closed: killed and deleted if the process exits first. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
	for (const child of live) child.kill('SIGKILL');
	for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
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

/** How many of a server's last output lines `RedisServer.log()` keeps. */
const TAIL_LINES = 40;

/**
 * A server's output, its last `TAIL_LINES` lines, and how it exited: kept for as long as the server runs (not only
 * until it is ready), so a test that finds it unreachable after a restart can say whether it exited and why.
 */
class OutputTail {
	#lines: string[] = [];
	#partial = '';
	#exit = '';

	add(chunk: Buffer): void {
		const lines = (this.#partial + chunk.toString()).split('\n');
		this.#partial = lines.pop() ?? '';
		this.#lines.push(...lines);
		if (this.#lines.length > TAIL_LINES) this.#lines.splice(0, this.#lines.length - TAIL_LINES);
	}

	exited(code: number | null, signal: NodeJS.Signals | null): void {
		this.#exit = `[${new Date().toISOString()}] exited with ${signal ?? String(code)}`;
	}

	text(): string {
		return [...this.#lines, this.#partial, this.#exit].filter((line) => line !== '').join('\n');
	}
}

function launch(
	binary: string,
	port: number,
	dir: string,
	args: readonly string[],
): Promise<{ child: ChildProcess; output: OutputTail }> {
	return new Promise((resolve, reject) => {
		const child = spawn(
			binary,
			['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', '--dir', dir, ...args],
			{ cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
		);
		const output = new OutputTail();
		let ready = false;
		child.stdout?.on('data', (chunk: Buffer) => {
			output.add(chunk);
			if (!ready && output.text().includes('Ready to accept connections')) {
				ready = true;
				live.add(child);
				resolve({ child, output });
			}
		});
		child.stderr?.on('data', (chunk: Buffer) => output.add(chunk));
		child.once('exit', (code, signal) => {
			live.delete(child);
			output.exited(code, signal);
			if (!ready)
				reject(new Error(`redis-server exited with ${String(code)} before it was ready:\n${output.text()}`));
		});
		child.once('error', reject);
	});
}

/** Start a redis-server on a random loopback port in a new temp dir. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
	const binary = findBinary();
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-redis-'));
	dirs.add(dir);
	const args = options.args ?? [];
	let port = 0;
	let started: { child: ChildProcess; output: OutputTail } | undefined;
	for (let tries = 0; started === undefined; tries++) {
		port = await freePort();
		try {
			started = await launch(binary, port, dir, args);
		} catch (error) {
			if (tries >= 4) throw error;
		}
	}
	let current: ChildProcess = started.child;
	let output: OutputTail = started.output;
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
			({ child: current, output } = await launch(binary, port, dir, args));
		},
		pause() {
			current.kill('SIGSTOP');
		},
		resume() {
			current.kill('SIGCONT');
		},
		log() {
			return output.text();
		},
		async close() {
			await stop();
			rmSync(dir, { recursive: true, force: true });
			dirs.delete(dir);
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
	const proxy = await startInterceptingProxy(targetPort, () => ({}));
	let cuts = 0;
	const cut = (): void => {
		if (proxy.cut() > 0) cuts++;
	};
	const timer = setInterval(cut, everyMs);
	return {
		port: proxy.port,
		url: `redis://127.0.0.1:${proxy.port}`,
		get cuts() {
			return cuts;
		},
		cut,
		async close() {
			clearInterval(timer);
			await proxy.close();
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
