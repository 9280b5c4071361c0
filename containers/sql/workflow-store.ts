/**
 * `SqlWorkflowStore`: workflow runs in SQLite or PostgreSQL, shared by every process on the database, so one
 * process finishes the runs another began. Two tables of its own (`<prefix>wf_runs`, `<prefix>wf_definitions`),
 * made on first use (workflow-tables.ts). A run is one row: the record as JSON plus the columns queries need;
 * `update` is `UPDATE … WHERE id = ? AND rev = ?` (the compare-and-set), and a unique index on `active_key` (the
 * key of an unfinished unique-key run, else NULL) refuses a second holder atomically. `create_token` is the token of the
 * create call that stored the run, so that a create that lost its reply knows its run (run-create-resend.ts).
 * Shares a `SqlContainer`'s knex instance (`container`) or opens its own (`knex`), as `SqlPersistencer` does.
 */
import type { Knex } from 'knex';
import { ContainerError, SchedulerClosedError } from 'lightsched';
import {
	canInsertInTransaction,
	insertInTransaction,
	rejectUnknownOptions,
	SchedulerError,
	withTaskRelease,
	type TaskContainer,
	type TaskRecord,
} from 'lightsched/kit';
import {
	isFinalRunStatus,
	type ReleasingUpdate,
	type ReleasingWorkflowStore,
	type RunPage,
	type RunQuery,
	type RunRecord,
	type StoredDefinition,
	type WorkflowStore,
} from '../../src/workflow-store.js';
import { DuplicateRunError, RunStateError } from '../../workflows/errors.js';
import { holdsKey, keyConflictMessage } from '../../workflows/memory-store.js';
import { runTop } from '../../workflows/record-copy.js';
import { decodeRunBody, encodeRunBody } from '../../workflows/run-body.js';
import { openKnex, type KnexSource } from './connection.js';
import { containerRunners } from './container-runners.js';
import { directPg } from './direct-pg.js';
import { directSqlite } from './direct-sqlite.js';
import { directSqlite3, directSqlite3In } from './direct-sqlite3.js';
import { describeDatabase } from './failures.js';
import { guardedInserts } from './insert.js';
import { onceRetrying } from './once-retrying.js';
import type { SqlPersistencerContainer } from './persistencer.js';
import { ResendingRunCreates } from './run-create-resend.js';
import type { RunWriteValues } from './run-update.js';
import { RunWriteBatcher, type InsertInTransaction } from './run-writes.js';
import type { RunRows } from './pooled-statement.js';
import type { SqlDialect } from './schema.js';
import { isUniqueViolation, rowsOf } from './statements.js';
import { migrateWorkflowTables } from './workflow-tables.js';

/** What `new SqlWorkflowStore(options)` takes: a `container` to share, or a `knex` connection of its own. */
export interface SqlWorkflowStoreOptions {
	/** Share this container's Knex instance and table prefix (the container owns and closes the connection). */
	readonly container?: SqlPersistencerContainer;
	/** Otherwise: a knex configuration or Knex instance of its own, as for `SqlContainer`. */
	readonly knex?: KnexSource;
	/**
	 * With `knex`: the table prefix (ignored with `container`, which brings its own).
	 * @default 'lightsched_'
	 */
	readonly tablePrefix?: string;
}

interface RunRow {
	id: string;
	body: string;
	rev: number | string;
}

/** Workflow runs in SQL, shared between processes. */
export class SqlWorkflowStore implements WorkflowStore, ReleasingWorkflowStore {
	/** Shared: every process on the database sees the same runs. */
	readonly shared = true;
	/** The Knex instance runs are written through. */
	readonly knex: Knex;
	readonly #dialect: SqlDialect;
	readonly #owned: boolean;
	readonly #runs: string;
	readonly #definitions: string;
	readonly #database: string;
	/** The compare-and-set writes of `update`, coalesced into one statement while the database is busy. */
	readonly #writes: RunWriteBatcher;
	/** The inserts of `create`, each with its call's token, sent again after a lost reply (run-create-resend.ts). */
	readonly #creates: ResendingRunCreates;
	/**
	 * A statement outside a transaction: the direct runner where the container has one (direct-sqlite.ts,
	 * direct-sqlite3.ts, direct-pg.ts), else knex's `raw`.
	 */
	readonly #statement: RunRows;
	/** The container whose connection this store shares (`{ container }`), or `null`. */
	readonly #container: SqlPersistencerContainer | null;
	/** The tables' creation: once, and again after a failure. */
	readonly #migration = onceRetrying(() =>
		migrateWorkflowTables(this.knex, this.#dialect, { runs: this.#runs, definitions: this.#definitions }),
	);
	#closed = false;

