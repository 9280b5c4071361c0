/**
 * The SQL container's `list`: one page of tasks by status and arrival order (`seq`).
 *
 * - The exact total costs a `COUNT(*)` over every matching row (tens of milliseconds with a million on SQLite):
 *   with `exactTotal: false` the page skips it and its total is a lower bound (see `TaskQuery.exactTotal`); one
 *   row past the page says whether another follows.
 * - A far page: SQLite and PostgreSQL walk an `OFFSET` row by row, so the last page of a million rows costs about
 *   as much as reading them (~100 ms on SQLite). From `FAR_OFFSET` on, the page first bounds the number of matching
 *   rows from above by their `seq` range (`MIN`/`MAX` per status: index seeks): when the offset is past the middle
 *   of that bound, it is surely past the middle of the rows, so the page counts them and reads from the other end
 *   (the opposite order, the offset counted from the end), and turns the rows round: the same page for the cost
 *   of the count and a short walk. Otherwise (sparse rows, or a page before the middle) it walks as before, so no
 *   page pays the count without gaining the shorter walk. Count and read are two statements, as the exact total
 *   and the page always were: a task added or deleted between them can shift such a page by that many rows, as
 *   it shifts any offset page between two calls.
 */
import type { Knex } from 'knex';
import type { TaskPage, TaskQuery, TaskStatus } from 'lightsched';
import { rowToRecord } from './rows.js';
import { marks, rowsOf } from './statements.js';

/** The offset from which a page past the middle of the matching rows is read from the other end. */
export const FAR_OFFSET = 10_000;

/** One page of `table` by `query` (already checked by the caller). */
export async function listPage(db: Knex, table: string, query: TaskQuery): Promise<TaskPage> {
	const { order = 'asc', exactTotal = true } = query;
	const offset = Math.floor(query.offset ?? 0);
	const limit = Math.floor(query.limit ?? 100);
	const statuses: readonly TaskStatus[] | null =
		query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : [...query.status];
	const where =
		statuses === null ? '' : statuses.length === 0 ? 'WHERE 1 = 0' : `WHERE status IN (${marks(statuses.length)})`;
	const filter = statuses ?? [];
	const count = async (): Promise<number> =>
		Number((await rowsOf(db, `SELECT COUNT(*) AS n FROM ${table} ${where}`, filter))[0]?.['n'] ?? 0);
	const read = async (direction: 'asc' | 'desc', take: number, skip: number) =>
		rowsOf(
			db,
			`SELECT * FROM ${table} ${where} ORDER BY seq ${direction === 'desc' ? 'DESC' : 'ASC'} LIMIT ? OFFSET ?`,
			[...filter, take, skip],
		);

	/** At least as many as the matching rows: their `seq` range (per status with a filter: summed). */
	const upperBound = async (): Promise<number> => {
		const spans = await Promise.all(
			(statuses ?? [null]).map(async (status) => {
				// Two subqueries: each one `MIN` or `MAX` alone is an index seek (both in one select scan every row).
				const of = `FROM ${table}${status === null ? '' : ' WHERE status = ?'}`;
				const rows = await rowsOf(
					db,
					`SELECT (SELECT MIN(seq) ${of}) AS lo, (SELECT MAX(seq) ${of}) AS hi`,
					status === null ? [] : [status, status],
				);
				const { lo, hi } = rows[0] ?? {};
				return lo === null || lo === undefined ? 0 : Number(hi) - Number(lo) + 1;
			}),
		);
		return spans.reduce((sum, span) => sum + span, 0);
	};
	const far = offset >= FAR_OFFSET && limit > 0 && statuses?.length !== 0 && offset > (await upperBound()) / 2;
	// Counted first when asked for (or for a far page): it spares the page's read when the offset is past the end.
	const counted = exactTotal || far ? await count() : null;
	if (counted !== null && (limit <= 0 || offset >= counted))
		return { tasks: [], total: counted, more: counted > offset };
	if (counted !== null && far) {
		const end = Math.min(counted, offset + limit);
		const rows = await read(order === 'desc' ? 'asc' : 'desc', end - offset, counted - end);
		return { tasks: rows.reverse().map(rowToRecord), total: counted, more: counted > end };
	}
	const rows = limit <= 0 ? [] : await read(order, limit + 1, offset);
	const more = rows.length > limit;
	const tasks = (more ? rows.slice(0, limit) : rows).map(rowToRecord);
	if (counted !== null) return { tasks, total: counted, more };
	// Not counted: a lower bound, except on a page without tasks (offset past the end, or limit 0), whose total is
	// exact (0 at offset 0 needs no count).
	if (tasks.length > 0) return { tasks, total: offset + tasks.length + (more ? 1 : 0), more };
	if (offset <= 0 && limit > 0) return { tasks, total: 0, more: false };
	const total = await count();
	return { tasks, total, more: total > offset };
}
