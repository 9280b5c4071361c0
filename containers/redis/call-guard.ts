/**
 * Bounded calls to Redis. ioredis queues a command while its connection is down and retries it for about 73 s
 * (twenty reconnections) before it rejects; a caller's add hung that long, and one still queued at close never
 * settled. Every call of the container goes through `CallGuard.run`:
 * - while the connection is down (connecting, reconnecting) the call waits for it, at most `connectTimeoutMs`, and
 *   is never sent if it does not come back in time: it rejects with a `ContainerError` naming the server and the
 *   last connection error;
 * - a call sent waits for its reply at most `commandTimeoutMs` (the server may still apply it: a lost reply), and
 *   when the connection drops with the call on its way, at most `connectTimeoutMs` more for the connection to come
 *   back (ioredis sends it again then): a server stopped in the middle of a call is reported as fast as one stopped
 *   before it, not after the longer reply bound;
 * - `closing()` rejects the calls still waiting for a connection (and those made afterwards while it is down) with
 *   `SchedulerClosedError`; `closeAll()` settles whatever is left, so nothing awaits for ever after a close.
 * The guard only reads the ioredis instance's state and events: a caller's instance keeps its own options.
 */
import type { Redis } from 'ioredis';
import { ContainerError, SchedulerClosedError } from 'lightsched';
import { asCluster } from './connection.js';
import { connectedAddress, followSentinelMaster, sentinelsOf } from './sentinel-master.js';

interface Entry {
	readonly what: string;
	readonly fail: (error: Error) => void;
	sent: boolean;
	/** Sent, then the connection dropped: fails unless it is back within `connectTimeoutMs` (see `#dropped`). */
	lostTimer?: ReturnType<typeof setTimeout> | undefined;
}

/** The errors of calls that were sent and may still be applied: no reply in time, or lost on their way. */
const unsure = new WeakSet<Error>();

/**
 * Whether `error` is a guarded call's failure after which the server may still apply the call (its reply overdue, or
 * the connection dropped with it on its way and ioredis sending it again once back): an add may be stored later.
 */
export function mayStillApply(error: unknown): boolean {
	return error instanceof Error && unsure.has(error);
}

/** Statuses in which a command would sit in ioredis's offline queue until the connection is (maybe) back. */
const DOWN = new Set(['connecting', 'connect', 'reconnecting', 'close']);

export interface CallGuardOptions {
	/** Names the container in messages, such as "RedisContainer `lightsched:{video}:`". */
	readonly label: string;
	readonly connectTimeoutMs: number;
	readonly commandTimeoutMs: number;
	/** Whether the container made the connection (so may listen to its `error` events). */
	readonly owned: boolean;
}

/**
 * `host:port` (or the socket path) of an ioredis instance; a `Cluster`'s known masters, as `cluster host:port,…`; a
 * connection through Redis Sentinel, as `master <name> at host:port (sentinels host:port,…)`.
 */
export function serverAddress(redis: Redis): string {
	const cluster = asCluster(redis);
	if (cluster !== undefined) {
		const masters = cluster.nodes('master').map(serverAddress);
		return `cluster ${masters.length > 0 ? masters.join(',') : '(no node known yet)'}`;
	}
	const sentinel = sentinelsOf(redis);
	if (sentinel !== undefined) {
		const at = connectedAddress(redis);
		return `master ${sentinel.name}${at === undefined ? '' : ` at ${at}`} (sentinels ${sentinel.sentinels.join(',')})`;
	}
	const options = redis.options as { host?: string; port?: number; path?: string } | undefined;
	if (options?.path) return options.path;
	return `${options?.host ?? 'localhost'}:${String(options?.port ?? 6379)}`;
}

/**
 * An ioredis status in words, with the connection's last error, for messages: they said "the connection is connect:
 * connect ECONNREFUSED …" of a server that was back and loading its data. `connect` is the status between the TCP
 * connection and the server's "ready": ioredis asks the server (INFO) whether it is still loading its data and waits
 * while it is. The guard does not see the answer, so the words name both cases; a last error then is from before
 * the server took the connection (the outage's) and is left out of the words (it stays the error's `cause`).
 */
function connectionState(status: string, lastError: Error | undefined): string {
	const last = lastError === undefined ? '' : `, last error: ${lastError.message}`;
	switch (status) {
		case 'ready':
			return 'the Redis connection is open';
		case 'connect':
			return 'the server took the connection but has not said it is ready: it is loading its data, or not answering';
		case 'connecting':
			return lastError === undefined
				? 'the Redis connection is being made'
				: `the Redis connection is reconnecting${last}`;
		case 'reconnecting':
			return `the Redis connection is reconnecting${last}`;
		case 'close':
		case 'end':
			return `the Redis connection is closed${last}`;
		default:
			return `the Redis connection is in state ${status}${last}`;
	}
}

function capitalized(text: string): string {
	return text.charAt(0).toUpperCase() + text.slice(1);
}

export class CallGuard {
	readonly #redis: Redis;
	readonly #options: CallGuardOptions;
	readonly #pending = new Set<Entry>();
	#lastError: Error | undefined;
	#up: Promise<void> | undefined;
	#closing = false;

