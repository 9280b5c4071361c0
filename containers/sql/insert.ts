/**
 * The insert of an add's new rows, inside the add's transaction: multi-row INSERTs of up to 500 rows, each row
 * given the `seq` the database assigned. On the server's clock `updated_at` is the database's; every other time is
 * stored as given.
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched';
import { INSERT_COLUMNS, recordToValues } from './rows.js';
import { chunks, rowsOf, type TaskStatements } from './statements.js';

/**
 * Insert `tasks` (whose items are already JSON text in `items`, same order) into `table`. With `ifAbsent`, a task
 * whose id is stored already is skipped (`ON CONFLICT (id) DO NOTHING`) and left as it is. Returns the records
 * inserted.
 */
export async function insertTasks(
	trx: Knex.Transaction,
	table: string,
	sql: Pick<TaskStatements, 'serverClock' | 'nowSql'>,
	tasks: readonly TaskRecord[],
	items: readonly string[],
	bool: (value: boolean) => unknown,
	ifAbsent = false,
): Promise<TaskRecord[]> {
	const inserted: TaskRecord[] = [];
	const now = Date.now();
	const server = sql.serverClock;
	const row = `(${INSERT_COLUMNS.map((column) => (server && column === 'updated_at' ? sql.nowSql : '?')).join(', ')})`;
	const updatedAt = INSERT_COLUMNS.indexOf('updated_at');
	const values = (task: TaskRecord, item: string): unknown[] => {
		const all = recordToValues(task, item, now, bool);
		if (server) all.splice(updatedAt, 1);
		return all;
	};
	const indexed = tasks.map((task, i) => ({ task, item: items[i] as string }));
	for (const part of chunks(indexed)) {
		const bindings = part.flatMap(({ task, item }) => values(task, item));
		const rows = await rowsOf(
			trx,
			`INSERT INTO ${table} (${INSERT_COLUMNS.join(', ')}) VALUES ${part.map(() => row).join(', ')}${ifAbsent ? ' ON CONFLICT (id) DO NOTHING' : ''} RETURNING id, seq`,
			bindings,
		);
		// The records are handed over (see TaskContainer.add): they get the seq the database gave them.
		const seqs = new Map(rows.map((r) => [String(r['id']), Number(r['seq'])]));
		for (const { task } of part) {
			const seq = seqs.get(task.id);
			if (seq === undefined) continue;
			task.seq = seq;
			inserted.push(task);
		}
	}
	return inserted;
}
