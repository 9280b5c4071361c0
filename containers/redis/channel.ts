/**
 * The wake-up channel: one subscriber connection on the container's `events` channel, turning messages into
 * `ContainerSignal`s and connection trouble into `channel` signals (schedulers poll while it is down).
 *
 * A connection can go silent without closing (a node that stopped answering, a half-open connection after a
 * network fault): its messages are lost and nothing says so, and an idle scheduler would sleep until something
 * else woke it. So the channel checks itself every `PROBE_EVERY_MS` while up: a PING on the subscriber connection
 * (its reply follows every message published before it), bounded by the probe's `timeoutMs`. No reply in time:
 * the channel is reported down (schedulers poll, hand-offs to this container are checked) and the connection is
 * made again, which reports it up once subscribed.
 */
import { callToken } from './call-token.js';
import type { Redis } from 'ioredis';
import { ContainerError, type ContainerSignal } from 'lightsched';
import { asCluster } from './connection.js';
import { TAKE_PREFIX } from './idle-push.js';

/** How often a channel that is up checks that its subscriber connection still answers (and the most it waits). */
const PROBE_EVERY_MS = 5000;

/** What the container does with the channel beyond signals (see idle-push.ts). */
export interface WakeChannelHooks {
	/** A `take:` message (without its prefix): true when a task was held for one of this container's owners. */
	take(body: string): boolean;
	/** The subscription came up again after being down, or went down. */
	changed(up: boolean): void;
	/**
	 * A second channel to subscribe to, on which nothing is published: while this connection lives, Redis counts
	 * it as a subscriber there, which tells an add that the owners this container registered as idle are alive.
	 */
	readonly live?: string | undefined;
	/**
	 * How long a call waits for its reply (`commandTimeoutMs`): the periodic PING waits as long, at most
	 * `PROBE_EVERY_MS`, before the channel counts as silent. Without it the channel does not check itself.
	 */
	readonly replyTimeoutMs?: number | undefined;
}

export class WakeChannel {
	readonly #subscriber: Redis;
	readonly #channel: string;
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	/** Whether the subscription is live (the last `channel` signal said `ok: true`). */
	#up = false;
	#lastError: Error | undefined;
	#closed = false;
	readonly #hooks: WakeChannelHooks | undefined;
	readonly #probe: ReturnType<typeof setInterval> | undefined;
	#probing = false;
	/** When the subscription now under way was sent (undefined: none is). */
	#subscribingSince: number | undefined;

