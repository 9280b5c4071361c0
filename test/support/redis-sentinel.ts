/**
 * A real Redis Sentinel set-up for tests: a redis-server master, a replica of it (test/support/redis.ts) and three
 * sentinels (`redis-server <file> --sentinel`, each with its own config file, which a sentinel rewrites) watching
 * the master as `mymaster` with a quorum of two, on random loopback ports. Ready once every sentinel knows the
 * replica and the two other sentinels, so a failover can be tested (forced with `SENTINEL FAILOVER`, or after the
 * master stops answering for `downAfterMs`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { startRedis, type RedisServer } from './redis.js';

export interface RedisSentinelOptions {
	/** `down-after-milliseconds`: how long the master may not answer before the sentinels think it down (default 1 s). */
	readonly downAfterMs?: number;
	/** How long to wait until every sentinel sees the whole set-up (default 20 s). */
	readonly readyMs?: number;
}

export interface RedisSentinel {
	/** The name the sentinels know the master by. */
	readonly name: string;
	/** The sentinels' addresses, as ioredis's `sentinels` option takes them. */
	readonly sentinels: readonly { host: string; port: number }[];
	/** The two data servers (the first started as the master). */
	readonly servers: readonly RedisServer[];
	/** The server on `port`. */
	server(port: number): RedisServer;
	/** ioredis options that find the master through the sentinels. */
	options(): { sentinels: { host: string; port: number }[]; name: string };
	/** A new ioredis client on the master through the sentinels, disconnected by `close()`. */
	connect(): Redis;
	/** The master's port as the first sentinel that answers sees it. */
	master(): Promise<number>;
	/** Wait until a sentinel names a master other than `port`, and that server says it is a master. */
	untilFailedOver(from: number, timeoutMs?: number): Promise<number>;
	/** Disconnect the clients of `connect()`, stop the sentinels and servers (frozen ones too), delete their dirs. */
	close(): Promise<void>;
}

const NAME = 'mymaster';
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The sentinels still running: killed if the process exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
	for (const child of live) child.kill('SIGKILL');
});

interface SentinelProcess {
	readonly port: number;
	stop(): Promise<void>;
}

async function startSentinel(masterPort: number, downAfterMs: number): Promise<SentinelProcess> {
	const binary = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
	if (binary === '') throw new Error('redis-server is missing (startRedis installs it: start the servers first)');
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-sentinel-'));
	const port = await freePort();
	const file = join(dir, 'sentinel.conf');
	writeFileSync(
		file,
		[
			`port ${port}`,
			'bind 127.0.0.1',
			`dir ${dir}`,
			`sentinel monitor ${NAME} 127.0.0.1 ${masterPort} 2`,
			`sentinel down-after-milliseconds ${NAME} ${downAfterMs}`,
			`sentinel failover-timeout ${NAME} 4000`,
			`sentinel parallel-syncs ${NAME} 1`,
			'',
		].join('\n'),
	);
	const child = spawn(binary, [file, '--sentinel'], { cwd: dir, stdio: 'ignore' });
	live.add(child);
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	void exited.then(() => live.delete(child));
	return {
		port,
		async stop() {
			if (child.exitCode === null && child.signalCode === null) {
				child.kill('SIGKILL');
				await exited;
			}
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** A short-lived client of `port` (a sentinel or a server) for one question; `undefined` while it does not answer. */
async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T | undefined> {
	const client = new Redis(port, '127.0.0.1', {
		lazyConnect: true,
		maxRetriesPerRequest: 0,
		connectTimeout: 1000,
		commandTimeout: 1000,
		retryStrategy: () => null,
	});
	client.on('error', () => undefined);
	try {
		return await question(client);
	} catch {
		return undefined;
	} finally {
		client.disconnect();
	}
}

/** `SENTINEL MASTER`'s flat reply as a map. */
function fields(reply: unknown): Map<string, string> {
	const list = (reply as string[]) ?? [];
	const out = new Map<string, string>();
	for (let i = 0; i + 1 < list.length; i += 2) out.set(String(list[i]), String(list[i + 1]));
	return out;
}

/** Start a master, its replica and three sentinels, and wait until each sentinel sees them all. */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
	const servers: RedisServer[] = [];
	const sentinels: SentinelProcess[] = [];
	const clients: Redis[] = [];
	const close = async (): Promise<void> => {
		for (const client of clients) client.disconnect();
		await Promise.all(sentinels.map((sentinel) => sentinel.stop()));
		for (const server of servers) server.resume();
		await Promise.all(servers.map((server) => server.close()));
	};
	try {
		// Replicas sync at once, not after the 5 s redis-server waits for more replicas by default (either may be master).
		const args = ['--repl-diskless-sync-delay', '0'];
		const master = await startRedis({ args });
		servers.push(master);
		servers.push(await startRedis({ args: [...args, '--replicaof', '127.0.0.1', String(master.port)] }));
		for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(master.port, options.downAfterMs ?? 1000));
		const deadline = Date.now() + (options.readyMs ?? 20_000);
		for (const sentinel of sentinels) {
			for (;;) {
				const seen = fields(await ask(sentinel.port, (client) => client.call('SENTINEL', 'MASTER', NAME)));
				if (seen.get('num-slaves') === '1' && seen.get('num-other-sentinels') === '2') break;
				if (Date.now() > deadline)
					throw new Error(`Sentinel ${sentinel.port} does not see the replica and two sentinels in time`);
				await pause(100);
			}
		}
		const addresses = sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port }));
		const masterPort = async (): Promise<number> => {
			for (const sentinel of sentinels) {
				const reply = await ask(sentinel.port, (client) =>
					client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME),
				);
				if (Array.isArray(reply)) return Number(reply[1]);
			}
			throw new Error('No sentinel answers');
		};
		const setup: RedisSentinel = {
			name: NAME,
			sentinels: addresses,
			servers,
			server(port) {
				const found = servers.find((server) => server.port === port);
				if (found === undefined) throw new Error(`No server of this set-up on port ${port}`);
				return found;
			},
			options: () => ({ sentinels: addresses.map((address) => ({ ...address })), name: NAME }),
			connect() {
				const client = new Redis(setup.options());
				clients.push(client);
				return client;
			},
			master: masterPort,
			async untilFailedOver(from, timeoutMs = 30_000) {
				const until = Date.now() + timeoutMs;
				for (;;) {
					const now = await masterPort().catch(() => from);
					if (now !== from) {
						const role = await ask(now, async (client) => String(await client.call('ROLE')));
						if (role?.startsWith('master')) return now;
					}
					if (Date.now() > until) throw new Error(`The sentinels did not fail over from ${from} in time`);
					await pause(100);
				}
			},
			close,
		};
		return setup;
	} catch (error) {
		await close();
		throw error;
	}
}
