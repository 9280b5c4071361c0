/**
 * The container's connection to Redis from its `redis` option: a `redis://` URL or ioredis options make
 * connections the container owns (and closes), which find a server that is back within 1.3 s (`BACK_WITHIN_MS`); an
 * ioredis instance stays the caller's, options and all, and the subscriber the wake-up channel needs is duplicated
 * from it.
 */
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { describeValue } from 'lightsched/kit';

/** `redis` as an ioredis `Cluster` (its commands go to the node of their slot, or to any node), or `undefined`. */
export function asCluster(redis: unknown): Cluster | undefined {
	return (redis as { isCluster?: unknown } | null)?.isCluster === true ? (redis as Cluster) : undefined;
}

export interface RedisConnection {
	readonly redis: Redis;
	/** Whether the container made the connection, so closes it. */
	readonly owned: boolean;
	/** A second connection to the same server, for the wake-up channel's SUBSCRIBE. */
	readonly makeSubscriber: () => Redis;
	/** Another command connection to the same server, with the same options, which the container owns. */
	readonly makeDuplicate: () => Redis;
}

function isRedisInstance(value: unknown): value is Redis {
	return (
		typeof value === 'object' &&
		value !== null &&
		typeof (value as Redis).evalsha === 'function' &&
		typeof (value as Redis).duplicate === 'function'
	);
}

/**
 * The subscriber re-subscribes itself after a reconnection (channel.ts, on `ready`), handling a failure. ioredis's own
 * re-subscription drops its command's promise: closed before the reply, it is an unhandled rejection in the user's
 * process (test/containers/redis-resubscribe.test.ts).
 */
const SUBSCRIBER = { autoResubscribe: false } as const;

/** The longest pause between two reconnection attempts of a connection the container opens, jitter aside. */
export const RECONNECT_MAX_MS = 1000;

/** The jitter added to each pause: 0 to `JITTER_MS - 1` ms, as ioredis's own. */
const JITTER_MS = 200;

/**
 * The pause before reconnection attempt `times` of a connection the container opens: 50 ms doubling up to
 * `RECONNECT_MAX_MS`, plus up to `JITTER_MS - 1` ms of jitter (as ioredis's, so processes cut off together do not
 * reconnect in step). ioredis 6's default doubles up to 5 s: after an outage of 6.4 s or more a server back up was reached up to
 * 5.2 s later, and a call made meanwhile waited its whole `connectTimeoutMs` (5 s by default) and rejected with the
 * outage's last error though the server had been up all along (test/containers/redis-reconnect.test.ts). An
 * attempt a second to a server that is down costs it nothing worth saving.
 */
function reconnectDelay(times: number): number {
	return Math.min(50 * 2 ** Math.min(times - 1, 16), RECONNECT_MAX_MS) + Math.floor(Math.random() * JITTER_MS);
}

/**
 * How long a connection the container opens waits before it asks a server that is loading its data again whether it
 * is done. ioredis waits the `loading_eta_seconds` the server reports, at most 10 s by default; redis-server counts
 * the elapsed time in whole seconds, so when the clock's second ticks early in a load of 30 ms it reports 1 s over the
 * share loaded so far (9 s at 10 %). A connection made during a restart's load then stayed unready for up to 10 s
 * after the server was, and a call made meanwhile rejected after its 5 s `connectTimeoutMs` (the flake of
 * test/workflows/faults.test.ts on CI; test/containers/redis-reconnect.test.ts). An `INFO` every 100 ms while the
 * server loads costs it nothing worth saving.
 */
export const LOADING_RECHECK_MS = 100;

/**
 * How long after a server is ready again a connection the container opens is ready too, at most, on a machine that
 * keeps up: the longest pause between reconnections with its jitter, then one loading re-check.
 */
export const BACK_WITHIN_MS = RECONNECT_MAX_MS + JITTER_MS - 1 + LOADING_RECHECK_MS;

/** Options of the connections the container opens; the caller's ioredis options win over them. */
const OWNED = { retryStrategy: reconnectDelay, maxLoadingRetryTime: LOADING_RECHECK_MS } as const;

export function openConnection(redis: unknown): RedisConnection {
	let connection: RedisConnection;
	if (isRedisInstance(redis)) {
		// A Cluster subscribes through its own subscriber connection (ioredis's ClusterSubscriber), which re-subscribes
		// on its own: its duplicate keeps its options (its first argument is start-up nodes, not options).
		const cluster = asCluster(redis);
		connection = {
			redis,
			owned: false,
			makeSubscriber: () => (cluster ? (cluster.duplicate() as unknown as Redis) : redis.duplicate(SUBSCRIBER)),
			makeDuplicate: () => (cluster ? (cluster.duplicate() as unknown as Redis) : redis.duplicate()),
		};
	} else if (typeof redis === 'string') {
		connection = {
			redis: new Redis(redis, OWNED),
			owned: true,
			makeSubscriber: () => new Redis(redis, { ...OWNED, ...SUBSCRIBER }),
			makeDuplicate: () => new Redis(redis, OWNED),
		};
	} else if (typeof redis === 'object' && redis !== null) {
		const legacy = redis as RedisOptions & { replyMapping?: 'legacy' };
		connection = {
			redis: new Redis({ ...OWNED, ...legacy }),
			owned: true,
			makeSubscriber: () => new Redis({ ...OWNED, ...legacy, ...SUBSCRIBER }),
			makeDuplicate: () => new Redis({ ...OWNED, ...legacy }),
		};
	} else {
		throw new TypeError(
			`Expected \`redis\` to be a redis:// URL, ioredis options or an ioredis instance, got ${describeValue(redis)}`,
		);
	}
	// Connection errors surface as rejected commands; without a listener ioredis would also print each one.
	if (connection.owned) connection.redis.on('error', () => {});
	return connection;
}

/** Close a connection the container made: QUIT (answered after the replies still in flight), then the socket. */
export async function closeOwned(redis: Redis): Promise<void> {
	if (redis.status === 'ready') {
		// A server that froze gets a second, then the socket closes.
		let timer: ReturnType<typeof setTimeout> | undefined;
		const gaveUp = new Promise<void>((resolve) => {
			timer = setTimeout(resolve, 1000);
		});
		await Promise.race([redis.quit().catch(() => {}), gaveUp]);
		clearTimeout(timer);
	}
	redis.disconnect();
}
