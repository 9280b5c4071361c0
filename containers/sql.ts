/**
 * `SqlContainer`: tasks in SQL tables through knex. SQLite (one file, WAL) for one process or a few on one
 * machine; PostgreSQL for several processes or machines. Claims are atomic on the server (one UPDATE over a
 * `FOR UPDATE SKIP LOCKED` pick on PostgreSQL, one write statement under SQLite's write lock), and every
 * state change is a compare-and-set on the status (and owner), so a late report is rejected, never applied.
 */
import type { Knex } from 'knex';
import {
	assertCleanQuery,
	assertJsonOutput,
	isWellFormedText,
	insertInTransaction,
	defaultWorkflowStore,
	SchedulerClosedError,
	type ClaimGuard,
	type CleanQuery,
	type ContainerSignal,
	type RepeatRecord,
	type TaskLogPage,
	type TaskLogQuery,
	type RenewResult,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
	type TaskChangePage,
	type TaskChangeQuery,
} from 'lightsched/kit';
import { callBounds, openKnex } from './sql/connection.js';
import { ContainerCalls } from './sql/container-calls.js';
import { routeAdd } from './sql/add-routes.js';
import { checkAdd } from './sql/task-adds.js';
import { SqlWorkflowStore } from './sql/workflow-store.js';
import type { WorkflowStore } from '../src/workflow-store.js';
import {
	containerParts,
	registerGuardedInserts,
	type ContainerHost,
	type ContainerParts,
} from './sql/container-parts.js';
import { describeDatabase } from './sql/failures.js';
import { listPage } from './sql/list-page.js';
import { WAKE_PAYLOAD } from './sql/notify.js';
import { cleanTasks, countTasks, isPausedStatement, removeTask, setPaused } from './sql/operations.js';
import { appendLogs, getLogs } from './sql/logs.js';
import { getRepeat, listRepeats, moveTick, putRepeat, removeRepeat } from './sql/repeats.js';
import { within } from './sql/pending-calls.js';
import { resolveSqlOptions, type SqlContainerOptions } from './sql/options.js';
import { rowToRecord } from './sql/rows.js';
import { reclaimExpired, renewLeases, requestStop } from './sql/task-leases.js';
import { resultRows, sqlTables, type SqlDialect, type SqlTables } from './sql/schema.js';

export { SqlPersistencer, type SqlPersistencerContainer, type SqlPersistencerOptions } from './sql/persistencer.js';
export { SqlWorkflowStore };
export type { SqlWorkflowStoreOptions } from './sql/workflow-store.js';
export { PartialAddError } from 'lightsched/kit';
export type { KnexSource } from './sql/connection.js';
export type { SqlDialect } from './sql/schema.js';

export type { PgConnectionConfig, RateLimitOption, SqlContainerOptions } from './sql/options.js';

export class SqlContainer implements TaskContainer {
	readonly shared = true;
	/** The Knex instance the container works through. */
	readonly knex: Knex;
	/** `sqlite` or `pg`. */
	readonly dialect: SqlDialect;
	/** The prefix of the container's table names. */
	readonly tablePrefix: string;
	/** Whose clock judges leases, due times and reclaims (see the `clock` option). */
	readonly clock: 'server' | 'caller';
	/** Which database, for messages: `PostgreSQL at host:port/database` or `SQLite file <path>` (never a password). */
	readonly database: string;
	/**
	 * With `notify`: the wake-up channel. PostgreSQL: LISTEN/NOTIFY. SQLite: a watch on the database file's folder
	 * (commits of any process change its write-ahead log); absent for a database without a file (schedulers poll at
	 * `pollIntervalMs`).
	 */
	readonly watch?: (listener: (signal: ContainerSignal) => void) => () => void;
	readonly #tables: SqlTables;
	readonly #owned: boolean;
	/** The container's parts (sql/container-parts.ts). */
	readonly #parts: ContainerParts;

	/**
	 * Whether `globalConcurrency` or `rateLimit` is set: the claim enforces them. (`CombinedContainer` refuses such a
	 * container as its persistent part: it claims from memory, where they would not hold.)
	 */
	get claimLimited(): boolean {
		return this.#parts.limits.active;
	}
	readonly #bounds: { connectTimeoutMs: number; acquireTimeoutMs: number };
	#closed = false;
	#closing: Promise<void> | null = null;
	/** Every call: after the migration, tracked for close, errors worded (sql/container-calls.ts). */
	readonly #calls: ContainerCalls;

