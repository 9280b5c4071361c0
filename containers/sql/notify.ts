/**
 * The PostgreSQL wake-up channel: one dedicated connection LISTENs on the container's channel and turns
 * notifications into container signals. When the connection breaks it says so (`channel`, ok: false, so
 * schedulers poll), reconnects with a growing delay, and says so again (ok: true) once it listens again.
 */
import type { Knex } from 'knex';
import type { ContainerSignal } from 'lightsched';

/** The notification payloads the container sends. */
export const WAKE_PAYLOAD = '{"type":"wake"}';
export const stopPayload = (id: string): string => JSON.stringify({ type: 'stop', id });

interface PgNotification {
	readonly channel: string;
	readonly payload?: string;
}

interface PgClient {
	query(sql: string): Promise<unknown>;
	on(event: 'notification', listener: (message: PgNotification) => void): unknown;
	on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
	removeAllListeners(event?: string): unknown;
	end(): Promise<void>;
}

interface KnexPgClient {
	_acquireOnlyConnection?: () => Promise<PgClient>;
}

const MAX_RETRY_MS = 5_000;

export class PgWakeChannel {
	readonly #knex: Knex;
	readonly #channel: string;
	readonly #emit: (signal: ContainerSignal) => void;
	#client: PgClient | null = null;
	#closed = false;
	#retryMs = 100;
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#down = false;
	#connecting: Promise<void> | null = null;

	constructor(knex: Knex, channel: string, emit: (signal: ContainerSignal) => void) {
		this.#knex = knex;
		this.#channel = channel;
		this.#emit = emit;
	}

	/** Start listening (idempotent). `ready` runs first (the schema check), so the first query sees the tables. */
	start(ready: () => Promise<void>): void {
		if (this.#connecting !== null || this.#client !== null || this.#closed) return;
		this.#connecting = ready()
			.then(() => this.#connect())
			.catch((error: unknown) => this.#broken(error))
			.finally(() => {
				this.#connecting = null;
			});
	}

	async #connect(): Promise<void> {
		const client = this.#knex.client as KnexPgClient;
		if (typeof client._acquireOnlyConnection !== 'function') {
			throw new Error('this knex version cannot open a dedicated connection for LISTEN');
		}
		const connection = await client._acquireOnlyConnection();
		if (this.#closed) {
			await connection.end().catch(() => undefined);
			return;
		}
		connection.on('notification', (message) => this.#onNotification(message));
		connection.on('error', (error) => this.#lost(connection, error ?? new Error('the LISTEN connection failed')));
		connection.on('end', () => this.#lost(connection, new Error('the LISTEN connection ended')));
		this.#client = connection;
		try {
			await connection.query(`LISTEN "${this.#channel}"`);
		} catch (error) {
			this.#client = null;
			connection.removeAllListeners('notification');
			await connection.end().catch(() => undefined);
			throw error;
		}
		this.#retryMs = 100;
		const wasDown = this.#down;
		this.#down = false;
		if (wasDown) this.#emit({ type: 'channel', ok: true });
		// Anything added while we were not yet listening: let the schedulers look once.
		this.#emit({ type: 'wake' });
	}

	#onNotification(message: PgNotification): void {
		if (message.channel !== this.#channel || message.payload === undefined) return;
		let signal: unknown;
		try {
			signal = JSON.parse(message.payload);
		} catch {
			return;
		}
		const { type, id } = (signal ?? {}) as { type?: unknown; id?: unknown };
		if (type === 'wake') this.#emit({ type: 'wake' });
		else if (type === 'stop' && typeof id === 'string') this.#emit({ type: 'stop', id });
	}

	#lost(connection: PgClient, error: Error): void {
		if (this.#client !== connection) return;
		this.#client = null;
		connection.removeAllListeners('notification');
		connection.end().catch(() => undefined);
		this.#broken(error);
	}

	#broken(error: unknown): void {
		if (this.#closed) return;
		this.#down = true;
		const cause = error instanceof Error ? error : new Error(String(error));
		this.#emit({ type: 'channel', ok: false, error: new Error(`PostgreSQL wake-up channel down: ${cause.message}`, { cause }) });
		clearTimeout(this.#retryTimer);
		this.#retryTimer = setTimeout(() => {
			this.#retryTimer = undefined;
			this.start(() => Promise.resolve());
		}, this.#retryMs);
		this.#retryTimer.unref?.();
		this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
	}

	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#retryTimer);
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
