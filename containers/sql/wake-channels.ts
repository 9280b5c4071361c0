/**
 * The wake-up channels of `SqlContainer`: on PostgreSQL a LISTEN on `<prefix>events` (notify.ts) for `watch`, and
 * one on the change log's channel for `readChanges` followers (change-events.ts), opened at the first read; on a
 * SQLite file a watch on its folder (file-watch.ts). Listeners hear every signal; one that throws does not stop
 * the others.
 */
import type { Knex } from 'knex';
import type { ContainerSignal } from 'lightsched/kit';
import { changeTables } from './change-tables.js';
import { connectionActivity } from './connection-activity.js';
import { FileWakeChannel, sqliteFileOf } from './file-watch.js';
import { PgWakeChannel } from './notify.js';
import type { ResolvedSqlOptions } from './options.js';
import type { SqlDialect, SqlTables } from './schema.js';

export interface WakeChannelsParts {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly tables: SqlTables;
	readonly options: ResolvedSqlOptions;
	/** Create or check the tables (a channel's first query must see them). */
	readonly migrate: () => Promise<void>;
	/** Runs one statement through the pool (SQLite's `PRAGMA data_version`). */
	readonly query: (sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;
	readonly closed: () => boolean;
}

export class SqlWakeChannels {
	readonly #parts: WakeChannelsParts;
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	/** PostgreSQL with `notify`: the LISTEN channel of `watch`; else null. */
	readonly pg: PgWakeChannel | null = null;
	/** SQLite with `notify` on a file: the watch on its folder; else null. */
	readonly #file: FileWakeChannel | null = null;
	/** The LISTEN channel of `readChanges` (PostgreSQL), opened at its first read. */
	#changes: PgWakeChannel | null = null;
	/** The container's `watch`, when it has a channel. */
	readonly watch?: (listener: (signal: ContainerSignal) => void) => () => void;

	constructor(parts: WakeChannelsParts) {
		this.#parts = parts;
		const { knex, dialect, tables, options: o } = parts;
		const notify = dialect === 'pg' && o.notify;
		if (notify) {
			const pg = this.#pgChannel(tables.channel, (signal) => this.#signal(signal));
			this.pg = pg;
			this.watch = this.#watchWith(() => pg.start(() => parts.migrate()));
		} else if (o.listen !== null) {
			throw new TypeError('`listen` needs PostgreSQL with `notify` on');
		} else if (dialect === 'sqlite' && o.notify) {
			const file = sqliteFileOf((knex.client as { config?: { connection?: unknown } }).config?.connection);
			if (file !== null) {
				const activity = connectionActivity(knex);
				const channel = new FileWakeChannel({
					file,
					emit: (signal) => this.#signal(signal),
					safetyMs: o.safetyWakeMs,
					version: async () =>
						Number((await parts.query('PRAGMA data_version', []))[0]?.['data_version'] ?? Number.NaN),
					...(activity === null ? {} : { settled: () => activity.settled() }),
				});
				this.#file = channel;
				this.watch = this.#watchWith(() => channel.start());
			}
		}
	}

	/**
	 * For `SqlChangeReader`: a function that starts listening for changes (calling `wake` on each) and returns
	 * whether that channel is up: on PostgreSQL with `notify` a LISTEN on the change log's channel; on a SQLite file
	 * with `notify` every change of its write-ahead log (any commit, this process's too, may have recorded a
	 * change); else null (the reader polls).
	 */
	changesListen(): ((wake: () => void) => () => boolean) | null {
		const file = this.#file;
		if (file !== null) {
			return (wake) => {
				if (!this.#parts.closed()) file.observe(wake);
				return () => file.up;
			};
		}
		if (this.pg === null) return null;
		return (wake) => {
			let up = false;
			const channel = this.#pgChannel(changeTables(this.#parts.options.tablePrefix).channel, (signal) => {
				if (signal.type === 'channel') up = signal.ok;
				else if (signal.type === 'wake') {
					up = true;
					wake();
				}
			});
			this.#changes = channel;
			if (!this.#parts.closed()) channel.start(() => this.#parts.migrate());
			return () => up;
		};
	}

	/** Stop every channel and forget the listeners. */
	async close(): Promise<void> {
		this.#listeners.clear();
		this.#file?.close();
		await this.pg?.close();
		await this.#changes?.close();
	}

	#pgChannel(channel: string, emit: (signal: ContainerSignal) => void): PgWakeChannel {
		const { knex, options: o } = this.#parts;
		return new PgWakeChannel({
			knex,
			channel,
			emit,
			notify: async (payload) => {
				await knex.raw('SELECT pg_notify(?, ?)', [channel, payload]);
			},
			listen: o.listen,
			probeIntervalMs: o.probeIntervalMs,
			probeTimeoutMs: o.probeTimeoutMs,
			connectTimeoutMs: o.connectTimeoutMs,
		});
	}

	#watchWith(start: () => void): (listener: (signal: ContainerSignal) => void) => () => void {
		return (listener) => {
			this.#listeners.add(listener);
			if (!this.#parts.closed()) start();
			return () => {
				this.#listeners.delete(listener);
			};
		};
	}

	#signal(signal: ContainerSignal): void {
		for (const listener of this.#listeners) {
			try {
				listener(signal);
			} catch {
				// A listener's failure is its own; the channel goes on.
			}
		}
	}
}
