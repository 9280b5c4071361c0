/**
 * The compare-and-set writes of `SqlWorkflowStore.update`, coalesced. A write asked for while another statement is
 * on its way joins the next batch, and a batch runs as ONE `UPDATE … FROM v … RETURNING id` statement (`v` the
 * new rows: on PostgreSQL one array per column, `unnest`ed, the bodies as one text the server splits, so the text is
 * the same for every batch size and one statement function carries it; on SQLite a VALUES list) in which every row
 * keeps its own compare-and-set (`id` and `rev`): one statement and one commit for the runs of many step ends instead
 * of one each. Nothing waits for a timer: a lone write runs at once (once its turn's microtasks ran, so the writes of
 * one turn go together); batches form only while the database is busy.
 * (The same shape as the task transitions, sql/transitions.ts.) An update sets neither the run's definition, version
 * nor key: they never change, and SQLite rewrites the index entries of every column a SET names, changed or not.
 *
 * A write may carry the step tasks it releases (`withTaskRelease`), so a run's write and its tasks commit together
 * or not at all (ids already stored are skipped). On PostgreSQL such a batch is ONE statement, one round trip: the
 * UPDATE as a data-modifying WITH, then one INSERT of the tasks (sent as one JSON parameter), each row kept only
 * where its run's id is among the rows the UPDATE returned (a write the compare-and-set refused inserts nothing),
 * and the wake-up notification when a task went in. On SQLite (no data-modifying WITH), and for tasks with a
 * deduplication key or more than 500 in a batch, it is one transaction: the UPDATE, then one insert of the tasks
 * of the runs it wrote.
 *
 * Statements skip knex's query path where the container's do (direct-pg.ts, direct-sqlite3.ts, direct-sqlite.ts): on
 * PostgreSQL the writes and releases outside a transaction; on SQLite (`sqlite3` driver, a knex instance the container
 * made) also the UPDATE and the task insert inside the release transaction, as statements kept on the connection
 * instead of prepared anew each time (the insert with the change-log triggers' programs); on better-sqlite3 the whole
 * release transaction, run synchronously on the connection with no knex transaction (`BEGIN IMMEDIATE`, the UPDATE,
 * the container's insert of the written runs' tasks, `COMMIT`): a knex transaction object, its `BEGIN;` and
 * `COMMIT;` through knex's query path and knex's formatting of the batch's statements cost more of this process's
 * time than the statements' bindings.
 */
import type { Knex } from 'knex';
import { SchedulerError, type TaskRecord } from 'lightsched/kit';
import type { DirectSqlite } from './direct-sqlite.js';
import type { GuardedInserts, PrepareGuardedInserts, SqlPart } from './insert.js';
import type { RunRows } from './pooled-statement.js';
import type { SqlDialect } from './schema.js';
import { rowsOf } from './statements.js';
import { IndexedValues } from './run-index-values.js';
import { runUpdate, runUpdateParts, type RunWriteValues } from './run-update.js';
import { refusedByDatabase } from './transitions.js';

/** The most writes in one statement (each carries 11 values; run bodies are a few KB each). */
const MAX_BATCH = 100;

/** Inside a transaction: insert the tasks whose ids are absent; returns those inserted (the container's insert). */
export type InsertInTransaction = (trx: Knex.Transaction, tasks: readonly TaskRecord[]) => Promise<TaskRecord[]>;

interface Pending {
	readonly id: string;
	readonly rev: number;
	readonly createdAt: number;
	readonly values: RunWriteValues;
	/** The tasks the write releases (inserted in its transaction), or none. */
	readonly tasks: readonly TaskRecord[];
	/** `null`: not written (the compare-and-set lost); else the tasks inserted. */
	resolve(added: TaskRecord[] | null): void;
	reject(error: unknown): void;
}

