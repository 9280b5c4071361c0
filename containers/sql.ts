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
	ContainerError,
	insertInTransaction,
	SchedulerClosedError,
	SchedulerError,
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
import { SqlChangeReader } from './sql/change-events.js';
import { isKnexInstance, openKnex, sqlitePragmas, type SqliteSettings } from './sql/connection.js';
import { describeDatabase, failureMessage } from './sql/failures.js';
import { writeBatch } from './sql/add-batch.js';
import { AddQueue } from './sql/add-queue.js';
import { AutoAnalyze } from './sql/auto-analyze.js';
import { claimAheadOff, ClaimAheadBuffer } from './sql/claim-ahead.js';
import { guardedInserts } from './sql/insert.js';
import { listPage } from './sql/list-page.js';
import { WAKE_PAYLOAD } from './sql/notify.js';
import { cleanStatement, countTasks, isPausedStatement, removeTask, setPausedStatement } from './sql/operations.js';
import { appendLogs, dropLogs, getLogs } from './sql/logs.js';
import { getRepeat, listRepeats, moveTick, putRepeat, removeRepeat } from './sql/repeats.js';
import { PendingCalls, within } from './sql/pending-calls.js';
import { resolveSqlOptions, type SqlContainerOptions } from './sql/options.js';
import { SqlClaimLimits } from './sql/rate-limit.js';
import { rowToRecord } from './sql/rows.js';
import { CHUNK, rowsOf, taskStatements, type TaskStatements } from './sql/statements.js';
import { checkAdd, TaskAdds } from './sql/task-adds.js';
import { TaskClaims } from './sql/task-claims.js';
import { reclaimExpired, renewLeases, requestStop, type TaskLeasesParts } from './sql/task-leases.js';
import { TransitionBatcher } from './sql/transitions.js';
import { directSqlite, type RunRows } from './sql/direct-sqlite.js';
import { directPg } from './sql/direct-pg.js';
import { SqlWakeChannels } from './sql/wake-channels.js';
import { migrate, resultRows, sqlTables, type SqlDialect, type SqlTables } from './sql/schema.js';

