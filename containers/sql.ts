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
	assertStorableTask,
	isWellFormedText,
	ContainerError,
	DuplicateKeyError,
	DuplicateTaskError,
	emptyCounts,
	insertInTransaction,
	defaultWorkflowStore,
	InvalidStateError,
	InvalidTaskError,
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
import { changeTables, SqlChangeReader } from './sql/change-events.js';
import { isKnexInstance, openKnex, sqlitePragmas, type SqliteSettings } from './sql/connection.js';
import { describeDatabase, failureMessage } from './sql/failures.js';
import { FileWakeChannel, sqliteFileOf } from './sql/file-watch.js';
import { writeBatch } from './sql/add-batch.js';
import { AddQueue } from './sql/add-queue.js';
import { addInSteps, type SteppedAddPort } from './sql/stepped-add.js';
import { SqlWorkflowStore } from './sql/workflow-store.js';
import type { WorkflowStore } from '../src/workflow-store.js';
import {
	guardedInsertStatement,
	guardedInserts,
	insertTasks,
	MAX_GUARDED_ROWS,
	takeSeqs,
	type GuardedInserts,
	type InsertShape,
} from './sql/insert.js';
import { listPage } from './sql/list-page.js';
import { PromotionClock } from './sql/promotion.js';
import { PgWakeChannel, stopPayload, WAKE_PAYLOAD } from './sql/notify.js';
import { cleanStatement, isPausedStatement, setPausedStatement } from './sql/operations.js';
import { appendLogs, dropLogs, getLogs } from './sql/logs.js';
import { getRepeat, listRepeats, moveTick, putRepeat, removeRepeat } from './sql/repeats.js';
import { PendingCalls, within } from './sql/pending-calls.js';
import { resolveSqlOptions, type SqlContainerOptions } from './sql/options.js';
import { SqlClaimLimits } from './sql/rate-limit.js';
import { byClaimOrder, numOrNull, rowToRecord } from './sql/rows.js';
import {
	CHUNK,
	chunks,
	FINAL_SQL,
	isUniqueViolation,
	marks,
	rowsOf,
	taskStatements,
	type TaskStatements,
} from './sql/statements.js';
import { TransitionBatcher } from './sql/transitions.js';
import { directSqlite, type RunRows } from './sql/direct-sqlite.js';
import { migrate, resultRows, sqlTables, type SqlDialect, type SqlTables } from './sql/schema.js';

export { SqlPersistencer, type SqlPersistencerContainer, type SqlPersistencerOptions } from './sql/persistencer.js';
export { SqlWorkflowStore };
export type { SqlWorkflowStoreOptions } from './sql/workflow-store.js';
export { PartialAddError } from 'lightsched/kit';
export type { KnexSource } from './sql/connection.js';
export type { SqlDialect } from './sql/schema.js';

export type { PgConnectionConfig, RateLimitOption, SqlContainerOptions } from './sql/options.js';