	constructor(options: SqlContainerOptions) {
		const o = resolveSqlOptions(options);
		this.#tables = sqlTables(o.tablePrefix);
		this.tablePrefix = o.tablePrefix;
		const connection = openKnex(options.knex, o.sqlite, o);
		this.knex = connection.knex;
		this.dialect = connection.dialect;
		this.#owned = connection.owned;
		this.clock = o.clock ?? (this.dialect === 'pg' ? 'server' : 'caller');
		this.#bounds = callBounds(connection, options, o.connectTimeoutMs);
		this.database = describeDatabase(this.knex, this.dialect);
		this.#calls = new ContainerCalls({
			knex: this.knex,
			dialect: this.dialect,
			tables: this.#tables,
			owned: this.#owned,
			sqlite: o.sqlite,
			database: this.database,
			bounds: this.#bounds,
			closed: () => this.#closed,
		});
		const host: ContainerHost = {
			self: this,
			knex: this.knex,
			dialect: this.dialect,
			tables: this.#tables,
			clock: this.clock,
			closed: () => this.#closed,
			assertOpen: () => this.#assertOpen(),
			migrate: () => this.migrate(),
			run: (what, operation) => this.#calls.run(what, operation),
			track: (promise) => this.#calls.track(promise),
			now: (now) => this.#now(now),
			slotFreed: () => this.#slotFreed(),
		};
		this.#parts = containerParts(host, o);
		registerGuardedInserts(host, this.#parts.inserts);
		if (this.#parts.channels.watch !== undefined) this.watch = this.#parts.channels.watch;
	}

	/** Create or upgrade the tables now (otherwise done on first use). Safe to call any number of times. */
	migrate(): Promise<void> {
		return this.#calls.migrate();
	}

	async add(tasks: readonly TaskRecord[]): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		if (tasks.length === 0) return;
		await routeAdd(
			{
				knex: this.knex,
				dialect: this.dialect,
				tables: this.#tables,
				database: this.database,
				parts: this.#parts,
				calls: this.#calls,
				closed: () => this.#closed,
			},
			tasks,
		);
	}

	/** `lightsched/kit`: `new Workflows({ scheduler })` on this container keeps its runs here (see `WorkflowStoreSource`). */
	[defaultWorkflowStore](): WorkflowStore {
		return new SqlWorkflowStore({ container: this });
	}

	/**
	 * `lightsched/kit` (see `TransactionalInsert`): inside the caller's transaction on this container's Knex instance
	 * (after `migrate()`), insert the tasks whose ids are absent; a task stored under an id already, whatever its
	 * status, is left as it is. Checked as `add` checks (throws before writing). Returns the records inserted.
	 */
	async [insertInTransaction](transaction: unknown, tasks: readonly TaskRecord[]): Promise<TaskRecord[]> {
		this.#assertOpen();
		return this.#parts.inserts.inTransaction(transaction as Knex.Transaction, tasks);
	}

	/** See `TaskContainer.gatherClaims`: SQLite without claim-ahead (sql/transitions.ts `gathersAlone`). */
	get gatherClaims(): boolean {
		return this.#parts.transitions.gathersAlone;
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed || max <= 0) return [];
		// Tasks claimed ahead for this owner first (sql/claim-ahead.ts); the database only for the rest.
		const tasks = await this.#parts.ahead.claim(owner, Math.floor(max), leaseMs, async (n) => {
			const rows = await this.#calls.run('claim', () =>
				this.#parts.claims.claim(owner, leaseMs, n, this.#now(now)),
			);
			return rows.map(rowToRecord);
		});
		this.#parts.vacuum?.count(tasks.length);
		this.#parts.analyze?.count(-tasks.length);
		return tasks;
	}

	async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		this.#assertOpen();
		// An output JSON would change fails the attempt (InvalidOutputError) instead of being stored changed.
		assertJsonOutput(patch.output);
		if (!isWellFormedText(id)) return null;
		if (to === 'waiting' && patch.runAt !== undefined) this.#parts.claims.wrote(patch.runAt);
		const row = await this.#calls.run('transition', () =>
			this.#parts.transitions.submit({ id, from, to, patch, owner, claim, updatedAt: Date.now() }),
		);
		if (row !== null && to !== 'running' && to !== 'exporting') this.#slotFreed();
		return row === null ? null : rowToRecord(row);
	}

	/**
	 * Extends the leases of `ids` held by `owner`, and lists in `unknown` the tasks the container holds for
	 * `owner` that are not among `ids` (a claim whose reply was lost), whose leases it leaves alone.
	 */
	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		this.#assertOpen();
		return this.#calls.run('renew', () => renewLeases(this.#parts.leases, owner, ids, leaseMs, this.#now(now)));
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		return this.#calls.run('reclaimExpired', () => reclaimExpired(this.#parts.leases, this.#now(now)));
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return null;
		return this.#calls.run('requestStop', () => requestStop(this.#parts.leases, id));
	}

	/**
	 * On the server's clock the earliest due time is judged by the database and handed back on the caller's
	 * clock (the caller's `now` plus how long the database says it is until then), so a caller whose clock is
	 * off neither wakes early and spins nor sleeps past it.
	 */
	async nextDueAt(now: number): Promise<number | null> {
		this.#assertOpen();
		return this.#calls.run('nextDueAt', () => this.#parts.claims.nextDueAt(now, this.#now(now)));
	}

	async get(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		// No stored id has a lone surrogate (add refuses them); sent, U+FFFD would name another task.
		if (!isWellFormedText(id)) return null;
		const rows = await this.#calls.run('get', async () =>
			resultRows(await this.knex.raw(`SELECT * FROM ${this.#tables.tasks} WHERE id = ?`, [id])),
		);
		return rows[0] === undefined ? null : rowToRecord(rows[0]);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		this.#assertOpen();
		return this.#calls.run('list', () => listPage(this.knex, this.#tables.tasks, query));
	}

	async counts(): Promise<TaskCounts> {
		this.#assertOpen();
		return this.#calls.run('counts', () => countTasks(this.knex, this.#tables));
	}

	async remove(id: string): Promise<boolean> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return false;
		return this.#calls.run('remove', () => removeTask(this.knex, this.#tables, id));
	}

	async setPaused(paused: boolean): Promise<void> {
		this.#assertOpen();
		await this.#calls.run('setPaused', () =>
			setPaused(this.#parts.query, this.dialect, this.#tables, paused, this.#parts.notify),
		);
	}

	async isPaused(): Promise<boolean> {
		this.#assertOpen();
		const { sql, bindings } = isPausedStatement(this.#tables);
		return (await this.#calls.run('isPaused', () => this.#parts.query(sql, bindings))).length > 0;
	}

	async clean(query: CleanQuery): Promise<string[]> {
		this.#assertOpen();
		assertCleanQuery(query);
		return this.#calls.run('clean', () =>
			cleanTasks(this.#parts.query, this.knex, this.dialect, this.#tables, query),
		);
	}

	async appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return;
		await this.#calls.run('appendLogs', () => appendLogs(this.knex, this.#tables, id, lines, maxLines));
	}

	async getLogs(id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return { lines: [], offset: 0, total: 0, dropped: 0 };
		return this.#calls.run('getLogs', () => getLogs(this.knex, this.#tables, id, query));
	}

	/** Task changes for followers in any process (see `TaskContainer.readChanges` and sql/change-events.ts). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		this.#assertOpen();
		return this.#parts.changes.read(query);
	}

	async putRepeat(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean> {
		this.#assertOpen();
		return this.#calls.run('putRepeat', () => putRepeat(this.knex, this.dialect, this.#tables, repeat, expected));
	}

	async getRepeat(key: string): Promise<RepeatRecord | null> {
		this.#assertOpen();
		return this.#calls.run('getRepeat', () => getRepeat(this.knex, this.#tables, key));
	}

	async listRepeats(): Promise<RepeatRecord[]> {
		this.#assertOpen();
		return this.#calls.run('listRepeats', () => listRepeats(this.knex, this.#tables));
	}

	async removeRepeat(key: string): Promise<boolean> {
		this.#assertOpen();
		return this.#calls.run('removeRepeat', () => removeRepeat(this.knex, this.#tables, key));
	}

	async advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		this.#assertOpen();
		const tasks = task === null ? [] : [task];
		const items = checkAdd(tasks);
		const moved = await this.#calls.run('advanceRepeat', () =>
			this.#parts.inserts.insert(tasks, items, (trx) => moveTick(trx, this.#tables, key, expected, next)),
		);
		if (moved) this.#parts.analyze?.count(tasks.length);
		return moved;
	}

	/**
	 * Stop listening, let the calls on their way settle, and, when the container made the Knex instance, destroy
	 * it. A second call is harmless.
	 */
	close(): Promise<void> {
		this.#closing ??= this.#close();
		return this.#closing;
	}

	async #close(): Promise<void> {
		this.#closed = true;
		this.#parts.changes.close();
		await this.#parts.channels.close();
		// Tasks claimed ahead go back to waiting, uncounted (their transitions run with the calls on their way).
		const drained = this.#parts.ahead.drain();
		// Calls on their way settle first (each is bounded by the connect and acquire timeouts), then the pool goes.
		// A call stuck past the bound (a statement waiting on a lock, a server that froze mid-statement) is rejected
		// with SchedulerClosedError rather than left pending; its connection goes when the pool is destroyed.
		const grace = this.#bounds.acquireTimeoutMs;
		await within(drained, grace);
		await this.#calls.settle(grace);
		if (this.#owned)
			await within(
				this.knex.destroy().catch(() => undefined),
				grace,
			);
	}

	/**
	 * A task left running or exporting: with `globalConcurrency` on PostgreSQL's wake-up channel, wake the
	 * schedulers a cut claim left waiting (only when one was: the `starved` row). In the background.
	 */
	#slotFreed(): void {
		if (this.#parts.limits.limits.globalConcurrency === 0 || !this.#parts.notify || this.#closed) return;
		const { sql, bindings } = this.#parts.limits.wakeStarved(this.#tables.channel, WAKE_PAYLOAD);
		this.#parts.query(sql, bindings).catch(() => undefined);
	}

	#assertOpen(): void {
		if (this.#closed) throw new SchedulerClosedError('container');
	}

	/** The `now` a statement binds: the caller's, or on the server's clock this machine's (SQLite's clock). */
	#now(now: number): number {
		return this.clock === 'caller' ? now : Date.now();
	}
}