export { SqlPersistencer, type SqlPersistencerContainer, type SqlPersistencerOptions } from './sql/persistencer.js';
export { SqlWorkflowStore, type SqlWorkflowStoreOptions } from './sql/workflow-store.js';
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
	readonly #sqlite: SqliteSettings;
	/** The wake-up channels (sql/wake-channels.ts). */
	readonly #channels: SqlWakeChannels;
	/** Whether statements send PostgreSQL wake-ups (`notify` on PostgreSQL). */
	readonly #notify: boolean;
	readonly #transitions: TransitionBatcher;
	/**
	 * better-sqlite3 and PostgreSQL: the container's statements straight to a pooled connection (sql/direct-sqlite.ts,
	 * sql/direct-pg.ts); else null.
	 */
	readonly #direct: RunRows | null;
	/** `readChanges` (sql/change-events.ts). */
	readonly #changes: SqlChangeReader;
	readonly #sql: TaskStatements;
	/** `globalConcurrency` and `rateLimit` (see sql/rate-limit.ts). */
	readonly #limits: SqlClaimLimits;
	/** The claim path: promotion of delayed tasks, claims, limited claims (sql/task-claims.ts). */
	readonly #claims: TaskClaims;
	/** Adds of up to CHUNK tasks, written in batches while one is on its way (sql/add-queue.ts, sql/add-batch.ts). */
	readonly #adds: AddQueue;
	/** Large adds, repeat ticks, inserts in a caller's transaction (sql/task-adds.ts). */
	readonly #inserts: TaskAdds;
	/** PostgreSQL: tasks claimed ahead for their owners' next claims (sql/claim-ahead.ts). */
	readonly #ahead = new ClaimAheadBuffer((task, owner) => this.#handBackHeld(task, owner));
	/** What renewals, reclaims and stop requests need (sql/task-leases.ts). */
	readonly #leases: TaskLeasesParts;
	/** PostgreSQL: the container's own ANALYZE of a growing queue (sql/auto-analyze.ts); null on SQLite. */
	readonly #analyze: AutoAnalyze | null;

	/**
	 * Whether `globalConcurrency` or `rateLimit` is set: the claim enforces them. (`CombinedContainer` refuses such a
	 * container as its persistent part: it claims from memory, where they would not hold.)
	 */
	get claimLimited(): boolean {
		return this.#limits.active;
	}
	readonly #bounds: { connectTimeoutMs: number; acquireTimeoutMs: number };
	#ready: Promise<void> | null = null;
	#closed = false;
	#closing: Promise<void> | null = null;
	/** Calls on their way, and who waits for them to settle (close). */
	readonly #pending = new PendingCalls();

	constructor(options: SqlContainerOptions) {
		const o = resolveSqlOptions(options);
		this.#tables = sqlTables(o.tablePrefix);
		this.tablePrefix = o.tablePrefix;
		this.#sqlite = o.sqlite;
		const connection = openKnex(options.knex, this.#sqlite, o);
		this.knex = connection.knex;
		this.#direct = directSqlite(this.knex) ?? directPg(this.knex);
		this.dialect = connection.dialect;
		this.#owned = connection.owned;
		this.clock = o.clock ?? (this.dialect === 'pg' ? 'server' : 'caller');
		this.#bounds = {
			connectTimeoutMs: o.connectTimeoutMs,
			acquireTimeoutMs: Number(
				(this.knex.client as { config?: { acquireConnectionTimeout?: unknown } }).config
					?.acquireConnectionTimeout ?? 60_000,
			),
		};
		this.database = describeDatabase(this.knex, this.dialect);
		if (
			!connection.owned &&
			isKnexInstance(options.knex) &&
			this.dialect === 'pg' &&
			(options.connectTimeoutMs !== undefined || options.acquireTimeoutMs !== undefined)
		) {
			throw new TypeError(
				'`connectTimeoutMs` and `acquireTimeoutMs` apply to a knex configuration the container opens: set them on your own Knex instance instead',
			);
		}
		this.#sql = taskStatements(this.dialect, this.#tables, this.clock);
		this.#limits = new SqlClaimLimits(this.dialect, this.#tables, this.#sql, o.limits);
		const query = (sql: string, bindings: readonly unknown[]): Promise<Record<string, unknown>[]> =>
			this.#query(sql, bindings);
		this.#claims = new TaskClaims({
			knex: this.knex,
			dialect: this.dialect,
			sql: this.#sql,
			limits: this.#limits,
			clock: this.clock,
			query,
		});
		this.#notify = this.dialect === 'pg' && o.notify;
		const shape = { table: this.#tables.tasks, sql: this.#sql, bool: this.#bool };
		this.#analyze =
			this.dialect === 'pg' ? new AutoAnalyze(this.knex, this.#tables.tasks, () => !this.#closed) : null;
		this.#inserts = new TaskAdds({
			knex: this.knex,
			tables: this.#tables,
			shape,
			notify: this.#notify,
			adding: (tasks) => this.#claims.adding(tasks),
			grew: (rows) => this.#analyze?.grew(rows),
		});
		const batchParts = {
			knex: this.knex,
			dialect: this.dialect,
			tables: this.#tables,
			shape,
			wake: this.#notify ? ([this.#tables.channel, WAKE_PAYLOAD] as const) : null,
			alone: async (entry: { tasks: readonly TaskRecord[]; items: readonly string[] }) => {
				await this.#inserts.insert(entry.tasks, entry.items, null);
			},
		};
		this.#adds = new AddQueue(CHUNK, (batch) => writeBatch(batchParts, batch));
		if (this.dialect === 'pg') {
			guardedInserts.set(this, (tasks, owners, among) => {
				this.#assertOpen();
				return this.#inserts.guarded(tasks, owners, among);
			});
		}
		const wake = this.#notify
			? { sql: 'SELECT pg_notify(?, ?)', bindings: [this.#tables.channel, WAKE_PAYLOAD] }
			: null;
		this.#transitions = new TransitionBatcher({
			dialect: this.dialect,
			table: this.#tables.tasks,
			bool: this.#bool,
			run: query,
			wake,
			maxInFlight: 1,
			serverNow: this.#sql.serverClock ? this.#sql.nowSql : null,
			ahead:
				this.#sql.claimAhead === null || this.#limits.active
					? null
					: this.#ahead.hook({
							statement: this.#sql.claimAhead,
							off: () => this.#closed || claimAheadOff.has(this),
							promotionDue: (at) => this.#claims.promotionDue(this.#now(at)),
						}),
		});
		this.#leases = {
			sql: this.#sql,
			query,
			channel: this.#notify ? this.#tables.channel : null,
			ahead: this.#ahead,
			aheadSettled: () => this.#transitions.aheadSettled(),
			slotFreed: () => this.#slotFreed(),
		};
		this.#channels = new SqlWakeChannels({
			knex: this.knex,
			dialect: this.dialect,
			tables: this.#tables,
			options: o,
			migrate: () => this.migrate(),
			query,
			closed: () => this.#closed,
		});
		if (this.#channels.watch !== undefined) this.watch = this.#channels.watch;
		this.#changes = new SqlChangeReader({
			dialect: this.dialect,
			prefix: o.tablePrefix,
			query: (what, sql, bindings) => this.#run(what, () => this.#query(sql, bindings)),
			listen: this.#channels.changesListen(),
		});
	}

	/** Create or upgrade the tables now (otherwise done on first use). Safe to call any number of times. */
	migrate(): Promise<void> {
		this.#ready ??= this.#migrate().catch((error: unknown) => {
			this.#ready = null;
			throw error;
		});
		return this.#ready;
	}

	async #migrate(): Promise<void> {
		if (this.dialect === 'sqlite' && !this.#owned) {
			for (const pragma of sqlitePragmas(this.#sqlite)) await this.knex.raw(pragma);
		}
		await migrate(this.knex, this.dialect, this.#tables);
	}

	async add(tasks: readonly TaskRecord[]): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		if (tasks.length === 0) return;
		const items = checkAdd(tasks);
		// A large add alone in its own transaction; smaller ones are written together while one is on its way.
		await this.#run('add', async () => {
			if (tasks.length > CHUNK) return this.#inserts.insert(tasks, items, null);
			this.#claims.adding(tasks);
			return this.#adds.submit(tasks, items);
		});
		this.#analyze?.grew(tasks.length);
	}

	/**
	 * `lightsched/kit` (see `TransactionalInsert`): inside the caller's transaction on this container's Knex instance
	 * (after `migrate()`), insert the tasks whose ids are absent; a task stored under an id already, whatever its
	 * status, is left as it is. Checked as `add` checks (throws before writing). Returns the records inserted.
	 */
	async [insertInTransaction](transaction: unknown, tasks: readonly TaskRecord[]): Promise<TaskRecord[]> {
		this.#assertOpen();
		return this.#inserts.inTransaction(transaction as Knex.Transaction, tasks);
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed || max <= 0) return [];
		// Tasks claimed ahead for this owner first (sql/claim-ahead.ts); the database only for the rest.
		return this.#ahead.claim(owner, Math.floor(max), leaseMs, async (n) => {
			const rows = await this.#run('claim', () => this.#claims.claim(owner, leaseMs, n, this.#now(now)));
			return rows.map(rowToRecord);
		});
	}

	/** A task claimed ahead that its owner did not take in time (or the container closes): back to waiting, uncounted. */
	#handBackHeld(task: TaskRecord, owner: string): Promise<unknown> {
		const patch = { attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null };
		const request = { id: task.id, from: 'running', to: 'waiting', patch, owner, updatedAt: Date.now() } as const;
		return this.#pending.track(this.#transitions.submit(request)).catch(() => null);
	}

	async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
	): Promise<TaskRecord | null> {
		this.#assertOpen();
		// An output JSON would change fails the attempt (InvalidOutputError) instead of being stored changed.
		assertJsonOutput(patch.output);
		if (!isWellFormedText(id)) return null;
		if (to === 'waiting' && patch.runAt !== undefined) this.#claims.wrote(patch.runAt);
		const row = await this.#run('transition', () =>
			this.#transitions.submit({ id, from, to, patch, owner, updatedAt: Date.now() }),
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
		return this.#run('renew', () => renewLeases(this.#leases, owner, ids, leaseMs, this.#now(now)));
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		return this.#run('reclaimExpired', () => reclaimExpired(this.#leases, this.#now(now)));
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return null;
		return this.#run('requestStop', () => requestStop(this.#leases, id));
	}

	/**
	 * On the server's clock the earliest due time is judged by the database and handed back on the caller's
	 * clock, so a caller whose clock is off neither wakes early and spins nor sleeps past it (sql/task-claims.ts).
	 */
	async nextDueAt(now: number): Promise<number | null> {
		this.#assertOpen();
		return this.#run('nextDueAt', () => this.#claims.nextDueAt(now, this.#now(now)));
	}

	async get(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		// No stored id has a lone surrogate (add refuses them); sent, U+FFFD would name another task.
		if (!isWellFormedText(id)) return null;
		const rows = await this.#run('get', async () =>
			resultRows(await this.knex.raw(`SELECT * FROM ${this.#tables.tasks} WHERE id = ?`, [id])),
		);
		return rows[0] === undefined ? null : rowToRecord(rows[0]);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		this.#assertOpen();
		return this.#run('list', () => listPage(this.knex, this.#tables.tasks, query));
	}

	async counts(): Promise<TaskCounts> {
		this.#assertOpen();
		return this.#run('counts', () => countTasks(this.knex, this.#tables));
	}

	async remove(id: string): Promise<boolean> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return false;
		return this.#run('remove', () => removeTask(this.knex, this.#tables, id));
	}

	async setPaused(paused: boolean): Promise<void> {
		this.#assertOpen();
		const { sql, bindings } = setPausedStatement(this.dialect, this.#tables, paused);
		await this.#run('setPaused', async () => {
			const cleared = await this.#query(sql, bindings);
			// Resumed: wake the schedulers that listen (the others poll).
			if (!paused && cleared.length > 0 && this.#notify) {
				await this.#query('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
			}
		});
	}

	async isPaused(): Promise<boolean> {
		this.#assertOpen();
		const { sql, bindings } = isPausedStatement(this.#tables);
		return (await this.#run('isPaused', () => this.#query(sql, bindings))).length > 0;
	}

	async clean(query: CleanQuery): Promise<string[]> {
		this.#assertOpen();
		assertCleanQuery(query);
		const { sql, bindings } = cleanStatement(this.dialect, this.#tables, query);
		const rows = await this.#run('clean', async () => {
			const deleted = await this.#query(sql, bindings);
			await dropLogs(
				this.knex,
				this.#tables,
				deleted.map((row) => Number(row['seq'])),
			);
			return deleted;
		});
		return rows.sort((a, b) => Number(a['seq']) - Number(b['seq'])).map((row) => String(row['id']));
	}

	async appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return;
		await this.#run('appendLogs', () => appendLogs(this.knex, this.#tables, id, lines, maxLines));
	}

	async getLogs(id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return { lines: [], offset: 0, total: 0, dropped: 0 };
		return this.#run('getLogs', () => getLogs(this.knex, this.#tables, id, query));
	}

	/** Task changes for followers in any process (see `TaskContainer.readChanges` and sql/change-events.ts). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		this.#assertOpen();
		return this.#changes.read(query);
	}

	async putRepeat(repeat: RepeatRecord): Promise<void> {
		this.#assertOpen();
		await this.#run('putRepeat', () => putRepeat(this.knex, this.dialect, this.#tables, repeat));
	}

	async getRepeat(key: string): Promise<RepeatRecord | null> {
		this.#assertOpen();
		return this.#run('getRepeat', () => getRepeat(this.knex, this.#tables, key));
	}

	async listRepeats(): Promise<RepeatRecord[]> {
		this.#assertOpen();
		return this.#run('listRepeats', () => listRepeats(this.knex, this.#tables));
	}

	async removeRepeat(key: string): Promise<boolean> {
		this.#assertOpen();
		return this.#run('removeRepeat', () => removeRepeat(this.knex, this.#tables, key));
	}

	async advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		this.#assertOpen();
		const tasks = task === null ? [] : [task];
		const items = checkAdd(tasks);
		const moved = await this.#run('advanceRepeat', () =>
			this.#inserts.insert(tasks, items, (trx) => moveTick(trx, this.#tables, key, expected, next)),
		);
		if (moved) this.#analyze?.grew(tasks.length);
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
		this.#changes.close();
		await this.#channels.close();
		// Tasks claimed ahead go back to waiting, uncounted (their transitions run with the calls on their way).
		const drained = this.#ahead.drain();
		// Calls on their way settle first (each is bounded by the connect and acquire timeouts), then the pool goes.
		// A call stuck past the bound (a statement waiting on a lock, a server that froze mid-statement) is rejected
		// with SchedulerClosedError rather than left pending; its connection goes when the pool is destroyed.
		const grace = this.#bounds.acquireTimeoutMs;
		await within(drained, grace);
		await this.#pending.settle(grace);
		await within(
			this.#ready?.catch(() => undefined),
			grace,
		);
		if (this.#owned)
			await within(
				this.knex.destroy().catch(() => undefined),
				grace,
			);
	}

	readonly #bool = (value: boolean): unknown => (this.dialect === 'pg' ? value : value ? 1 : 0);

	/** Run one statement through the pool. */
	#query(sql: string, bindings: readonly unknown[]): Promise<Record<string, unknown>[]> {
		return this.#direct === null ? rowsOf(this.knex, sql, bindings) : this.#direct(sql, bindings);
	}

	/**
	 * A task left running or exporting: with `globalConcurrency` on PostgreSQL's wake-up channel, wake the
	 * schedulers a cut claim left waiting (only when one was: the `starved` row). In the background.
	 */
	#slotFreed(): void {
		if (this.#limits.limits.globalConcurrency === 0 || !this.#notify || this.#closed) return;
		const { sql, bindings } = this.#limits.wakeStarved(this.#tables.channel, WAKE_PAYLOAD);
		this.#query(sql, bindings).catch(() => undefined);
	}

	#assertOpen(): void {
		if (this.#closed) throw new SchedulerClosedError('container');
	}

	/** The `now` a statement binds: the caller's, or on the server's clock this machine's (SQLite's clock). */
	#now(now: number): number {
		return this.clock === 'caller' ? now : Date.now();
	}

	/**
	 * Run one operation once the tables exist; storage errors come out as `ContainerError`s naming the database
	 * and why (`cause`: the driver's error). Calls are bounded by the connect and acquire timeouts.
	 */
	#run<T>(what: string, operation: () => Promise<T>): Promise<T> {
		return this.#pending.track(this.#call(what, operation));
	}

	async #call<T>(what: string, operation: () => Promise<T>): Promise<T> {
		try {
			await this.migrate();
			return await operation();
		} catch (error) {
			if (error instanceof SchedulerError) throw error;
			if (this.#closed) throw new SchedulerClosedError('container');
			throw new ContainerError(`SqlContainer ${failureMessage(what, this.database, error, this.#bounds)}`, {
				cause: error,
			});
		}
	}
}