/** The least time between two of the container's own ANALYZEs (see `#noteGrowth`). */
const ANALYZE_EVERY_MS = 15_000;

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
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	readonly #channel: PgWakeChannel | null = null;
	/** SQLite with `notify`: the wake-up channel (sql/file-watch.ts). */
	#fileChannel: FileWakeChannel | null = null;
	readonly #transitions: TransitionBatcher;
	/** better-sqlite3: the container's statements straight to the connection (sql/direct-sqlite.ts); else null. */
	readonly #direct: RunRows | null;
	/** `readChanges` (sql/change-events.ts). */
	readonly #changes: SqlChangeReader;
	readonly #sql: TaskStatements;
	/** `globalConcurrency` and `rateLimit` (see sql/rate-limit.ts). */
	readonly #limits: SqlClaimLimits;
	/** When a claim promotes delayed tasks first (see sql/promotion.ts). */
	readonly #promotion = new PromotionClock();
	/** Adds of up to CHUNK tasks, written in batches while one is on its way (sql/add-queue.ts, sql/add-batch.ts). */
	readonly #adds: AddQueue;
	readonly #shape: InsertShape;

	/**
	 * Whether `globalConcurrency` or `rateLimit` is set: the claim enforces them. (`CombinedContainer` refuses such a
	 * container as its persistent part: it claims from memory, where they would not hold.)
	 */
	get claimLimited(): boolean {
		return this.#limits.active;
	}
	/** When the window of the last claim the rate limit cut short reopens (this process's clock), or null. */
	#rateWakeAt: number | null = null;
	readonly #bounds: { connectTimeoutMs: number; acquireTimeoutMs: number };
	#ready: Promise<void> | null = null;
	#closed = false;
	#closing: Promise<void> | null = null;
	/** The LISTEN channel of `readChanges` (PostgreSQL), opened at its first read. */
	#changesChannel: PgWakeChannel | null = null;
	#addedSinceAnalyze = 0;
	/** Calls on their way, and who waits for them to settle (close). */
	readonly #pending = new PendingCalls();
	#analyzing = false;
	/** When the last ANALYZE started (0: none yet, so a new queue gets its statistics at its first 1,000 rows). */
	#analyzedAt = 0;

	constructor(options: SqlContainerOptions) {
		const o = resolveSqlOptions(options);
		this.#tables = sqlTables(o.tablePrefix);
		this.tablePrefix = o.tablePrefix;
		this.#sqlite = o.sqlite;
		const connection = openKnex(options.knex, this.#sqlite, o);
		this.knex = connection.knex;
		this.#direct = directSqlite(this.knex);
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
		const notify = this.dialect === 'pg' && o.notify;
		this.#shape = { table: this.#tables.tasks, sql: this.#sql, bool: this.#bool };
		const batchParts = {
			knex: this.knex,
			dialect: this.dialect,
			tables: this.#tables,
			shape: this.#shape,
			wake: notify ? ([this.#tables.channel, WAKE_PAYLOAD] as const) : null,
			alone: async (entry: { tasks: readonly TaskRecord[]; items: readonly string[] }) => {
				await this.#insert(entry.tasks, entry.items, null);
			},
		};
		this.#adds = new AddQueue(CHUNK, (batch) => writeBatch(batchParts, batch));
		if (this.dialect === 'pg') {
			const wakeParts = notify ? ([this.#tables.channel, WAKE_PAYLOAD] as const) : null;
			guardedInserts.set(this, (tasks, owners, among) => this.#guardedInserts(tasks, owners, among, wakeParts));
		}
		const wake = notify ? { sql: 'SELECT pg_notify(?, ?)', bindings: [this.#tables.channel, WAKE_PAYLOAD] } : null;
		this.#transitions = new TransitionBatcher({
			dialect: this.dialect,
			table: this.#tables.tasks,
			bool: this.#bool,
			run: (sql, bindings) => this.#query(sql, bindings),
			wake,
			maxInFlight: 1,
			serverNow: this.#sql.serverClock ? this.#sql.nowSql : null,
		});
		if (notify) {
			this.#channel = new PgWakeChannel({
				knex: this.knex,
				channel: this.#tables.channel,
				emit: (signal) => this.#signal(signal),
				notify: async (payload) => {
					await this.knex.raw('SELECT pg_notify(?, ?)', [this.#tables.channel, payload]);
				},
				listen: o.listen,
				probeIntervalMs: o.probeIntervalMs,
				probeTimeoutMs: o.probeTimeoutMs,
				connectTimeoutMs: o.connectTimeoutMs,
			});
			this.watch = (listener) => {
				this.#listeners.add(listener);
				if (!this.#closed) this.#channel?.start(() => this.migrate());
				return () => {
					this.#listeners.delete(listener);
				};
			};
		} else if (o.listen !== null) {
			throw new TypeError('`listen` needs PostgreSQL with `notify` on');
		} else if (this.dialect === 'sqlite' && o.notify) {
			const file = sqliteFileOf((this.knex.client as { config?: { connection?: unknown } }).config?.connection);
			if (file !== null) {
				const channel = new FileWakeChannel({
					file,
					emit: (signal) => this.#signal(signal),
					safetyMs: o.safetyWakeMs,
					version: async () =>
						Number((await this.#query('PRAGMA data_version', []))[0]?.['data_version'] ?? Number.NaN),
				});
				this.#fileChannel = channel;
				this.watch = (listener) => {
					this.#listeners.add(listener);
					if (!this.#closed) channel.start();
					return () => {
						this.#listeners.delete(listener);
					};
				};
			}
		}
		const changesChannel = changeTables(o.tablePrefix).channel;
		this.#changes = new SqlChangeReader({
			dialect: this.dialect,
			prefix: o.tablePrefix,
			query: (what, sql, bindings) => this.#run(what, () => this.#query(sql, bindings)),
			listen: !notify
				? null
				: (wake) => {
						let up = false;
						const channel = new PgWakeChannel({
							knex: this.knex,
							channel: changesChannel,
							emit: (signal) => {
								if (signal.type === 'channel') up = signal.ok;
								else if (signal.type === 'wake') {
									up = true;
									wake();
								}
							},
							notify: async (payload) => {
								await this.knex.raw('SELECT pg_notify(?, ?)', [changesChannel, payload]);
							},
							listen: o.listen,
							probeIntervalMs: o.probeIntervalMs,
							probeTimeoutMs: o.probeTimeoutMs,
							connectTimeoutMs: o.connectTimeoutMs,
						});
						this.#changesChannel = channel;
						if (!this.#closed) channel.start(() => this.migrate());
						return () => up;
					},
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
		const items = this.#checkAdd(tasks);
		// A large add alone in its own transaction; smaller ones are written together while one is on its way.
		await this.#run('add', async () => {
			if (tasks.length > CHUNK && this.dialect === 'sqlite') return addInSteps(this.#stepPort(), tasks, items);
			if (tasks.length > CHUNK) return this.#insert(tasks, items, null);
			this.#notePromotion(tasks);
			return this.#adds.submit(tasks, items);
		});
		this.#noteGrowth(tasks.length);
	}

	/** A large SQLite add's steps, each its own transaction (sql/stepped-add.ts). */
	#stepPort(): SteppedAddPort {
		return {
			knex: this.knex,
			tasks: this.#tables.tasks,
			where: `SqlContainer (${this.database})`,
			write: (part, items) => this.#call('add', () => this.#insert(part, items, null)),
			closed: () => this.#closed,
		};
	}

	/** Check an add's tasks (all or nothing); returns their items as JSON text. */
	#checkAdd(tasks: readonly TaskRecord[]): string[] {
		const seen = new Set<string>();
		const keys = new Map<string, string>();
		const items: string[] = [];
		tasks.forEach((task, i) => {
			if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			if (task.key !== null) {
				const other = keys.get(task.key);
				if (other !== undefined) throw new DuplicateKeyError(task.key, other);
				keys.set(task.key, task.id);
			}
			// PostgreSQL text cannot hold NUL: refused here, before the add joins a batch of others (sql/add-queue.ts).
			for (const [field, value] of [
				['id', task.id],
				['key', task.key],
				['group', task.group],
			] as const) {
				if (value?.includes('\u0000') === true)
					throw new InvalidTaskError(
						`tasks[${i}].${field}`,
						'a string without NUL characters (PostgreSQL text cannot hold them)',
						value,
					);
			}
			seen.add(task.id);
			assertStorableTask(task, i);
			items.push(JSON.stringify(task.item));
		});
		return items;
	}

	/**
	 * Insert tasks in one transaction, replacing finished ones with the same ids; `first`, when given, runs first in
	 * the transaction and may call the insert off (returns `false`: nothing is written). Returns whether it inserted.
	 */
	async #insert(
		tasks: readonly TaskRecord[],
		items: readonly string[],
		first: ((trx: Knex.Transaction) => Promise<boolean>) | null,
	): Promise<boolean> {
		const t = this.#tables.tasks;
		const ids = tasks.map((task) => task.id);
		this.#notePromotion(tasks);
		try {
			return await this.knex.transaction(async (trx) => {
				if (first !== null && !(await first(trx))) return false;
				// Writes first: on SQLite the transaction then holds the write lock from its first statement.
				for (const part of chunks(ids)) {
					const replaced = await rowsOf(
						trx,
						`DELETE FROM ${t} WHERE status IN ${FINAL_SQL} AND id IN (${marks(part.length)}) RETURNING seq`,
						part,
					);
					// A re-run starts with an empty log.
					if (replaced.length > 0)
						await dropLogs(
							trx,
							this.#tables,
							replaced.map((row) => Number(row['seq'])),
						);
				}
				for (const part of chunks(ids)) {
					const rows = resultRows(
						await trx.raw(`SELECT id FROM ${t} WHERE id IN (${marks(part.length)}) LIMIT 1`, part),
					);
					if (rows[0] !== undefined) throw new DuplicateTaskError(String(rows[0]['id']));
				}
				await this.#checkKeys(trx, tasks);
				await insertTasks(trx, this.#shape, tasks, items);
				if (this.#channel !== null)
					await trx.raw('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
				return true;
			});
		} catch (error) {
			if (!isUniqueViolation(error)) throw error;
			// Another process took one of these keys between our check and our insert (the partial unique index).
			await this.#checkKeys(this.knex, tasks);
			// Or added one of these ids.
			const rows = resultRows(
				await this.knex.raw(
					`SELECT id FROM ${t} WHERE id IN (${marks(Math.min(ids.length, CHUNK))})`,
					ids.slice(0, CHUNK),
				),
			);
			throw new DuplicateTaskError(String(rows[0]?.['id'] ?? ids[0]));
		}
	}

	/** Before an insert, so no claim after it misses these (an insert that fails costs one idle promotion). */
	#notePromotion(tasks: readonly TaskRecord[]): void {
		const now = Date.now();
		for (const task of tasks) if (task.runAt > now) this.#promotion.wrote(task.runAt);
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
		if (tasks.length === 0) return [];
		const items = this.#checkAdd(tasks);
		const trx = transaction as Knex.Transaction;
		this.#notePromotion(tasks);
		await this.#checkKeys(trx, tasks);
		const inserted = await insertTasks(trx, this.#shape, tasks, items, true);
		if (inserted.length > 0 && this.#channel !== null)
			await trx.raw('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
		this.#noteGrowth(inserted.length);
		return inserted;
	}

	/**
	 * PostgreSQL (see `PrepareGuardedInserts`, sql/insert.ts): a workflow release's insert of `tasks` as a part of
	 * the run write's statement, each task only where its owner was written; a task stored under an id already is
	 * left as it is. `null` for tasks with a deduplication key (the checked `insertInTransaction` looks for their
	 * holders first) and for more than `MAX_GUARDED_ROWS` tasks.
	 */
	#guardedInserts(
		tasks: readonly TaskRecord[],
		owners: readonly string[],
		among: string,
		wake: readonly [string, string] | null,
	): GuardedInserts | null {
		this.#assertOpen();
		if (tasks.length > MAX_GUARDED_ROWS || tasks.some((task) => task.key !== null)) return null;
		const items = this.#checkAdd(tasks);
		this.#notePromotion(tasks);
		return {
			statement: guardedInsertStatement(this.#shape, tasks, items, owners, among),
			wake,
			settle: (rows) => {
				takeSeqs(tasks, rows);
				const ids = new Set(rows.map((row) => String(row['id'])));
				const inserted = tasks.filter((task) => ids.has(task.id));
				this.#noteGrowth(inserted.length);
				return inserted;
			},
		};
	}

	/**
	 * PostgreSQL plans the claim from table statistics, which autovacuum refreshes only about once a minute. A
	 * queue that just grew by thousands of rows looks empty until then, and the planner then sorts every waiting
	 * row instead of reading the claim index in order. So after every 1,000 added rows the container refreshes
	 * the statistics itself (`ANALYZE`, in the background, one at a time).
	 */
	#noteGrowth(rows: number): void {
		if (this.dialect !== 'pg') return;
		this.#addedSinceAnalyze += rows;
		if (this.#addedSinceAnalyze < 1_000 || this.#analyzing || this.#closed) return;
		// At most one every ANALYZE_EVERY_MS: an ANALYZE holds the lock autovacuum needs, and back to back (a busy
		// queue) they kept autovacuum from ever running, so deleted rows were never reclaimed (the retention soak).
		if (Date.now() - this.#analyzedAt < ANALYZE_EVERY_MS) return;
		this.#analyzedAt = Date.now();
		this.#addedSinceAnalyze = 0;
		this.#analyzing = true;
		this.knex
			.raw(`ANALYZE ${this.#tables.tasks}`)
			.catch(() => undefined)
			.finally(() => {
				this.#analyzing = false;
			});
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed || max <= 0) return [];
		if (this.#limits.active) {
			const limited = await this.#run('claim', () =>
				this.#limits.claim(this.knex, owner, leaseMs, Math.floor(max), this.#now(now)),
			);
			// On this process's clock, late rather than early by the round trip (+1 ms of rounding).
			this.#rateWakeAt =
				limited.reopensInMs === null
					? null
					: (this.clock === 'caller' ? this.#now(now) : Date.now()) + limited.reopensInMs + 1;
			return limited.rows.map(rowToRecord).sort(byClaimOrder);
		}
		const at = this.#now(now);
		const limit = Math.floor(max);
		// The promotion of delayed tasks now due, when one may be, then the claim (see sql/promotion.ts). Each
		// statement is correct alone, so no transaction binds them.
		const rows = await this.#run('claim', async () => {
			const promoted = this.#promotion.needed(at);
			if (promoted) await this.#promote(at);
			const { rows: first, settled } = promoted
				? { rows: await this.#claimRows(owner, leaseMs, limit, at), settled: true }
				: await this.#claimNoting(owner, leaseMs, limit, at);
			if (settled || first.length >= limit || (await this.#promote(at)) === 0) return first;
			return [...first, ...(await this.#claimRows(owner, leaseMs, limit - first.length, at))];
		});
		return rows.map(rowToRecord).sort(byClaimOrder);
	}

	async #claimRows(owner: string, leaseMs: number, limit: number, at: number): Promise<Record<string, unknown>[]> {
		const { sql, bindings } = this.#sql.claim(owner, leaseMs, limit, at);
		return this.#query(sql, bindings);
	}

	/**
	 * The claim without a promotion first. On PostgreSQL the same statement reads the earliest delayed run_at: when
	 * no delayed task is due, that is what a promotion would have found (it would promote none), so it counts as one
	 * (`settled`: a claim that took too few need not promote). SQLite: never settled.
	 */
	async #claimNoting(
		owner: string,
		leaseMs: number,
		limit: number,
		at: number,
	): Promise<{ rows: Record<string, unknown>[]; settled: boolean }> {
		if (this.#sql.claimNoting === null)
			return { rows: await this.#claimRows(owner, leaseMs, limit, at), settled: false };
		const wall = this.#promotion.starting();
		const { sql, bindings } = this.#sql.claimNoting(owner, leaseMs, limit, at);
		const rows = await this.#query(sql, bindings);
		const claimed = rows.filter((row) => row['id'] !== null && row['id'] !== undefined);
		if (rows[0]?.['delayed_due'] === true) return { rows: claimed, settled: false };
		this.#promotion.promoted(wall, numOrNull(rows[0]?.['delayed_next']));
		return { rows: claimed, settled: true };
	}

	/** Promote the delayed tasks due at `at`; returns how many. */
	async #promote(at: number): Promise<number> {
		const wall = this.#promotion.starting();
		if (this.dialect === 'sqlite') {
			// SQLite takes two statements (no data-modifying CTE): the earliest delayed run_at first, and the update
			// only when one is due, so the periodic promotion of an empty or not-yet-due delayed set costs one index
			// probe, not two statements.
			const earliest = async (): Promise<number | null> =>
				numOrNull((await this.#query(this.#sql.nextDelayed, []))[0]?.['next']);
			const before = await earliest();
			if (before === null || before > at) {
				this.#promotion.promoted(wall, before);
				return 0;
			}
			const { sql, bindings } = this.#sql.promote(at);
			const n = (await this.#query(sql, bindings)).length;
			this.#promotion.promoted(wall, await earliest());
			return n;
		}
		const { sql, bindings } = this.#sql.promote(at);
		const rows = await this.#query(sql, bindings);
		this.#promotion.promoted(wall, numOrNull(rows[0]?.['next']));
		return Number(rows[0]?.['n'] ?? 0);
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
		if (to === 'waiting' && patch.runAt !== undefined) this.#promotion.wrote(patch.runAt);
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
		const kept = new Map<string, boolean>();
		const held: string[] = [];
		const at = this.#now(now);
		await this.#run('renew', async () => {
			for (const part of chunks(ids)) {
				const { sql, bindings } = this.#sql.renew(owner, part, leaseMs, at);
				for (const row of await this.#query(sql, bindings))
					kept.set(String(row['id']), Boolean(row['stop_requested']));
			}
			const { sql, bindings } = this.#sql.held(owner);
			for (const row of await this.#query(sql, bindings)) held.push(String(row['id']));
		});
		const asked = new Set(ids);
		return {
			lost: ids.filter((id) => !kept.has(id)),
			stopRequested: ids.filter((id) => kept.get(id) === true),
			unknown: held.filter((id) => !asked.has(id)),
		};
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		const { sql, bindings } = this.#sql.reclaim(this.#now(now));
		const moved = await this.#run('reclaimExpired', async () => {
			const rows = (await this.#query(sql, bindings)).map(rowToRecord);
			if (rows.length > 0) this.#slotFreed();
			if (this.#channel !== null && rows.some((task) => task.status === 'waiting')) {
				await this.#query('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
			}
			return rows;
		});
		return moved.sort((a, b) => a.seq - b.seq);
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return null;
		let sql = this.#sql.requestStop;
		const bindings: unknown[] = [id];
		if (this.#channel !== null) {
			sql = `WITH asked AS (${sql}) SELECT asked.*, pg_notify(?, ?) AS notified FROM asked`;
			bindings.push(this.#tables.channel, stopPayload(id));
		}
		const rows = await this.#run('requestStop', () => this.#query(sql, bindings));
		return rows[0] === undefined ? null : rowToRecord(rows[0]);
	}

	/**
	 * On the server's clock the earliest due time is judged by the database and handed back on the caller's
	 * clock (the caller's `now` plus how long the database says it is until then), so a caller whose clock is
	 * off neither wakes early and spins nor sleeps past it.
	 */
	async nextDueAt(now: number): Promise<number | null> {
		this.#assertOpen();
		const { sql, bindings } = this.#sql.nextDueAt(this.#now(now));
		const rows = await this.#run('nextDueAt', () => this.#query(sql, bindings));
		const later = numOrNull(rows[0]?.['at']);
		const delayed = numOrNull(rows[0]?.['delayed_at']);
		const at = later === null ? delayed : delayed === null ? later : Math.min(later, delayed);
		const due = at === null ? null : this.#sql.serverClock ? now + (at - Number(rows[0]?.['clock_now'])) : at;
		// A claim the rate limit cut short: wake when its window reopens (see sql/rate-limit.ts).
		let open = this.#rateWakeAt;
		// A group with parked tasks: wake when its window reopens (see sql/group-limit.ts).
		const group = this.#limits.group;
		if (group !== null) {
			const [reopening] = await this.#run('nextDueAt', () =>
				this.#query(`SELECT (${group.nextReopening()}) AS at, ${this.#sql.nowSql} AS clock_now`, [
					...(this.#sql.serverClock ? [] : [this.#now(now)]),
				]),
			);
			const at = reopening?.['at'];
			if (at !== null && at !== undefined) {
				const when = this.#sql.serverClock ? now + (Number(at) - Number(reopening?.['clock_now'])) : Number(at);
				open = open === null ? when : Math.min(open, when);
			}
		}
		return open === null ? due : due === null ? open : Math.min(due, open);
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
		const rows = await this.#run('counts', async () =>
			resultRows(await this.knex.raw(`SELECT status, COUNT(*) AS n FROM ${this.#tables.tasks} GROUP BY status`)),
		);
		const counts = emptyCounts();
		for (const row of rows) {
			const status = row['status'] as keyof TaskCounts;
			if (status in counts) counts[status] = Number(row['n']);
		}
		return counts;
	}

	async remove(id: string): Promise<boolean> {
		this.#assertOpen();
		if (!isWellFormedText(id)) return false;
		const t = this.#tables.tasks;
		return this.#run('remove', async () => {
			const deleted = resultRows(
				await this.knex.raw(`DELETE FROM ${t} WHERE id = ? AND status IN ${FINAL_SQL} RETURNING seq`, [id]),
			);
			if (deleted.length > 0) {
				await dropLogs(
					this.knex,
					this.#tables,
					deleted.map((row) => Number(row['seq'])),
				);
				return true;
			}
			const rows = resultRows(await this.knex.raw(`SELECT status FROM ${t} WHERE id = ?`, [id]));
			const status = rows[0]?.['status'];
			if (status === undefined) return false;
			throw new InvalidStateError(`Task \`${id}\` is ${String(status)}: stop it before removing it`);
		});
	}

	async setPaused(paused: boolean): Promise<void> {
		this.#assertOpen();
		const { sql, bindings } = setPausedStatement(this.dialect, this.#tables, paused);
		await this.#run('setPaused', async () => {
			const cleared = await this.#query(sql, bindings);
			// Resumed: wake the schedulers that listen (the others poll).
			if (!paused && cleared.length > 0 && this.#channel !== null) {
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

	/** Refuse deduplication keys a waiting or running task holds. */
	/** Task changes for followers in any process (see `TaskContainer.readChanges` and sql/change-events.ts). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		this.#assertOpen();
		return this.#changes.read(query);
	}

	async #checkKeys(db: Knex | Knex.Transaction, tasks: readonly TaskRecord[]): Promise<void> {
		const keys = tasks.flatMap((task) => (task.key === null ? [] : [task.key]));
		for (const part of chunks(keys)) {
			const rows = await rowsOf(
				db,
				`SELECT id, dedup_key FROM ${this.#tables.tasks} WHERE dedup_key IN (${marks(part.length)}) AND status NOT IN ${FINAL_SQL} LIMIT 1`,
				part,
			);
			if (rows[0] !== undefined) throw new DuplicateKeyError(String(rows[0]['dedup_key']), String(rows[0]['id']));
		}
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
		const items = this.#checkAdd(tasks);
		const moved = await this.#run('advanceRepeat', () =>
			this.#insert(tasks, items, (trx) => moveTick(trx, this.#tables, key, expected, next)),
		);
		if (moved) this.#noteGrowth(tasks.length);
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
		this.#listeners.clear();
		this.#changes.close();
		this.#fileChannel?.close();
		await this.#channel?.close();
		await this.#changesChannel?.close();
		// Calls on their way settle first (each is bounded by the connect and acquire timeouts), then the pool goes.
		// A call stuck past the bound (a statement waiting on a lock, a server that froze mid-statement) is rejected
		// with SchedulerClosedError rather than left pending; its connection goes when the pool is destroyed.
		const grace = this.#bounds.acquireTimeoutMs;
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
		if (this.#limits.limits.globalConcurrency === 0 || this.#channel === null || this.#closed) return;
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
