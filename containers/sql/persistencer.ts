/**
 * `SqlPersistencer`: stores task outputs as JSON in SQL, in a table of its own (`<prefix>outputs`) or in the
 * task row's `output` column. Shares the knex instance and tables of a `SqlContainer`, or opens its own.
 */
import type { Knex } from 'knex';
import { assertJsonOutput, PersistError, type Persistencer, type TaskRecord } from 'lightsched/kit';
import { rejectUnknownOptions } from 'lightsched/kit';
import { openKnex, applySqlitePragmas, type KnexSource } from './connection.js';
import { describeDatabase, failureMessage } from './failures.js';
import { onceRetrying } from './once-retrying.js';
import { migrate, resultRows, sqlTables, type SqlDialect, type SqlTables } from './schema.js';

/** What the persistencer needs from a `SqlContainer` (kept structural so this file does not import it). */
export interface SqlPersistencerContainer {
	/** The container's Knex instance. */
	readonly knex: Knex;
	/** Which database it is. */
	readonly dialect: SqlDialect;
	/** The prefix of its table names. */
	readonly tablePrefix: string;
	/** Create or upgrade its tables. */
	migrate(): Promise<void>;
}

/** What `new SqlPersistencer(options)` takes: a `container` to share, or a `knex` connection of its own. */
export interface SqlPersistencerOptions {
	/** Share this container's Knex instance and table prefix (the container owns and closes the connection). */
	readonly container?: SqlPersistencerContainer;
	/** Otherwise: a knex configuration or Knex instance of its own, as for `SqlContainer`. */
	readonly knex?: KnexSource;
	/**
	 * With `knex`: the table prefix (ignored with `container`, which brings its own).
	 * @default 'lightsched_'
	 */
	readonly tablePrefix?: string;
	/**
	 * Store the output in the task row's `output` column instead of the `<prefix>outputs` table. Needs the
	 * task table on the same database (the container's).
	 * @default false
	 */
	readonly inTaskRow?: boolean;
}

export class SqlPersistencer<TOutput = unknown> implements Persistencer<TOutput> {
	/** The Knex instance the outputs are written through. */
	readonly knex: Knex;
	/** Whether outputs go to the task row's `output` column instead of `<prefix>outputs`. */
	readonly inTaskRow: boolean;
	readonly #dialect: SqlDialect;
	readonly #tables: SqlTables;
	readonly #owned: boolean;
	readonly #migrate: () => Promise<void>;
	/** Which database, for messages (`PostgreSQL at host:port/database` or `SQLite file <path>`). */
	readonly #database: string;
	/** The migration: once, and again after a failure. */
	readonly #migration = onceRetrying(() => this.#migrate());
	#closed = false;

	constructor(options: SqlPersistencerOptions) {
		if (typeof options !== 'object' || options === null) {
			throw new TypeError('Expected SqlPersistencer options to be an object like { container } or { knex }');
		}
		rejectUnknownOptions('SqlPersistencer', options, ['container', 'knex', 'tablePrefix', 'inTaskRow']);
		const { container, inTaskRow = false } = options;
		if (typeof inTaskRow !== 'boolean')
			throw new TypeError(`Expected \`inTaskRow\` to be a boolean, got ${typeof inTaskRow}`);
		this.inTaskRow = inTaskRow;
		if (container !== undefined) {
			if (typeof container !== 'object' || container === null || typeof container.migrate !== 'function') {
				throw new TypeError('Expected `container` to be a SqlContainer');
			}
			this.knex = container.knex;
			this.#dialect = container.dialect;
			this.#tables = sqlTables(container.tablePrefix);
			this.#owned = false;
			this.#migrate = () => container.migrate();
			this.#database = describeDatabase(this.knex, this.#dialect);
			return;
		}
		if (options.knex === undefined) {
			throw new TypeError(
				'Expected `container` (a SqlContainer) or `knex` (a knex configuration or instance), got neither',
			);
		}
		const settings = { busyTimeoutMs: 5_000, synchronous: 'NORMAL' } as const;
		const connection = openKnex(options.knex, settings);
		this.knex = connection.knex;
		this.#dialect = connection.dialect;
		this.#owned = connection.owned;
		this.#tables = sqlTables(options.tablePrefix ?? 'lightsched_');
		this.#database = describeDatabase(this.knex, this.#dialect);
		this.#migrate = async () => {
			if (this.#dialect === 'sqlite' && !this.#owned)
				await applySqlitePragmas((sql) => this.knex.raw(sql), settings);
			await migrate(this.knex, this.#dialect, this.#tables);
		};
	}

	/** Store `output` (JSON) for the task; rejects with a `PersistError` when JSON cannot carry it. */
	async persist(task: TaskRecord<unknown, TOutput>, output: TOutput): Promise<void> {
		this.#assertOpen();
		const value = output === undefined ? null : output;
		try {
			assertJsonOutput(value);
		} catch (error) {
			throw new PersistError(`Cannot store the output of task \`${task.id}\`: ${(error as Error).message}`, {
				cause: error,
			});
		}
		const json = JSON.stringify(value);
		await this.#run('persist', async () => {
			if (this.inTaskRow) {
				const rows = resultRows(
					await this.knex.raw(`UPDATE ${this.#tables.tasks} SET output = ? WHERE id = ? RETURNING id`, [
						json,
						task.id,
					]),
				);
				if (rows.length === 0)
					throw new PersistError(
						`Cannot store the output of task \`${task.id}\`: no such task row in ${this.#tables.tasks}`,
					);
				return;
			}
			await this.knex.raw(
				`INSERT INTO ${this.#tables.outputs} (id, output, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET output = excluded.output, updated_at = excluded.updated_at`,
				[task.id, json, Date.now()],
			);
		});
	}

	/** The stored output, or `null` when none is stored. */
	async get(id: string): Promise<TOutput | null> {
		this.#assertOpen();
		const table = this.inTaskRow ? this.#tables.tasks : this.#tables.outputs;
		const rows = await this.#run('get', async () =>
			resultRows(await this.knex.raw(`SELECT output FROM ${table} WHERE id = ?`, [id])),
		);
		const text = rows[0]?.['output'];
		return text === null || text === undefined ? null : (JSON.parse(String(text)) as TOutput);
	}

	/** Forget the stored output. */
	async delete(id: string): Promise<void> {
		this.#assertOpen();
		await this.#run('delete', async () => {
			if (this.inTaskRow)
				await this.knex.raw(`UPDATE ${this.#tables.tasks} SET output = NULL WHERE id = ?`, [id]);
			else await this.knex.raw(`DELETE FROM ${this.#tables.outputs} WHERE id = ?`, [id]);
		});
	}

	/** Destroys the Knex instance only when the persistencer made it. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#migration.settled();
		if (this.#owned) await this.knex.destroy();
	}

	#assertOpen(): void {
		if (this.#closed) throw new PersistError('The SqlPersistencer is closed');
	}

	async #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
		try {
			await this.#migration.run();
			return await operation();
		} catch (error) {
			if (error instanceof PersistError) throw error;
			const bounds = {
				connectTimeoutMs: 5_000,
				acquireTimeoutMs: Number(
					(this.knex.client as { config?: { acquireConnectionTimeout?: unknown } }).config
						?.acquireConnectionTimeout ?? 60_000,
				),
			};
			throw new PersistError(`SqlPersistencer ${failureMessage(what, this.#database, error, bounds)}`, {
				cause: error,
			});
		}
	}
}
