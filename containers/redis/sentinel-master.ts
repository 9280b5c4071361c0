/**
 * An ioredis connection that finds its master through Redis Sentinel (`sentinels` and `name` options) asks the
 * sentinels once, when it connects. After a failover it learns of the new master only when its connection closes
 * (the sentinels close the clients of a master they turn into a replica, when they reach it): a master that stops
 * answering behind an open connection (a crash the kernel does not see, a partition, a process frozen) keeps it
 * for ever, every call timing out (ioredis's `failoverDetector`, off by default, is the caller's choice).
 * `followSentinelMaster` asks the sentinels where the master is now and reconnects the connection when it is
 * elsewhere; the container's call guard calls it when a call gets no reply in time (call-guard.ts).
 */
import { Redis, type RedisOptions } from 'ioredis';

/** What a connection made with `sentinels` knows of them. */
export interface SentinelView {
	/** The master's name the sentinels know it by. */
	readonly name: string;
	/** The sentinels, `host:port` each. */
	readonly sentinels: readonly string[];
}

type SentinelOptions = RedisOptions & { sentinels?: readonly { host?: string; port?: number }[] | null };

/** The sentinels and master name of an ioredis connection made with `sentinels`, or `undefined`. */
export function sentinelsOf(redis: Redis): SentinelView | undefined {
	const options = redis.options as SentinelOptions | undefined;
	const list = options?.sentinels;
	if (!Array.isArray(list) || list.length === 0 || typeof options?.name !== 'string') return undefined;
	return {
		name: options.name,
		sentinels: list.map((sentinel) => `${sentinel.host ?? 'localhost'}:${sentinel.port ?? 26379}`),
	};
}

/** The address the connection is connected to (`host:port`), or `undefined` while it is not. */
export function connectedAddress(redis: Redis): string | undefined {
	const stream = redis.stream as { remoteAddress?: string; remotePort?: number } | undefined;
	if (stream?.remoteAddress === undefined || stream.remotePort === undefined) return undefined;
	return `${stream.remoteAddress.replace(/^::ffff:/, '')}:${stream.remotePort}`;
}

/** How long each sentinel has to connect and answer. */
const ASK_BOUND_MS = 1000;

/** The master's address as the first sentinel that answers in time names it (the connection's `natMap` applied). */
async function askSentinels(redis: Redis): Promise<string | undefined> {
	const options = redis.options as SentinelOptions;
	for (const sentinel of options.sentinels ?? []) {
		const client = new Redis({
			host: sentinel.host ?? 'localhost',
			port: sentinel.port ?? 26379,
			...(options.sentinelUsername === undefined ? {} : { username: options.sentinelUsername }),
			...(options.sentinelPassword === undefined ? {} : { password: options.sentinelPassword }),
			...(options.enableTLSForSentinelMode && options.sentinelTLS ? { tls: options.sentinelTLS } : {}),
			lazyConnect: true,
			connectTimeout: ASK_BOUND_MS,
			commandTimeout: ASK_BOUND_MS,
			maxRetriesPerRequest: 0,
			retryStrategy: () => null,
			enableOfflineQueue: false,
		});
		client.on('error', () => undefined);
		try {
			await client.connect();
			const reply = await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', String(options.name));
			if (!Array.isArray(reply) || reply.length < 2) continue;
			const address = `${String(reply[0])}:${String(reply[1])}`;
			const { natMap } = options;
			const mapped = typeof natMap === 'function' ? natMap(address) : natMap?.[address];
			return mapped === undefined || mapped === null ? address : `${mapped.host}:${mapped.port}`;
		} catch {
			// This sentinel is down or does not know the master: ask the next one.
		} finally {
			client.disconnect();
		}
	}
	return undefined;
}

/** Connections with a question to the sentinels on its way (one at a time each). */
const asking = new WeakSet<Redis>();

/**
 * When the sentinels name a master other than the one `redis` is connected to, reconnect it (ioredis asks the
 * sentinels again and sends the calls still waiting for a reply again on the new connection). A connection not made
 * with `sentinels`, or already asking, is left alone. Never rejects.
 */
export async function followSentinelMaster(redis: Redis): Promise<void> {
	if (sentinelsOf(redis) === undefined || asking.has(redis)) return;
	asking.add(redis);
	try {
		const master = await askSentinels(redis);
		const connected = connectedAddress(redis);
		if (master !== undefined && connected !== undefined && master !== connected && redis.status !== 'end')
			redis.disconnect(true);
	} finally {
		asking.delete(redis);
	}
}
