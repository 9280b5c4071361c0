/**
 * `SqlContainer`: tasks in SQL tables through knex. SQLite (one file, WAL) for one process or a few on one
 * machine; PostgreSQL for several processes or machines. Claims are atomic on the server (one UPDATE over a
 * `FOR UPDATE SKIP LOCKED` pick on PostgreSQL, one write statement under SQLite's write lock), and every
 * state change is a compare-and-set on the status (and owner), so a late report is rejected, never applied.
 */
import type { Knex } from 'knex';
import {
	assertJsonItem,
	ContainerError,
	DuplicateTaskError,
	emptyCounts,
	InvalidStateError,
	InvalidTaskError,
	SchedulerClosedError,
	SchedulerError,
	type ContainerSignal,
	type RenewResult,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched';
import { openKnex, sqlitePragmas, type KnexSource, type SqliteSettings } from './sql/connection.js';
import { PgWakeChannel, stopPayload, WAKE_PAYLOAD } from './sql/notify.js';
import { byClaimOrder, INSERT_COLUMNS, recordToValues, rowToRecord } from './sql/rows.js';
import {
	ACTIVE_SQL,
	CHUNK,
	chunks,
	FINAL_SQL,
	isUniqueViolation,
	marks,
	reclaimBindings,
	rowsOf,
	taskStatements,
	type TaskStatements,
} from './sql/statements.js';
import { TransitionBatcher } from './sql/transitions.js';
import { migrate, resultRows, sqlTables, type SqlDialect, type SqlTables } from './sql/schema.js';

export { SqlPersistencer, type SqlPersistencerOptions } from './sql/persistencer.js';
export type { SqlDialect } from './sql/schema.js';

export interface SqlContainerOptions {
	/**
	 * The database: a knex configuration (the container makes the instance and destroys it on `close`) or a
	 * Knex instance you own (left open on `close`). SQLite: `{ client: 'sqlite3', connection: { filename:
	 * 'tasks.db' }, useNullAsDefault: true }`; PostgreSQL: `{ client: 'pg', connection: 'postgres://…' }`.
	 */
	readonly knex: KnexSource;
	/**
	 * Prepended to the container's table names (`<prefix>tasks`, `<prefix>outputs`, `<prefix>migrations`), so
	 * several containers can share one database. Letters, digits and underscores.
	 * @default 'lightsched_'
	 */
	readonly tablePrefix?: string;
	/**
	 * SQLite: how long a statement waits for another process's write lock before failing, in milliseconds.
	 * @default 5000
	 */
	readonly busyTimeoutMs?: number;
	/**
	 * SQLite: the `synchronous` PRAGMA. `NORMAL` (with WAL) survives a crashed process but may lose the last
	 * commits on power loss; `FULL` survives power loss too, at one fsync per commit.
	 * @default 'NORMAL'
	 */
	readonly synchronous?: SqliteSettings['synchronous'];
	/**
	 * PostgreSQL: offer a wake-up channel (LISTEN/NOTIFY on one dedicated connection), so schedulers sleep
	 * instead of polling and stop requests reach the owner at once. Without it schedulers poll.
	 * @default true
	 */
	readonly notify?: boolean;
}

export class SqlContainer implements TaskContainer {
	readonly shared = true;
	/** The Knex instance the container works through. */
	readonly knex: Knex;
	/** `sqlite` or `pg`. */
	readonly dialect: SqlDialect;
	readonly tablePrefix: string;
	/** PostgreSQL with `notify`: the wake-up channel. Absent on SQLite (schedulers poll at `pollIntervalMs`). */
	readonly watch?: (listener: (signal: ContainerSignal) => void) => () => void;
	readonly #tables: SqlTables;
	readonly #owned: boolean;
	readonly #sqlite: SqliteSettings;
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	readonly #channel: PgWakeChannel | null = null;
	readonly #transitions: TransitionBatcher;
	readonly #sql: TaskStatements;
	#ready: Promise<void> | null = null;
	#closed = false;
	#addedSinceAnalyze = 0;
	#analyzing = false;

	constructor(options: SqlContainerOptions) {
		if (typeof options !== 'object' || options === null) {
			throw new TypeError('Expected SqlContainer options to be an object like { knex: { client: \'sqlite3\', connection: { filename } } }');
		}
		const { tablePrefix = 'lightsched_', busyTimeoutMs = 5_000, synchronous = 'NORMAL', notify = true } = options;
		if (typeof busyTimeoutMs !== 'number' || !Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
			throw new TypeError(`Expected \`busyTimeoutMs\` to be an integer ≥ 0, got ${String(busyTimeoutMs)}`);
		}
		if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(synchronous)) {
			throw new TypeError(`Expected \`synchronous\` to be 'OFF', 'NORMAL', 'FULL' or 'EXTRA', got ${JSON.stringify(synchronous)}`);
		}
		if (typeof notify !== 'boolean') throw new TypeError(`Expected \`notify\` to be a boolean, got ${typeof notify}`);
		this.#tables = sqlTables(tablePrefix);
		this.tablePrefix = tablePrefix;
		this.#sqlite = { busyTimeoutMs, synchronous };
		const connection = openKnex(options.knex, this.#sqlite);
		this.knex = connection.knex;
		this.dialect = connection.dialect;
		this.#owned = connection.owned;
		this.#sql = taskStatements(this.dialect, this.#tables);
		const wake = this.dialect === 'pg' && notify ? { sql: 'SELECT pg_notify(?, ?)', bindings: [this.#tables.channel, WAKE_PAYLOAD] } : null;
		this.#transitions = new TransitionBatcher({
			dialect: this.dialect,
			table: this.#tables.tasks,
			bool: this.#bool,
			run: (sql, bindings) => this.#query(sql, bindings),
			wake,
			maxInFlight: 1,
		});
		if (this.dialect === 'pg' && notify) {
			this.#channel = new PgWakeChannel(this.knex, this.#tables.channel, (signal) => this.#signal(signal));
			this.watch = (listener) => {
				this.#listeners.add(listener);
				if (!this.#closed) this.#channel?.start(() => this.migrate());
				return () => {
					this.#listeners.delete(listener);
				};
			};
		}
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
		const seen = new Set<string>();
		const items: string[] = [];
		tasks.forEach((task, i) => {
			if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			if (task.id.includes('\u0000')) {
				throw new InvalidTaskError(`tasks[${i}].id`, 'a string without NUL characters (PostgreSQL text cannot hold them)', task.id);
			}
			seen.add(task.id);
			assertJsonItem(task.item, `tasks[${i}].item`);
			items.push(JSON.stringify(task.item));
		});
		const t = this.#tables.tasks;
		const ids = [...seen];
		await this.#run('add', async () => {
			try {
				await this.knex.transaction(async (trx) => {
					// Writes first: on SQLite the transaction then holds the write lock from its first statement.
					for (const part of chunks(ids)) {
						await trx.raw(`DELETE FROM ${t} WHERE status IN ${FINAL_SQL} AND id IN (${marks(part.length)})`, part);
					}
					for (const part of chunks(ids)) {
						const rows = resultRows(await trx.raw(`SELECT id FROM ${t} WHERE id IN (${marks(part.length)}) LIMIT 1`, part));
						if (rows[0] !== undefined) throw new DuplicateTaskError(String(rows[0]['id']));
					}
					const now = Date.now();
					const row = `(${marks(INSERT_COLUMNS.length)})`;
					const indexed = tasks.map((task, i) => ({ task, item: items[i] as string }));
					for (const part of chunks(indexed)) {
						const bindings = part.flatMap(({ task, item }) => recordToValues(task, item, now, this.#bool));
						await rowsOf(trx, `INSERT INTO ${t} (${INSERT_COLUMNS.join(', ')}) VALUES ${part.map(() => row).join(', ')}`, bindings);
					}
					if (this.#channel !== null) await trx.raw('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
				});
			} catch (error) {
				if (!isUniqueViolation(error)) throw error;
				// Another process added one of these ids between our check and our insert.
				const rows = resultRows(await this.knex.raw(`SELECT id FROM ${t} WHERE id IN (${marks(Math.min(ids.length, CHUNK))})`, ids.slice(0, CHUNK)));
				throw new DuplicateTaskError(String(rows[0]?.['id'] ?? ids[0]));
			}
		});
		this.#noteGrowth(tasks.length);
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
		const bindings = [owner, now + leaseMs, now, now, now, Math.floor(max)];
		const rows = await this.#run('claim', () => this.#query(this.#sql.claim, bindings));
		return rows.map(rowToRecord).sort(byClaimOrder);
	}

	async transition(id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch, owner?: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		const row = await this.#run('transition', () =>
			this.#transitions.submit({ id, from, to, patch, owner, updatedAt: Date.now() }),
		);
		return row === null ? null : rowToRecord(row);
	}

	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		this.#assertOpen();
		const t = this.#tables.tasks;
		const kept = new Map<string, boolean>();
		await this.#run('renew', async () => {
			for (const part of chunks(ids)) {
				const rows = resultRows(
					await this.knex.raw(
						`UPDATE ${t} SET lease_until = ? WHERE owner = ? AND status IN ${ACTIVE_SQL} AND id IN (${marks(part.length)}) RETURNING id, stop_requested`,
						[now + leaseMs, owner, ...part],
					),
				);
				for (const row of rows) kept.set(String(row['id']), Boolean(row['stop_requested']));
			}
		});
		return {
			lost: ids.filter((id) => !kept.has(id)),
			stopRequested: ids.filter((id) => kept.get(id) === true),
		};
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		const moved = await this.#run('reclaimExpired', async () => {
			const rows = (await this.#query(this.#sql.reclaim, reclaimBindings(now))).map(rowToRecord);
			if (this.#channel !== null && rows.some((task) => task.status === 'waiting')) {
				await this.#query('SELECT pg_notify(?, ?)', [this.#tables.channel, WAKE_PAYLOAD]);
			}
			return rows;
		});
		return moved.sort((a, b) => a.seq - b.seq);
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		let sql = this.#sql.requestStop;
		const bindings: unknown[] = [id];
		if (this.#channel !== null) {
			sql = `WITH asked AS (${sql}) SELECT asked.*, pg_notify(?, ?) AS notified FROM asked`;
			bindings.push(this.#tables.channel, stopPayload(id));
		}
		const rows = await this.#run('requestStop', () => this.#query(sql, bindings));
		return rows[0] === undefined ? null : rowToRecord(rows[0]);
	}

	async nextDueAt(now: number): Promise<number | null> {
		this.#assertOpen();
		const rows = await this.#run('nextDueAt', () => this.#query(this.#sql.nextDueAt, [now]));
		const at = rows[0]?.['at'];
		return at === null || at === undefined ? null : Number(at);
	}

	async get(id: string): Promise<TaskRecord | null> {
		this.#assertOpen();
		const rows = await this.#run('get', async () =>
			resultRows(await this.knex.raw(`SELECT * FROM ${this.#tables.tasks} WHERE id = ?`, [id])),
		);
		return rows[0] === undefined ? null : rowToRecord(rows[0]);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		this.#assertOpen();
		const { offset = 0, limit = 100, order = 'asc' } = query;
		const statuses = query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : [...query.status];
		const t = this.#tables.tasks;
		const where = statuses === null ? '' : statuses.length === 0 ? 'WHERE 1 = 0' : `WHERE status IN (${marks(statuses.length)})`;
		const filter = statuses ?? [];
		return this.#run('list', async () => {
			const counted = resultRows(await this.knex.raw(`SELECT COUNT(*) AS n FROM ${t} ${where}`, filter));
			const total = Number(counted[0]?.['n'] ?? 0);
			if (limit <= 0 || offset >= total) return { tasks: [], total };
			const rows = resultRows(
				await this.knex.raw(`SELECT * FROM ${t} ${where} ORDER BY seq ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ? OFFSET ?`, [
					...filter,
					Math.floor(limit),
					Math.floor(offset),
				]),
			);
			return { tasks: rows.map(rowToRecord), total };
		});
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
		const t = this.#tables.tasks;
		return this.#run('remove', async () => {
			const deleted = resultRows(await this.knex.raw(`DELETE FROM ${t} WHERE id = ? AND status IN ${FINAL_SQL} RETURNING id`, [id]));
			if (deleted.length > 0) return true;
			const rows = resultRows(await this.knex.raw(`SELECT status FROM ${t} WHERE id = ?`, [id]));
			const status = rows[0]?.['status'];
			if (status === undefined) return false;
			throw new InvalidStateError(`Task \`${id}\` is ${String(status)}: stop it before removing it`);
		});
	}

	/** Stop listening and, when the container made the Knex instance, destroy it. A second call is harmless. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#listeners.clear();
		await this.#channel?.close();
		await this.#ready?.catch(() => undefined);
		if (this.#owned) await this.knex.destroy();
	}

	readonly #bool = (value: boolean): unknown => (this.dialect === 'pg' ? value : value ? 1 : 0);

	/** Run one statement through the pool. */
	#query(sql: string, bindings: readonly unknown[]): Promise<Record<string, unknown>[]> {
		return rowsOf(this.knex, sql, bindings);
	}

	#assertOpen(): void {
		if (this.#closed) throw new SchedulerClosedError('container');
	}

	/** Run one operation once the tables exist; storage errors come out as `ContainerError`s. */
	async #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
		try {
			await this.migrate();
			return await operation();
		} catch (error) {
			if (error instanceof SchedulerError) throw error;
			if (this.#closed) throw new SchedulerClosedError('container');
			const message = error instanceof Error ? error.message : String(error);
			throw new ContainerError(`SqlContainer ${what} failed: ${message}`, { cause: error });
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
