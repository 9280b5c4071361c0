/**
 * The container's connection to Redis from its `redis` option: a `redis://` URL or ioredis options make
 * connections the container owns (and closes), which wait at most 1.2 s between reconnections (`reconnectDelay`); an ioredis
 * instance stays the caller's, options and all, and the subscriber the wake-up channel needs is duplicated from it.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { describeValue } from 'lightsched/kit';

export interface RedisConnection {
	readonly redis: Redis;
	/** Whether the container made the connection, so closes it. */
	readonly owned: boolean;
	/** A second connection to the same server, for the wake-up channel's SUBSCRIBE. */
	readonly makeSubscriber: () => Redis;
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

/**
 * The pause before reconnection attempt `times` of a connection the container opens: 50 ms doubling up to
 * `RECONNECT_MAX_MS`, plus up to 199 ms of jitter (as ioredis's, so processes cut off together do not reconnect in
 * step). ioredis 6's default doubles up to 5 s: after an outage of 6.4 s or more a server back up was reached up to
 * 5.2 s later, and a call made meanwhile waited its whole `connectTimeoutMs` (5 s by default) and rejected with the
 * outage's last error though the server had been up all along (test/containers/redis-reconnect.test.ts). An
 * attempt a second to a server that is down costs it nothing worth saving.
 */
function reconnectDelay(times: number): number {
	return Math.min(50 * 2 ** Math.min(times - 1, 16), RECONNECT_MAX_MS) + Math.floor(Math.random() * 200);
}

/** Options of the connections the container opens; a `retryStrategy` in the caller's ioredis options wins. */
const OWNED = { retryStrategy: reconnectDelay } as const;

export function openConnection(redis: unknown): RedisConnection {
	let connection: RedisConnection;
	if (isRedisInstance(redis)) {
		connection = { redis, owned: false, makeSubscriber: () => redis.duplicate(SUBSCRIBER) };
	} else if (typeof redis === 'string') {
		connection = {
			redis: new Redis(redis, OWNED),
			owned: true,
			makeSubscriber: () => new Redis(redis, { ...OWNED, ...SUBSCRIBER }),
		};
	} else if (typeof redis === 'object' && redis !== null) {
		const legacy = redis as RedisOptions & { replyMapping?: 'legacy' };
		connection = {
			redis: new Redis({ ...OWNED, ...legacy }),
			owned: true,
			makeSubscriber: () => new Redis({ ...OWNED, ...legacy, ...SUBSCRIBER }),
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
