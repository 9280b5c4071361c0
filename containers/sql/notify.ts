/**
 * The PostgreSQL wake-up channel: one dedicated connection LISTENs on the container's channel and turns
 * notifications into container signals.
 *
 * A LISTEN can be silently dead: behind a pooler in transaction mode (PgBouncer's `pool_mode = transaction`)
 * the session that ran it goes back to the pool and nothing ever arrives, with no error. So the channel checks
 * itself: once it listens, and every `probeIntervalMs` after, it sends a probe notification through the
 * statement pool and waits up to `probeTimeoutMs` for it on the listening connection. A probe that does not come
 * (or a connection that breaks) reports the channel down (`channel`, ok: false, so schedulers poll); the channel
 * then reconnects and probes again, and reports it back up (ok: true) once a probe arrives.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ContainerError, type ContainerSignal } from 'lightsched';
import { describePgConnection } from './failures.js';
import type { PgConnectionConfig } from './options.js';

/** The notification payloads the container sends. */
export const WAKE_PAYLOAD = '{"type":"wake"}';
export const stopPayload = (id: string): string => JSON.stringify({ type: 'stop', id });
const probePayload = (id: string): string => JSON.stringify({ type: 'probe', id });

interface PgNotification {
	readonly channel: string;
	readonly payload?: string;
}

interface PgClient {
	connect?(): Promise<unknown>;
	query(sql: string): Promise<unknown>;
	on(event: 'notification', listener: (message: PgNotification) => void): unknown;
	on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
	removeAllListeners(event?: string): unknown;
	end(): Promise<void>;
}

interface KnexPgClient {
	_acquireOnlyConnection?: () => Promise<PgClient>;
	driver?: { Client?: new (config: unknown) => PgClient };
	config?: { connection?: unknown };
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

export interface PgWakeChannelOptions {
	readonly knex: Knex;
	/** The channel name (unquoted). */
	readonly channel: string;
	readonly emit: (signal: ContainerSignal) => void;
	/** Send a notification on the channel through the statement pool (the path every wake-up takes). */
	readonly notify: (payload: string) => Promise<void>;
	/** A direct session connection for LISTEN, or null: knex's own connection settings. */
	readonly listen: PgConnectionConfig | null;
	readonly probeIntervalMs: number;
	readonly probeTimeoutMs: number;
	/** For a connection of our own (`listen`): how long opening it may take. */
	readonly connectTimeoutMs: number;
}

export class PgWakeChannel {
	readonly #options: PgWakeChannelOptions;
	#client: PgClient | null = null;
	#closed = false;
	#retryMs = FIRST_RETRY_MS;
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#probeTimer: ReturnType<typeof setInterval> | undefined;
	/** Whether the channel was reported down (so its recovery is reported once). */
	#down = false;
	#connecting: Promise<void> | null = null;
	/** The probe on its way: its id, the connection it checks, and what ends its wait (whether it arrived). */
	#probe: { id: string; connection: PgClient; settle: (arrived: boolean) => void } | null = null;

	constructor(options: PgWakeChannelOptions) {
		this.#options = options;
	}

	/** Where the channel listens, for messages (`host:port/database`, never the password). */
	get address(): string {
		const connection = this.#options.listen ?? (this.#options.knex.client as KnexPgClient).config?.connection;
		return describePgConnection(connection);
	}