	constructor(options: SqlWorkflowStoreOptions) {
		if (typeof options !== 'object' || options === null)
			throw new TypeError('Expected SqlWorkflowStore options to be an object like { container } or { knex }');
		rejectUnknownOptions('SqlWorkflowStore', options, ['container', 'knex', 'tablePrefix']);
		let prefix: string;
		this.#container = null;
		if (options.container !== undefined) {
			const { container } = options;
			if (typeof container !== 'object' || container === null || typeof container.migrate !== 'function')
				throw new TypeError('Expected `container` to be a SqlContainer');
			this.knex = container.knex;
			this.#dialect = container.dialect;
			this.#owned = false;
			prefix = container.tablePrefix;
			this.#container = container;
		} else {
			if (options.knex === undefined)
				throw new TypeError(
					'Expected `container` (a SqlContainer) or `knex` (a knex configuration or instance), got neither',
				);
			const connection = openKnex(options.knex, { busyTimeoutMs: 5_000, synchronous: 'NORMAL' });
			this.knex = connection.knex;
			this.#dialect = connection.dialect;
			this.#owned = connection.owned;
			prefix = options.tablePrefix ?? 'lightsched_';
			if (typeof prefix !== 'string' || !/^[A-Za-z0-9_]{0,40}$/.test(prefix))
				throw new TypeError(
					`Expected \`tablePrefix\` to be up to 40 letters, digits and underscores, got ${JSON.stringify(prefix)}`,
				);
		}
		this.#runs = `${prefix}wf_runs`;
		this.#definitions = `${prefix}wf_definitions`;
		this.#database = describeDatabase(this.knex, this.#dialect);
		const shared = this.#container;
		const insert: InsertInTransaction | null = canInsertInTransaction(shared)
			? (trx, tasks) => shared[insertInTransaction](trx, tasks)
			: null;
		// Sharing a container: its own direct runner (container-runners.ts), so its statement mode holds for the store's
		// statements too. Else the container's choice for these options by default, in its order (container-parts.ts):
		// better-sqlite3, sqlite3 (statements kept on a knex instance the container made), PostgreSQL; there the
		// frequent writes (the run writes, the releases, the creates) run through the statement functions
		// (pg-functions.ts): planned once per server connection, not on every run.
		const direct =
			(shared === null ? undefined : containerRunners.get(shared)) ??
			directSqlite(this.knex)?.run ??
			directSqlite3(this.knex) ??
			directPg(this.knex, false, prefix);
		const knex = this.knex;
		this.#statement = direct ?? ((sql, bindings) => rowsOf(knex, sql, bindings));
		this.#creates = new ResendingRunCreates({
			table: this.#runs,
			dialect: this.#dialect,
			run: this.#statement,
			database: this.#database,
			closed: () => this.#closed,
		});
		this.#writes = new RunWriteBatcher({
			dialect: this.#dialect,
			table: this.#runs,
			knex: this.knex,
			insert,
			guarded: shared === null ? null : (guardedInserts.get(shared) ?? null),
			direct,
			directIn: (trx) => directSqlite3In(this.knex, trx),
			transaction: directSqlite(this.knex)?.transaction ?? null,
		});
	}

	/**
	 * `lightsched/kit` (see `ReleasingWorkflowStore`): with the `SqlContainer` this store shares its connection with
	 * (`{ container }`), a run's compare-and-set write and the insert of the step tasks it releases are stored
	 * together or not at all: on PostgreSQL in ONE statement (the UPDATE and guarded INSERTs as a data-modifying
	 * WITH: one round trip, as the autocommit UPDATE alone was), on SQLite in one transaction (see run-writes.ts).
	 * `null` for any other container.
	 */
	[withTaskRelease](container: TaskContainer): ReleasingUpdate | null {
		const shared = this.#container;
		if (shared === null || (container as unknown) !== shared || !canInsertInTransaction(shared)) return null;
		// Kept once made, as the store's own (see `#call`).
		let migrated = false;
		return (run, tasks) =>
			this.#call('update', async (knex) => {
				// The container's tables too: its insert runs inside this store's transaction.
				if (!migrated) {
					await shared.migrate();
					migrated = true;
				}
				return this.#update(knex, run, tasks);
			});
	}

	async putDefinition(definition: StoredDefinition): Promise<StoredDefinition> {
		return this.#call('putDefinition', async (knex) => {
			await knex(this.#definitions)
				.insert({ name: definition.name, version: definition.version, body: JSON.stringify(definition.body) })
				.onConflict(['name', 'version'])
				.ignore();
			return (await this.#getDefinition(knex, definition.name, definition.version)) as StoredDefinition;
		});
	}

	async getDefinition(name: string, version: number): Promise<StoredDefinition | null> {
		return this.#call('getDefinition', (knex) => this.#getDefinition(knex, name, version));
	}

	/**
	 * Insert the run with a token of this call's (`create_token`). A run of this id that carries the token is this
	 * call's: stored by this insert's first try, whose reply was lost, or by an earlier create of the same record
	 * that rejected with `RunOutcomeUnknownError`. Such a create resolves; any other holder of the id refuses it.
	 */
	async create(run: RunRecord): Promise<void> {
		await this.#call('create', async (knex) => {
			const outcome = await this.#creates.create(knex, run, this.#columns(run));
			if (outcome === 'stored') return;
			if (outcome === 'id-taken' || run.key === null)
				throw new DuplicateRunError(`A workflow run with id \`${run.id}\` exists`);
			throw await this.#keyConflict(knex, run.key);
		});
	}

	async get(id: string): Promise<RunRecord | null> {
		return this.#call('get', async () => {
			const [row] = (await this.#statement(`SELECT id, body, rev FROM ${this.#runs} WHERE id = ?`, [
				id,
			])) as unknown[] as RunRow[];
			return row === undefined ? null : this.#fromRow(row);
		});
	}

	async update(run: RunRecord): Promise<RunRecord | null> {
		return this.#call('update', async (knex) => (await this.#update(knex, run, []))?.run ?? null);
	}

	async #update(
		knex: Knex,
		run: RunRecord,
		tasks: readonly TaskRecord[],
	): Promise<{ run: RunRecord; added: TaskRecord[] } | null> {
		// A literal copy of the top level (record-copy.ts: about a third of the time of a spread).
		const next = runTop(run);
		next.rev = run.rev + 1;
		let added: TaskRecord[] | null;
		try {
			added = await this.#writes.submit(run.id, run.rev, run.createdAt, this.#columns(next), tasks);
		} catch (error) {
			if (!isUniqueViolation(error) || error instanceof SchedulerError) throw error;
			// Refused by a unique index: the run's key (a task's deduplication key is checked before its insert).
			throw await this.#keyConflict(knex, run.key as string);
		}
		// Not copied: `next` is a record of its own at the top, sharing its values with `run` (see `WorkflowStore.update`).
		return added === null ? null : { run: next, added };
	}

	async list(query: RunQuery = {}): Promise<RunPage> {
		return this.#call('list', async (knex) => {
			const filtered = (): Knex.QueryBuilder => {
				const q = knex(this.#runs);
				if (query.definition !== undefined) q.where('definition', query.definition);
				if (query.key !== undefined) q.where('run_key', query.key);
				if (query.status !== undefined)
					q.whereIn('status', typeof query.status === 'string' ? [query.status] : [...query.status]);
				if (query.from !== undefined) q.where('created_at', '>=', query.from);
				if (query.to !== undefined) q.where('created_at', '<', query.to);
				return q;
			};
			const direction = query.order === 'desc' ? 'desc' : 'asc';
			const rows = (await filtered()
				.select('id', 'body', 'rev')
				.orderBy([
					{ column: 'created_at', order: direction },
					{ column: 'id', order: direction },
				])
				.offset(query.offset ?? 0)
				.limit(query.limit ?? 100)) as RunRow[];
			const counted = (await filtered().count({ n: '*' }).first()) as { n: number | string } | undefined;
			return { runs: rows.map((row) => this.#fromRow(row)), total: Number(counted?.n ?? 0) };
		});
	}

	async open(limit: number): Promise<RunRecord[]> {
		return this.#call('open', async (knex) => {
			const rows = (await knex(this.#runs)
				.where('open', true)
				.orderBy('created_at')
				.limit(limit)
				.select('id', 'body', 'rev')) as RunRow[];
			return rows.map((row) => this.#fromRow(row));
		});
	}

	async remove(id: string, expected?: Pick<RunRecord, 'rev' | 'createdAt'>): Promise<boolean> {
		return this.#call('remove', async (knex) => {
			const as = expected === undefined ? {} : { rev: expected.rev, created_at: expected.createdAt };
			const deleted = await knex(this.#runs)
				.where({ id, open: false, ...as })
				.delete();
			if (deleted === 1) return true;
			const row = (await knex(this.#runs).where({ id }).first('id', 'body', 'rev')) as RunRow | undefined;
			if (row === undefined) return false;
			const run = this.#fromRow(row);
			if (expected !== undefined && (run.rev !== expected.rev || run.createdAt !== expected.createdAt))
				return false;
			throw new RunStateError(
				id,
				`\`remove\` needs a finished run; this one is ${run.status}${isFinalRunStatus(run.status) ? ' with work still settling' : ''}`,
			);
		});
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#owned) await this.knex.destroy();
	}

	/** Create the tables (once per store; safe when several processes race). */
	migrate(): Promise<void> {
		return this.#migration.run();
	}

	#columns(run: RunRecord): RunWriteValues {
		return {
			definition: run.definition,
			version: run.version,
			run_key: run.key,
			active_key: holdsKey(run) ? run.key : null,
			status: run.status,
			open: run.open,
			updated_at: run.updatedAt,
			rev: run.rev,
			body: encodeRunBody(run),
		};
	}

	#fromRow(row: RunRow): RunRecord {
		return decodeRunBody(row.body, Number(row.rev));
	}

	async #getDefinition(knex: Knex, name: string, version: number): Promise<StoredDefinition | null> {
		const row = (await knex(this.#definitions).where({ name, version }).first('body')) as
			{ body: string } | undefined;
		return row === undefined ? null : { name, version, body: JSON.parse(row.body) as unknown };
	}

	async #keyConflict(knex: Knex, key: string): Promise<DuplicateRunError> {
		const holder = (await knex(this.#runs).where({ active_key: key }).first('id')) as { id: string } | undefined;
		return new DuplicateRunError(keyConflictMessage(key, holder?.id ?? '(finished since)'), key);
	}

	async #call<T>(what: string, work: (knex: Knex) => Promise<T>): Promise<T> {
		if (this.#closed) throw new SchedulerClosedError('workflow store');
		try {
			// A migration that succeeded is kept (`onceRetrying`): no wait for its promise on every call after it.
			if (!this.#migration.done) await this.migrate();
			return await work(this.knex);
		} catch (error) {
			// The store's own refusals, and a released task's (an invalid task, a deduplication key taken).
			if (error instanceof DuplicateRunError || error instanceof RunStateError || error instanceof SchedulerError)
				throw error;
			throw new ContainerError(
				`Workflow store ${what} failed: ${this.#database}: ${(error as Error)?.message ?? String(error)}`,
				{ cause: error },
			);
		}
	}
}