	constructor(subscriber: Redis, channel: string, hooks?: WakeChannelHooks) {
		this.#subscriber = subscriber;
		this.#channel = channel;
		this.#hooks = hooks;
		const replyTimeoutMs = hooks?.replyTimeoutMs;
		if (replyTimeoutMs !== undefined) {
			const probeTimeoutMs = Math.min(replyTimeoutMs, PROBE_EVERY_MS);
			this.#probe = setInterval(() => void this.#check(probeTimeoutMs), PROBE_EVERY_MS);
			this.#probe.unref?.();
		}
		subscriber.on('message', (from: string, message: string) => {
			if (from === this.#channel) this.#onMessage(message);
		});
		subscriber.on('error', (error: Error) => {
			this.#lastError = error;
		});
		subscriber.on('close', () => this.#down());
		subscriber.on('ready', () => void this.#subscribe());
		if (subscriber.status === 'ready') void this.#subscribe();
	}

	get up(): boolean {
		return this.#up;
	}

	/** The channel that tells adds this container listens (see `WakeChannelHooks.live`), if any. */
	get live(): string | undefined {
		return this.#hooks?.live;
	}

	add(listener: (signal: ContainerSignal) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/**
	 * Resolves once subscribed. Bounded like every call: a server that cannot be reached rejects within `limitMs`
	 * (a `ContainerError` that names `where`), it does not leave the caller waiting.
	 */
	async ready(limitMs: number, where: string): Promise<void> {
		if (this.#up) return;
		let remove: (() => void) | undefined;
		let timer: ReturnType<typeof setTimeout> | undefined;
		try {
			await new Promise<void>((resolve, reject) => {
				timer = setTimeout(
					() =>
						reject(
							new ContainerError(`${where}: the wake-up channel was not subscribed within ${limitMs} ms`),
						),
					limitMs,
				);
				remove = this.add((signal) => {
					if (signal.type === 'channel' && signal.ok) resolve();
				});
			});
		} finally {
			clearTimeout(timer);
			remove?.();
		}
	}

	/**
	 * Resolves once every message published before now reached this process (a PING on the subscriber connection:
	 * its reply comes after them), or at once when the subscription is down (such messages are lost), or after
	 * `timeoutMs`.
	 */
	async fence(timeoutMs: number): Promise<void> {
		if (!this.#up || this.#closed) return;
		let timer: ReturnType<typeof setTimeout> | undefined;
		const late = new Promise<void>((resolve) => {
			timer = setTimeout(resolve, timeoutMs);
		});
		try {
			await Promise.race([
				this.#connection()
					.ping()
					.catch(() => undefined),
				late,
			]);
		} finally {
			clearTimeout(timer);
		}
	}

	/** Wake the listeners (a task was handed over through an add's reply). */
	wake(): void {
		this.#emit({ type: 'wake' });
	}

	close(): void {
		this.#closed = true;
		clearInterval(this.#probe);
		this.#listeners.clear();
		this.#subscriber.disconnect();
	}

	async #subscribe(): Promise<void> {
		const since = Date.now();
		this.#subscribingSince = since;
		try {
			const live = this.#hooks?.live;
			await (live === undefined
				? this.#subscriber.subscribe(this.#channel)
				: this.#subscriber.subscribe(this.#channel, live));
		} catch (error) {
			this.#lastError = error as Error;
			return;
		} finally {
			if (this.#subscribingSince === since) this.#subscribingSince = undefined;
		}
		if (this.#closed || this.#up) return;
		this.#up = true;
		this.#lastError = undefined;
		this.#emit({ type: 'channel', ok: true });
		this.#hooks?.changed(true);
	}

	#down(): void {
		if (this.#closed || !this.#up) return;
		this.#up = false;
		const error = this.#lastError ?? new Error(`The Redis subscriber connection for \`${this.#channel}\` closed`);
		this.#emit({ type: 'channel', ok: false, error });
		this.#hooks?.changed(false);
	}

	/** The periodic check (see the file's comment): a PING answered within `timeoutMs`, or the channel is silent. */
	async #check(timeoutMs: number): Promise<void> {
		if (this.#closed || this.#probing) return;
		if (!this.#up) {
			// Down, and a subscription sent on a connection as silent got no reply: connect again, and again.
			const since = this.#subscribingSince;
			if (since !== undefined && Date.now() - since > timeoutMs) {
				this.#subscribingSince = undefined;
				this.#reconnect();
			} else if (since === undefined && this.#subscriber.status === 'ready') {
				// A Cluster that chose another node for its subscriber subscribes there itself, and says nothing:
				// subscribe (again) to hear that it is up.
				void this.#subscribe();
			}
			return;
		}
		this.#probing = true;
		let timer: ReturnType<typeof setTimeout> | undefined;
		try {
			const answered = await Promise.race([
				this.#connection()
					.ping()
					.then(
						() => true,
						() => true, // an error reply or a closed connection: the 'close' event reports that
					),
				new Promise<false>((resolve) => {
					timer = setTimeout(() => resolve(false), timeoutMs);
				}),
			]);
			if (answered || !this.#up || this.#closed) return;
			this.#lastError = new Error(
				`The Redis subscriber connection for \`${this.#channel}\` did not answer a PING within ${timeoutMs} ms: its messages may be lost; connecting it again`,
			);
			this.#down();
			this.#reconnect();
		} finally {
			clearTimeout(timer);
			this.#probing = false;
		}
	}

	/**
	 * The connection the subscription is on: the subscriber itself, or a `Cluster`'s own subscriber connection (on
	 * a node it chose), where its other commands, a PING too, go to any node.
	 */
	#connection(): Redis {
		if (asCluster(this.#subscriber) === undefined) return this.#subscriber;
		// ioredis's ClusterSubscriber (private in its types): its instance, or the plain Cluster without it.
		const internal = this.#subscriber as unknown as { subscriber?: { getInstance?(): unknown } };
		const instance = internal.subscriber?.getInstance?.() as Redis | null | undefined;
		return instance !== null && typeof instance?.ping === 'function' ? instance : this.#subscriber;
	}

	/**
	 * Drop a silent subscription's connection (its replies may never come) and connect again: a connection of its own
	 * reconnects and subscribes anew once ready; a Cluster's subscriber connection, dropped, is replaced by ioredis
	 * on a node it picks, subscribed to the same channels (`#check` then hears it up).
	 */
	#reconnect(): void {
		const connection = this.#connection();
		if (connection === this.#subscriber) this.#subscriber.disconnect(true);
		else connection.disconnect();
	}

	#onMessage(message: string): void {
		if (message === 'wake') this.#emit({ type: 'wake' });
		else if (message.startsWith(TAKE_PREFIX)) {
			if (this.#hooks?.take(message.slice(TAKE_PREFIX.length))) this.#emit({ type: 'wake' });
		} else if (message.startsWith('stop:')) this.#emit({ type: 'stop', id: message.slice(5) });
	}

	#emit(signal: ContainerSignal): void {
		for (const listener of [...this.#listeners]) {
			try {
				listener(signal);
			} catch {
				// A listener that throws must not break the channel for the others.
			}
		}
	}
}

/**
 * Open the wake-up channel of the container whose keys start with `keyPrefix`, on a new subscriber connection.
 * The channel's name carries the connection's own ioredis `keyPrefix` too, as the scripts' `publish` does. With
 * `live`, a second, per-container channel tells adds that this container's idle owners are alive (idle-push.ts).
 */
export function openWakeChannel(
	redis: Redis,
	subscriber: Redis,
	keyPrefix: string,
	hooks: Omit<WakeChannelHooks, 'live'> & { readonly live: boolean },
): WakeChannel {
	subscriber.on('error', () => {});
	const clientPrefix = (redis.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
	const channel = `${clientPrefix}${keyPrefix}events`;
	return new WakeChannel(subscriber, channel, {
		take: (body) => hooks.take(body),
		changed: (up) => hooks.changed(up),
		live: hooks.live ? `${channel}:live:${callToken()}` : undefined,
		replyTimeoutMs: hooks.replyTimeoutMs,
	});
}