export class RunWriteBatcher {
	readonly #dialect: SqlDialect;
	readonly #table: string;
	readonly #knex: Knex;
	readonly #insert: InsertInTransaction | null;
	readonly #guarded: PrepareGuardedInserts | null;
	/** better-sqlite3: a transaction whose statements run synchronously on the one connection, or `null`. */
	readonly #transaction: DirectSqlite['transaction'] | null;
	/** Statements outside a transaction: knex's `raw`, or the direct runner (direct-pg.ts, direct-sqlite3.ts). */
	readonly #run: RunRows;
	/** Statements inside a transaction: knex's `raw` on it, or the direct runner on its connection. */
	readonly #runIn: (trx: Knex.Transaction) => RunRows;
	/** SQLite: the indexed values of the runs this process wrote (run-index-values.ts); `null` on PostgreSQL. */
	readonly #indexed: IndexedValues | null;
	#queue: Pending[] = [];
	#inFlight = false;
	/** A pump is due at the end of this microtask checkpoint (`submit`). */
	#pumpQueued = false;

	/**
	 * `insert`: the tasks' insert inside a transaction on `knex` (the container's), or `null` (no task release);
	 * `guarded`: the container's inserts as parts of the run write's statement (PostgreSQL) or as statements of its
	 * transaction (better-sqlite3, with `transaction`: direct-sqlite.ts), or `null`; `direct`:
	 * runs a statement outside a transaction without knex's query path (direct-pg.ts, direct-sqlite3.ts), or `null`
	 * (knex's `raw`); `directIn`: the same inside a transaction on `knex`, or `null`.
	 */
	constructor(options: {
		dialect: SqlDialect;
		table: string;
		knex: Knex;
		insert: InsertInTransaction | null;
		guarded?: PrepareGuardedInserts | null;
		direct?: RunRows | null;
		directIn?: ((trx: Knex.Transaction) => RunRows | null) | null;
		transaction?: DirectSqlite['transaction'] | null;
	}) {
		this.#dialect = options.dialect;
		this.#table = options.table;
		this.#knex = options.knex;
		this.#insert = options.insert;
		this.#guarded = options.guarded ?? null;
		this.#transaction = options.transaction ?? null;
		this.#indexed = options.dialect === 'pg' ? null : new IndexedValues();
		const knex = options.knex;
		this.#run = options.direct ?? ((sql, bindings) => rowsOf(knex, sql, bindings));
		const directIn = options.directIn ?? null;
		this.#runIn = (trx) => directIn?.(trx) ?? ((sql, bindings) => rowsOf(trx, sql, bindings));
	}