	/** Start listening (idempotent). `ready` runs first (the schema check), so the first query sees the tables. */
	start(ready: () => Promise<void>): void {
		if (this.#connecting !== null || this.#client !== null || this.#closed) return;
		this.#connecting = ready()
			.then(() => this.#connect())
			.catch((error: unknown) => this.#broken(error, false))
			.finally(() => {
				this.#connecting = null;
			});
	}

	async #open(): Promise<PgClient> {
		const client = this.#options.knex.client as KnexPgClient;
		if (this.#options.listen !== null) {
			const Client = client.driver?.Client;
			if (typeof Client !== 'function')
				throw new Error('this knex instance has no pg driver to open the `listen` connection with');
			const config =
				typeof this.#options.listen === 'string'
					? {
							connectionString: this.#options.listen,
							connectionTimeoutMillis: this.#options.connectTimeoutMs,
							keepAlive: true,
						}
					: {
							connectionTimeoutMillis: this.#options.connectTimeoutMs,
							keepAlive: true,
							...this.#options.listen,
						};
			const connection = new Client(config);
			connection.on('error', () => undefined); // until #connect installs its own
			await connection.connect?.();
			return connection;
		}
		if (typeof client._acquireOnlyConnection !== 'function') {
			throw new Error('this knex version cannot open a dedicated connection for LISTEN');
		}
		return client._acquireOnlyConnection();
	}

	async #connect(): Promise<void> {
		const connection = await this.#open();
		if (this.#closed) {
			await connection.end().catch(() => undefined);
			return;
		}
		connection.removeAllListeners('error');
		connection.on('notification', (message) => this.#onNotification(message));
		connection.on('error', (error) =>
			this.#lost(connection, error ?? new Error('the LISTEN connection failed'), false),
		);
		connection.on('end', () => this.#lost(connection, new Error('the LISTEN connection ended'), false));
		this.#client = connection;
		try {
			await connection.query(`LISTEN "${this.#options.channel}"`);
		} catch (error) {
			this.#client = null;
			connection.removeAllListeners('notification');
			await connection.end().catch(() => undefined);
			throw error;
		}
		// Anything added while we were not yet listening: let the schedulers look once.
		this.#options.emit({ type: 'wake' });
		clearInterval(this.#probeTimer);
		this.#probeTimer = setInterval(() => void this.#check(connection), this.#options.probeIntervalMs);
		this.#probeTimer.unref?.();
		// Not awaited: the connect is over once we listen. A connection lost while its first probe is on its way is
		// reconnected at once, not after that probe's timeout (a connect still in progress refuses a new one).
		void this.#check(connection);
	}

	/** Send a probe through the pool and wait for it here; a probe that does not come breaks the connection. */
	async #check(connection: PgClient): Promise<void> {
		if (this.#closed || this.#client !== connection || this.#probe !== null) return;
		const id = randomUUID();
		let timer: ReturnType<typeof setTimeout> | undefined;
		let settle: (arrived: boolean) => void = () => undefined;
		const arrived = new Promise<boolean>((resolve) => {
			settle = resolve;
			timer = setTimeout(() => resolve(false), this.#options.probeTimeoutMs);
		});
		const probe = { id, connection, settle };
		this.#probe = probe;
		let sendError: unknown = null;
		await this.#options.notify(probePayload(id)).catch((error: unknown) => {
			sendError = error;
		});
		const ok = sendError === null && (await arrived);
		clearTimeout(timer);
		if (this.#probe === probe) this.#probe = null;
		if (this.#closed || this.#client !== connection) return;
		if (ok) {
			this.#retryMs = FIRST_RETRY_MS;
			if (this.#down) {
				this.#down = false;
				this.#options.emit({ type: 'channel', ok: true });
				this.#options.emit({ type: 'wake' });
			}
			return;
		}
		if (sendError !== null) {
			const cause = sendError instanceof Error ? sendError : new Error(String(sendError));
			this.#lost(
				connection,
				new Error(`a probe notification could not be sent: ${cause.message}`, { cause }),
				false,
			);
			return;
		}
		this.#lost(
			connection,
			new Error(
				`notifications do not arrive: a probe sent through the pool did not reach the LISTEN connection to ${this.address} within ${this.#options.probeTimeoutMs} ms. ` +
					'Behind a pooler in transaction mode (PgBouncer `pool_mode = transaction`) LISTEN does not survive: give SqlContainer `listen: { connection }`, a direct connection to the server',
			),
			true,
		);
	}

	#onNotification(message: PgNotification): void {
		if (message.channel !== this.#options.channel || message.payload === undefined) return;
		let signal: unknown;
		try {
			signal = JSON.parse(message.payload);
		} catch {
			return;
		}
		const { type, id } = (signal ?? {}) as { type?: unknown; id?: unknown };
		if (type === 'wake') this.#options.emit({ type: 'wake' });
		else if (type === 'stop' && typeof id === 'string') this.#options.emit({ type: 'stop', id });
		else if (type === 'probe' && this.#probe !== null && id === this.#probe.id) this.#probe.settle(true);
	}

	/** The listening connection failed (`silent`: it works but nothing arrives): drop it, report, reconnect later. */
	#lost(connection: PgClient, error: Error, silent: boolean): void {
		if (this.#client !== connection) return;
		this.#client = null;
		clearInterval(this.#probeTimer);
		this.#probeTimer = undefined;
		// Its probe will not come: end its wait now, and let the next connection probe at once (not behind it).
		if (this.#probe?.connection === connection) {
			this.#probe.settle(false);
			this.#probe = null;
		}
		connection.removeAllListeners('notification');
		connection.removeAllListeners('end');
		connection.end().catch(() => undefined);
		this.#broken(error, silent);
	}

	#broken(error: unknown, silent: boolean): void {
		if (this.#closed) return;
		const cause = error instanceof Error ? error : new Error(String(error));
		if (!this.#down) {
			this.#down = true;
			this.#options.emit({
				type: 'channel',
				ok: false,
				error: new ContainerError(
					`PostgreSQL wake-up channel (${this.address}) down, schedulers poll: ${cause.message}`,
					{ cause },
				),
			});
		}
		clearTimeout(this.#retryTimer);
		// A connection that works but delivers nothing (a pooler) is not fixed by reconnecting at once.
		const delay = silent ? this.#options.probeIntervalMs : this.#retryMs;
		this.#retryTimer = setTimeout(() => {
			this.#retryTimer = undefined;
			this.start(() => Promise.resolve());
		}, delay);
		this.#retryTimer.unref?.();
		if (!silent) this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
	}

	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#retryTimer);
		clearInterval(this.#probeTimer);
		this.#probe?.settle(false);
		await this.#connecting?.catch(() => undefined);
		const client = this.#client;
		this.#client = null;
		if (client === null) return;
		client.removeAllListeners('notification');
		client.removeAllListeners('end');
		client.removeAllListeners('error');
		client.on('error', () => undefined);
		await client.end().catch(() => undefined);
	}
}
