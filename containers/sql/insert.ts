/**
 * The insert of an add's new rows: multi-row INSERTs of up to 500 rows, each row given the `seq` the database
 * assigned. On the server's clock `updated_at` is the database's; every other time is stored as given.
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched';
import { INSERT_COLUMNS, recordToValues } from './rows.js';
import { chunks, rowsOf, type TaskStatements } from './statements.js';

/** What an insert needs to know of the container. */
export interface InsertShape {
	readonly table: string;
	readonly sql: Pick<TaskStatements, 'serverClock' | 'nowSql'>;
	readonly bool: (value: boolean) => unknown;
}

/**
 * One multi-row `INSERT … RETURNING id, seq` of `tasks` (items already JSON text in `items`, same order; at most
 * CHUNK rows). `firstStatus`, when given, is the SQL of the first row's status in place of a binding (see
 * add-batch.ts: it orders the insert after the statement's other parts). With `ifAbsent`, a task whose id is stored
 * already is skipped (`ON CONFLICT (id) DO NOTHING`) and left as it is: only the rows inserted come back.
 */
export function insertStatement(
	shape: InsertShape,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	firstStatus?: string,
	ifAbsent = false,
): { sql: string; bindings: unknown[] } {
	const now = Date.now();
	const server = shape.sql.serverClock;
	const updatedAt = INSERT_COLUMNS.indexOf('updated_at');
	const statusAt = INSERT_COLUMNS.indexOf('status');
	const columns = (first: boolean): string =>
		`(${INSERT_COLUMNS.map((column, i) =>
			server && i === updatedAt ? shape.sql.nowSql : first && i === statusAt ? firstStatus : '?',
		).join(', ')})`;
	const bindings: unknown[] = [];
	tasks.forEach((task, i) => {
		const all = recordToValues(task, items[i] as string, now, shape.bool);
		// Removed from the back first, so the front index stays right.
		if (server) all.splice(updatedAt, 1);
		if (i === 0 && firstStatus !== undefined) all.splice(statusAt, 1);
		bindings.push(...all);
	});
	const rows = tasks.map((_, i) => columns(i === 0 && firstStatus !== undefined)).join(', ');
	return {
		sql: `INSERT INTO ${shape.table} (${INSERT_COLUMNS.join(', ')}) VALUES ${rows}${ifAbsent ? ' ON CONFLICT (id) DO NOTHING' : ''} RETURNING id, seq`,
		bindings,
	};
}

/** The records are handed over (see TaskContainer.add): they get the seq the database gave them. */
export function takeSeqs(tasks: readonly TaskRecord[], rows: readonly Record<string, unknown>[]): void {
	const seqs = new Map(rows.map((r) => [String(r['id']), Number(r['seq'])]));
	for (const task of tasks) task.seq = seqs.get(task.id) ?? task.seq;
}

/**
 * Insert `tasks` (whose items are already JSON text in `items`, same order) inside the caller's transaction (an
 * add's, or a workflow release's). With `ifAbsent`, a task whose id is stored already is skipped and left as it is.
 * Returns the records inserted, each given its `seq`.
 */
export async function insertTasks(
	trx: Knex.Transaction,
	shape: InsertShape,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	ifAbsent = false,
): Promise<TaskRecord[]> {
	const inserted: TaskRecord[] = [];
	const indexed = tasks.map((task, i) => ({ task, item: items[i] as string }));
	for (const part of chunks(indexed)) {
		const some = part.map((p) => p.task);
		const { sql, bindings } = insertStatement(
			shape,
			some,
			part.map((p) => p.item),
			undefined,
			ifAbsent,
		);
		const seqs = new Map((await rowsOf(trx, sql, bindings)).map((r) => [String(r['id']), Number(r['seq'])]));
		for (const task of some) {
			const seq = seqs.get(task.id);
			if (seq === undefined) continue;
			task.seq = seq;
			inserted.push(task);
		}
	}
	return inserted;
}