	/**
	 * Queue the write of run `id` if its stored `rev` and `createdAt` are these, with the insert of `tasks` (ids
	 * already stored skipped) in the same transaction; resolves with `null` when not written, else the tasks inserted. Rejects with
	 * the error of this write alone (a refused batch is run again write by write); a write rejected rolled back
	 * its tasks too.
	 */
	submit(
		id: string,
		rev: number,
		createdAt: number,
		values: RunWriteValues,
		tasks: readonly TaskRecord[] = [],
	): Promise<TaskRecord[] | null> {
		if (tasks.length > 0 && this.#insert === null)
			return Promise.reject(new Error('This run store inserts no tasks: it shares no container'));
		return new Promise((resolve, reject) => {
			this.#queue.push({ id, rev, createdAt, values, tasks, resolve, reject });
			// The first write of a turn waits one microtask for the writes of the same turn: the step ends of one
			// transition batch reach here in one run of the microtask queue, and on better-sqlite3 a batch runs
			// synchronously, so without the wait the first went alone (a transaction and commit of its own, 8 pages
			// written for one run) and the other 64 in the next batch.
			if (!this.#inFlight && !this.#pumpQueued) {
				this.#pumpQueued = true;
				queueMicrotask(() => {
					this.#pumpQueued = false;
					this.#pump();
				});
			}
		});
	}

	#pump(): void {
		if (this.#inFlight || this.#queue.length === 0) return;
		// One write per run per statement, in call order: a second write of a run waits for a later statement.
		const batch: Pending[] = [];
		const rest: Pending[] = [];
		const ids = new Set<string>();
		for (const pending of this.#queue) {
			if (batch.length < MAX_BATCH && !ids.has(pending.id)) batch.push(pending);
			else rest.push(pending);
			ids.add(pending.id);
		}
		this.#queue = rest;
		this.#inFlight = true;
		void this.#runBatch(batch).finally(() => {
			this.#inFlight = false;
			this.#pump();
		});
	}

	async #runBatch(batch: Pending[]): Promise<void> {
		try {
			const releasing = batch.some((pending) => pending.tasks.length > 0);
			const added =
				(await this.#writeNow(batch)) ??
				(!releasing
					? await this.#write(null, batch)
					: ((await this.#release(batch)) ??
						(await this.#knex.transaction((trx) => this.#write(trx, batch)))));
			batch.forEach((pending, i) => pending.resolve(added[i] ?? null));
		} catch (error) {
			// A refused statement was rolled back: one bad write (a unique key taken, a task refused) must not fail the
			// others. A broken connection may have committed it with the reply lost: every caller gets the error then.
			if (batch.length === 1 || !(refusedByDatabase(error) || error instanceof SchedulerError)) {
				for (const pending of batch) pending.reject(error);
				return;
			}
			for (const pending of batch) await this.#runBatch([pending]);
		}
	}

	/**
	 * The batch's UPDATE, then (in transaction `trx`) the tasks of the runs it wrote; `trx` null: no tasks, no
	 * transaction. Per write: its tasks added, or `null`.
	 */
	async #write(trx: Knex.Transaction | null, batch: Pending[]): Promise<(TaskRecord[] | null)[]> {
		const run = trx === null ? this.#run : this.#runIn(trx);
		// Outside a transaction one statement: a batch refused is run again write by write (`#runBatch`), which a
		// first statement already committed would answer as lost.
		const updates = this.#updates(batch, trx !== null);
		let step = updates.next();
		while (step.done !== true) step = updates.next(await run(step.value.sql, step.value.bindings));
		const written = step.value;
		const out = batch.map((pending) => (written.has(pending.id) ? ([] as TaskRecord[]) : null));
		const releasing = batch.filter((pending) => written.has(pending.id) && pending.tasks.length > 0);
		if (releasing.length === 0 || this.#insert === null || trx === null) return out;
		const inserted = new Set(
			await this.#insert(
				trx,
				releasing.flatMap((pending) => pending.tasks),
			),
		);
		batch.forEach((pending, i) => {
			if (out[i] !== null) out[i] = pending.tasks.filter((task) => inserted.has(task));
		});
		return out;
	}

	/**
	 * PostgreSQL: the batch's run writes and the inserts of the tasks they release as ONE statement (see the file's
	 * head); per write, its tasks inserted or `null` (not written). `null` when the container has no such inserts
	 * for these tasks (the caller then uses the transaction).
	 */
	async #release(batch: Pending[]): Promise<(TaskRecord[] | null)[] | null> {
		if (this.#guarded === null || this.#dialect !== 'pg') return null;
		const tasks = batch.flatMap((pending) => pending.tasks);
		const owners = batch.flatMap((pending) => pending.tasks.map(() => pending.id));
		const inserts = this.#guarded(tasks, owners, 'SELECT w.id FROM w');
		if (inserts === null) return null;
		const update = runUpdateParts(this.#dialect, this.#table, batch);
		const wake = inserts.wake === null ? '' : ', (SELECT pg_notify(?, ?)) IS NULL AS woke';
		// The run rows (`seq` NULL), then the task rows (`seq` set: the column is NOT NULL), with the notification,
		// sent at commit: evaluated once, if any row came.
		const sql =
			`WITH ${update.with === null ? '' : `${update.with}, `}w AS (${update.sql}), i AS (${inserts.statement.sql}) ` +
			`SELECT id, NULL::bigint AS seq${inserts.wake === null ? '' : ', NULL::boolean AS woke'} FROM w ` +
			`UNION ALL SELECT id, seq${wake} FROM i`;
		const rows = await this.#run(sql, [...update.bindings, ...inserts.statement.bindings, ...(inserts.wake ?? [])]);
		const written = new Set<string>();
		const taskRows: Record<string, unknown>[] = [];
		for (const row of rows) {
			if (row['seq'] === null) written.add(String(row['id']));
			else taskRows.push(row);
		}
		const inserted = new Set(inserts.settle(taskRows));
		return batch.map((pending) =>
			written.has(pending.id) ? pending.tasks.filter((task) => inserted.has(task)) : null,
		);
	}

	/**
	 * better-sqlite3: the batch as one transaction run synchronously on the connection (direct-sqlite.ts), without a
	 * knex transaction and knex's query path: the UPDATEs, then one insert of the tasks of the runs they wrote. `null`
	 * without such a transaction or, for a release, when the container has no such insert for its tasks (the caller
	 * then uses a knex transaction).
	 */
	async #writeNow(batch: Pending[]): Promise<(TaskRecord[] | null)[] | null> {
		const transaction = this.#transaction;
		const guarded = this.#guarded;
		if (transaction === null) return null;
		const prepare = (of: readonly Pending[]): GuardedInserts | null =>
			guarded === null
				? null
				: guarded(
						of.flatMap((pending) => pending.tasks),
						[],
						null,
					);
		// Checked before anything is written: every task of the batch, as `add` checks them.
		const all = batch.some((pending) => pending.tasks.length > 0) ? prepare(batch) : null;
		if (all === null && batch.some((pending) => pending.tasks.length > 0)) return null;
		// knex's events and an error's message see the transaction as its run UPDATE (named only) and its task insert.
		const label = `UPDATE ${this.#table} …${all === null ? '' : `;\n${all.statement.sql}`}`;
		return transaction(label, all?.statement.bindings ?? [], (run) => {
			const updates = this.#updates(batch, true);
			let step = updates.next();
			while (step.done !== true) step = updates.next(run(step.value.sql, step.value.bindings));
			const written = step.value;
			const releasing = batch.filter((pending) => written.has(pending.id) && pending.tasks.length > 0);
			// The tasks of the runs written: all of them, unless a compare-and-set lost.
			const inserts =
				releasing.length === 0 || all === null
					? null
					: releasing.length === batch.filter((pending) => pending.tasks.length > 0).length
						? all
						: prepare(releasing);
			const inserted = new Set(
				inserts === null ? [] : inserts.settle(run(inserts.statement.sql, inserts.statement.bindings)),
			);
			return batch.map((pending) =>
				written.has(pending.id) ? pending.tasks.filter((task) => inserted.has(task)) : null,
			);
		});
	}

	/**
	 * The batch's compare-and-set UPDATEs, one statement at a time (each yielded, its rows sent back); returns the
	 * ids written. On SQLite in a transaction (`split`), first the writes that leave their runs' indexed columns as
	 * stored (run-index-values.ts), setting the other columns only; then the rest, and those of the first that it did
	 * not write, setting every column (a compare-and-set lost there loses here too). Else one statement.
	 */
	*#updates(batch: Pending[], split: boolean): Generator<SqlPart, Set<string>, Record<string, unknown>[]> {
		const written = new Set<string>();
		const indexed = this.#indexed;
		const slim = indexed === null || !split ? [] : batch.filter((p) => indexed.unchanged(p.id, p.rev, p.values));
		let rest = batch;
		if (slim.length > 0) {
			for (const row of yield runUpdate(this.#dialect, this.#table, slim, true)) written.add(String(row['id']));
			rest = batch.filter((p) => !written.has(p.id));
		}
		if (rest.length > 0)
			for (const row of yield runUpdate(this.#dialect, this.#table, rest)) written.add(String(row['id']));
		if (indexed !== null)
			for (const p of batch) {
				if (written.has(p.id)) indexed.wrote(p.id, p.rev + 1, p.values);
				else indexed.forget(p.id);
			}
		return written;
	}
}