	constructor(redis: Redis, options: CallGuardOptions) {
		this.#redis = redis;
		this.#options = options;
		// A listener on a caller's instance would silence ioredis's own report of its errors: only when it has one.
		if (options.owned || redis.listenerCount('error') > 0) {
			redis.on('error', (error: Error) => {
				this.#lastError = error;
			});
		}
		redis.on('ready', () => {
			this.#lastError = undefined;
			for (const entry of this.#pending) {
				clearTimeout(entry.lostTimer);
				entry.lostTimer = undefined;
			}
		});
		redis.on('close', () => this.#dropped());
	}

	/** "RedisContainer `p` (redis 127.0.0.1:6379)": the container and the server, for messages. */
	get where(): string {
		return `${this.#options.label} (redis ${serverAddress(this.#redis)})`;
	}

	/** Run `command` bounded as described above; its errors become `ContainerError`s. `scale` multiplies the reply bound. */
	run<T>(what: string, command: () => Promise<T>, scale = 1): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			let timer: ReturnType<typeof setTimeout> | undefined;
			let settled = false;
			const entry: Entry = {
				what,
				sent: false,
				fail: (error) => {
					if (settled) return;
					settled = true;
					clearTimeout(timer);
					clearTimeout(entry.lostTimer);
					this.#pending.delete(entry);
					reject(error);
				},
			};
			const send = (): void => {
				if (settled) return;
				clearTimeout(timer);
				entry.sent = true;
				const limit = this.#options.commandTimeoutMs * scale;
				timer = setTimeout(() => entry.fail(this.#noReply(what, limit)), limit);
				command().then(
					(value) => {
						if (settled) return;
						settled = true;
						clearTimeout(timer);
						clearTimeout(entry.lostTimer);
						this.#pending.delete(entry);
						resolve(value);
					},
					(error: unknown) => entry.fail(this.#failed(what, error)),
				);
			};
			this.#pending.add(entry);
			if (!DOWN.has(this.#redis.status)) {
				send();
				return;
			}
			if (this.#closing) {
				entry.fail(new SchedulerClosedError('container'));
				return;
			}
			const limit = this.#options.connectTimeoutMs;
			timer = setTimeout(() => entry.fail(this.#down(what, limit)), limit);
			void this.#whenUp().then(send);
		});
	}

	/** The container closes: calls waiting for a connection reject (they were never sent), and so will later ones. */
	closing(): void {
		this.#closing = true;
		for (const entry of [...this.#pending]) if (!entry.sent) entry.fail(new SchedulerClosedError('container'));
	}

	/** Settle every call still pending (their replies, if any, are ignored). */
	closeAll(): void {
		this.#closing = true;
		for (const entry of [...this.#pending]) entry.fail(new SchedulerClosedError('container'));
	}

	/** The connection dropped: every call on its way fails unless the connection is back within `connectTimeoutMs`. */
	#dropped(): void {
		const limit = this.#options.connectTimeoutMs;
		for (const entry of this.#pending) {
			if (!entry.sent || entry.lostTimer !== undefined) continue;
			entry.lostTimer = setTimeout(() => entry.fail(this.#lost(entry.what, limit)), limit);
		}
	}

	/** Resolves when the connection is ready again (or ended for good: a command then rejects at once). */
	#whenUp(): Promise<void> {
		this.#up ??= new Promise<void>((resolve) => {
			const done = (): void => {
				this.#redis.off('ready', done);
				this.#redis.off('end', done);
				this.#up = undefined;
				resolve();
			};
			this.#redis.on('ready', done);
			this.#redis.on('end', done);
		});
		return this.#up;
	}

	/** The connection's state in words, for messages (see `connectionState`). */
	#state(): string {
		return connectionState(this.#redis.status, this.#lastError);
	}

	#down(what: string, limit: number): ContainerError {
		return new ContainerError(
			`${this.where}: ${what} failed: no connection to the server within ${limit} ms (${this.#state()}); nothing was sent`,
			{ cause: this.#lastError ?? new Error(capitalized(this.#state())) },
		);
	}

	#noReply(what: string, limit: number): ContainerError {
		this.#findServerAgain();
		const error = new ContainerError(
			`${this.where}: ${what} failed: no reply within ${limit} ms (${this.#state()}); the server may still apply it`,
			{ cause: this.#lastError ?? new Error(`No reply within ${limit} ms`) },
		);
		unsure.add(error);
		return error;
	}

	/**
	 * A call without a reply may mean the master stopped answering (a crash behind an open connection, a partition)
	 * and a replica took over. On a Redis Cluster, ioredis learns that only from a MOVED reply or a connection that
	 * closes, and its periodic refresh (`slotsRefreshInterval`) is off by default, so every later call would go to
	 * the silent node for ever: ask it to read the slots again (from the nodes that answer; a refresh already on its
	 * way is not repeated). Through Redis Sentinel, ask the sentinels where the master is and reconnect when it moved
	 * (sentinel-master.ts). The calls after it go to the new master.
	 */
	#findServerAgain(): void {
		const cluster = asCluster(this.#redis);
		if (cluster !== undefined) cluster.refreshSlotsCache();
		else void followSentinelMaster(this.#redis);
	}

	#lost(what: string, limit: number): ContainerError {
		const error = new ContainerError(
			`${this.where}: ${what} failed: the connection dropped with the call on its way and did not come back within ${limit} ms (${this.#state()}); the server may have applied it`,
			{ cause: this.#lastError ?? new Error(capitalized(this.#state())) },
		);
		unsure.add(error);
		return error;
	}

	#failed(what: string, error: unknown): Error {
		if (error instanceof ContainerError || error instanceof SchedulerClosedError) return error;
		const message = error instanceof Error ? error.message : String(error);
		return new ContainerError(`${this.where}: ${what} failed: ${message}`, { cause: error });
	}
}
