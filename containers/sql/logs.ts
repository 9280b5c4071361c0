/**
 * The SQL container's task logs: rows of `<prefix>logs`, line `n` (counted from 0) of the task row with `seq`
 * `task_seq`. A re-run is a new row with a new seq, so its log starts empty; the oldest lines are deleted past the
 * bound, so the smallest `n` kept is the number of lines dropped. The lines of deleted or replaced rows are deleted
 * with them (`dropLogs`).
 */
import type { Knex } from 'knex';
import { logWindow, type TaskLogPage, type TaskLogQuery } from 'lightsched/kit';
import type { SqlTables } from './schema.js';
import { chunks, marks, rowsOf } from './statements.js';

async function seqOf(db: Knex | Knex.Transaction, t: SqlTables, id: string): Promise<number | null> {
	const rows = await rowsOf(db, `SELECT seq FROM ${t.tasks} WHERE id = ?`, [id]);
	return rows[0] === undefined ? null : Number(rows[0]['seq']);
}

/** Append lines to a task's log (nothing when the task is gone), keeping the newest `maxLines`. */
export async function appendLogs(
	knex: Knex,
	t: SqlTables,
	id: string,
	lines: readonly string[],
	maxLines: number,
): Promise<void> {
	await knex.transaction(async (trx) => {
		const seq = await seqOf(trx, t, id);
		if (seq === null) return;
		const last = await rowsOf(trx, `SELECT MAX(n) AS last FROM ${t.logs} WHERE task_seq = ?`, [seq]);
		let n = last[0]?.['last'] === null || last[0]?.['last'] === undefined ? 0 : Number(last[0]['last']) + 1;
		for (const part of chunks(lines)) {
			const bindings = part.flatMap((line) => [seq, n++, line]);
			await trx.raw(
				`INSERT INTO ${t.logs} (task_seq, n, line) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}`,
				bindings,
			);
		}
		if (n > maxLines) await trx.raw(`DELETE FROM ${t.logs} WHERE task_seq = ? AND n < ?`, [seq, n - maxLines]);
	});
}

/** A page of a task's log. */
export async function getLogs(knex: Knex, t: SqlTables, id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
	logWindow(0, 0, query); // the query's checks
	const seq = await seqOf(knex, t, id);
	if (seq === null) return { lines: [], offset: 0, total: 0, dropped: 0 };
	const range = await rowsOf(knex, `SELECT MIN(n) AS first, MAX(n) AS last FROM ${t.logs} WHERE task_seq = ?`, [seq]);
	const first = range[0]?.['first'];
	if (first === null || first === undefined) return { lines: [], offset: 0, total: 0, dropped: 0 };
	const dropped = Number(first);
	const total = Number(range[0]?.['last']) + 1;
	const { start, end } = logWindow(total, dropped, query);
	const rows =
		end > start
			? await rowsOf(knex, `SELECT line FROM ${t.logs} WHERE task_seq = ? AND n >= ? AND n < ? ORDER BY n`, [
					seq,
					start,
					end,
				])
			: [];
	return { lines: rows.map((row) => String(row['line'])), offset: start, total, dropped };
}

/** Delete the log lines of task rows that were deleted or replaced (by their seqs). */
export async function dropLogs(db: Knex | Knex.Transaction, t: SqlTables, seqs: readonly number[]): Promise<void> {
	for (const part of chunks(seqs)) {
		await db.raw(`DELETE FROM ${t.logs} WHERE task_seq IN (${marks(part.length)})`, part as number[]);
	}
}
