/**
 * How `SqlContainer` stores new tasks outside the batched add (add-queue.ts, add-batch.ts): the check of an add's
 * tasks, the transaction of a large add or a repeat's tick (replacing finished tasks with the same ids, refusing
 * live ids and held deduplication keys), the insert inside a caller's transaction (a workflow release on SQLite),
 * and a release's guarded insert as a part of its run write (PostgreSQL).
 */
import type { Knex } from 'knex';
import {
	assertStorableTask,
	DuplicateKeyError,
	DuplicateTaskError,
	InvalidTaskError,
	type TaskRecord,
} from 'lightsched/kit';
import { directSqlite3In } from './direct-sqlite3.js';
import { dropLogs } from './logs.js';
import {
	guardedInsertStatement,
	insertStatement,
	insertTasks,
	MAX_GUARDED_ROWS,
	takeSeqs,
	type GuardedInserts,
	type InsertShape,
} from './insert.js';
import { WAKE_PAYLOAD } from './notify.js';
import { CHUNK, chunks, FINAL_SQL, isUniqueViolation, marks, rowsOf } from './statements.js';
import { resultRows, type SqlTables } from './schema.js';

/** Check an add's tasks (all or nothing); returns their items as JSON text. */
export function checkAdd(tasks: readonly TaskRecord[]): string[] {
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
		// PostgreSQL text cannot hold NUL: refused here, before the add joins a batch of others (add-queue.ts).
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

export interface TaskAddsParts {
	readonly knex: Knex;
	readonly tables: SqlTables;
	readonly shape: InsertShape;
	/** Whether an insert sends the PostgreSQL wake-up. */
	readonly notify: boolean;
	/** Before an insert: these tasks are about to be written (the claim path notes delayed ones). */
	readonly adding: (tasks: readonly TaskRecord[]) => void;
	/** After an insert: this many rows were added (the statistics refresh counts them). */
	readonly grew: (rows: number) => void;
}

export class TaskAdds {
	readonly #parts: TaskAddsParts;

	constructor(parts: TaskAddsParts) {
		this.#parts = parts;
	}

	/**
	 * Insert tasks in one transaction, replacing finished ones with the same ids; `first`, when given, runs first in
	 * the transaction and may call the insert off (returns `false`: nothing is written). Returns whether it inserted.
	 */
	async insert(
		tasks: readonly TaskRecord[],
		items: readonly string[],
		first: ((trx: Knex.Transaction) => Promise<boolean>) | null,
	): Promise<boolean> {
		const { knex, tables, shape } = this.#parts;
		const t = tables.tasks;
		const ids = tasks.map((task) => task.id);
		this.#parts.adding(tasks);
		try {
			return await knex.transaction(async (trx) => {
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
							tables,
							replaced.map((row) => Number(row['seq'])),
						);
				}
				for (const part of chunks(ids)) {
					const rows = resultRows(
						await trx.raw(`SELECT id FROM ${t} WHERE id IN (${marks(part.length)}) LIMIT 1`, part),
					);
					if (rows[0] !== undefined) throw new DuplicateTaskError(String(rows[0]['id']));
				}
				await this.checkKeys(trx, tasks);
				await insertTasks(trx, shape, tasks, items);
				if (this.#parts.notify) await trx.raw('SELECT pg_notify(?, ?)', [tables.channel, WAKE_PAYLOAD]);
				return true;
			});
		} catch (error) {
			if (!isUniqueViolation(error)) throw error;
			// Another process took one of these keys between our check and our insert (the partial unique index).
			await this.checkKeys(knex, tasks);
			// Or added one of these ids.
			const rows = resultRows(
				await knex.raw(
					`SELECT id FROM ${t} WHERE id IN (${marks(Math.min(ids.length, CHUNK))})`,
					ids.slice(0, CHUNK),
				),
			);
			throw new DuplicateTaskError(String(rows[0]?.['id'] ?? ids[0]));
		}
	}

	/** Refuse deduplication keys a waiting or running task holds. */
	async checkKeys(db: Knex | Knex.Transaction, tasks: readonly TaskRecord[]): Promise<void> {
		const keys = tasks.flatMap((task) => (task.key === null ? [] : [task.key]));
		for (const part of chunks(keys)) {
			const rows = await rowsOf(
				db,
				`SELECT id, dedup_key FROM ${this.#parts.tables.tasks} WHERE dedup_key IN (${marks(part.length)}) AND status NOT IN ${FINAL_SQL} LIMIT 1`,
				part,
			);
			if (rows[0] !== undefined) throw new DuplicateKeyError(String(rows[0]['dedup_key']), String(rows[0]['id']));
		}
	}

	/**
	 * Inside the caller's transaction, insert the tasks whose ids are absent (see `TransactionalInsert`); a task
	 * stored under an id already, whatever its status, is left as it is. Returns the records inserted.
	 */
	async inTransaction(trx: Knex.Transaction, tasks: readonly TaskRecord[]): Promise<TaskRecord[]> {
		if (tasks.length === 0) return [];
		const items = checkAdd(tasks);
		this.#parts.adding(tasks);
		await this.checkKeys(trx, tasks);
		const direct = directSqlite3In(this.#parts.knex, trx);
		const inserted = await insertTasks(trx, this.#parts.shape, tasks, items, true, direct ?? undefined);
		if (inserted.length > 0 && this.#parts.notify)
			await trx.raw('SELECT pg_notify(?, ?)', [this.#parts.tables.channel, WAKE_PAYLOAD]);
		this.#parts.grew(inserted.length);
		return inserted;
	}

	/**
	 * See `PrepareGuardedInserts` (insert.ts): a workflow release's insert of `tasks` as a part of the run write's
	 * statement, each task only where its owner was written (PostgreSQL, `among`), or as a statement of the run
	 * write's transaction (SQLite, `among` null); a task stored under an id already is left as it is. `null` for
	 * tasks with a deduplication key (the checked `inTransaction` looks for their holders first) and for more than
	 * `MAX_GUARDED_ROWS` tasks.
	 */
	guarded(tasks: readonly TaskRecord[], owners: readonly string[], among: string | null): GuardedInserts | null {
		if (tasks.length > MAX_GUARDED_ROWS || tasks.some((task) => task.key !== null)) return null;
		const items = checkAdd(tasks);
		this.#parts.adding(tasks);
		return {
			statement:
				among === null
					? insertStatement(this.#parts.shape, tasks, items, undefined, true)
					: guardedInsertStatement(this.#parts.shape, tasks, items, owners, among),
			wake: this.#parts.notify ? ([this.#parts.tables.channel, WAKE_PAYLOAD] as const) : null,
			settle: (rows) => {
				takeSeqs(tasks, rows);
				const ids = new Set(rows.map((row) => String(row['id'])));
				const inserted = tasks.filter((task) => ids.has(task.id));
				this.#parts.grew(inserted.length);
				return inserted;
			},
		};
	}
}
