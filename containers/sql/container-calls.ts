/**
 * The way every call of a `SqlContainer` goes: once its tables exist (one migration, made on first use, or by
 * `migrate()`, and made again after a failure), tracked so `close()` can let it settle, and a storage error worded as
 * a `ContainerError` naming the database and why (`cause`: the driver's error). Calls are bounded by the connect and
 * acquire timeouts.
 */
import type { Knex } from 'knex';
import { ContainerError, SchedulerClosedError, SchedulerError } from 'lightsched/kit';
import { applySqlitePragmas, type SqliteSettings } from './connection.js';
import { failureMessage } from './failures.js';
import { onceRetrying } from './once-retrying.js';
import { PendingCalls, within } from './pending-calls.js';
import { migrate, type SqlDialect, type SqlTables } from './schema.js';

/** What the calls need of their container. */
export interface CallsHost {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly tables: SqlTables;
	/** Whether the container made the Knex instance (it then set SQLite's pragmas when it opened it). */
	readonly owned: boolean;
	readonly sqlite: SqliteSettings;
	/** The database, for messages (failures.ts `describeDatabase`). */
	readonly database: string;
	readonly bounds: { connectTimeoutMs: number; acquireTimeoutMs: number };
	closed(): boolean;
}

export class ContainerCalls {
	readonly #host: CallsHost;
	/** The migration: once, and again after a failure. */
	readonly #migration = onceRetrying(() => this.#migrate());
	/** Calls on their way, and who waits for them to settle (close). */
	readonly #pending = new PendingCalls();

	constructor(host: CallsHost) {
		this.#host = host;
	}

	/** Create or upgrade the tables, once (again after a failure). */
	migrate(): Promise<void> {
		return this.#migration.run();
	}

	async #migrate(): Promise<void> {
		const { knex, dialect, tables, owned, sqlite } = this.#host;
		if (dialect === 'sqlite' && !owned) {
			await applySqlitePragmas((sql) => knex.raw(sql), sqlite);
		}
		await migrate(knex, dialect, tables);
	}

	/** `promise`, settled or rejected by `settle()` at close. */
	track<T>(promise: Promise<T>): Promise<T> {
		return this.#pending.track(promise);
	}

	/** Run one operation once the tables exist, tracked; errors worded (see `call`). */
	run<T>(what: string, operation: () => Promise<T>): Promise<T> {
		return this.#pending.track(this.call(what, operation));
	}

	/** Run one operation once the tables exist; storage errors come out as `ContainerError`s. Not tracked. */
	async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
		try {
			await this.migrate();
			return await operation();
		} catch (error) {
			if (error instanceof SchedulerError) throw error;
			if (this.#host.closed()) throw new SchedulerClosedError('container');
			const { database, bounds } = this.#host;
			throw new ContainerError(`SqlContainer ${failureMessage(what, database, error, bounds)}`, {
				cause: error,
			});
		}
	}

	/**
	 * Closing: let the calls on their way and the migration settle, for at most `grace` ms each; a call stuck past it
	 * is rejected with `SchedulerClosedError` rather than left pending.
	 */
	async settle(grace: number): Promise<void> {
		await this.#pending.settle(grace);
		await within(this.#migration.settled(), grace);
	}
}
