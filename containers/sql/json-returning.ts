/**
 * A `RETURNING *` statement's rows as one JSON text a row, for the `sqlite3` driver (direct-sqlite3.ts). The driver
 * copies every column of every row into a heap value of its own on its worker thread, then makes the row's object
 * column by column on the main thread (a property name made and looked up per column): with a task's 27 columns
 * and two rows per task (its claim and its final transition), the largest native cost of a busy scheduler on this
 * driver (measured with perf, 5 Dec 2026). One text column a row costs one copy and one property, and V8's
 * `JSON.parse` makes the values at once; the object is then made in one literal (`rowMaker`).
 *
 * Every value comes back as the driver gave it: text and integers as JSON has them; a REAL (which SQLite's JSON
 * writes with 15 digits only) as `{"r": quote(x)}`, whose text holds every bit, and a BLOB (which JSON cannot hold) as
 * `{"b": hex(x)}`. Text is never an object, so the two are told apart: a text value is passed as `x || ''`, a copy
 * without the JSON subtype a column set from a JSON function in the same statement still carries into RETURNING on
 * SQLite 3.40 (Debian's, which `sqlite3` is built against here: the lease reclaim's `error = json_object(…)`), and
 * which `json_array` would embed as JSON instead of its text (a CAST keeps the subtype; the concatenation does not).
 */
import { rowMaker } from './direct-sqlite.js';

type Row = Record<string, unknown>;

/** The final `RETURNING *` of a statement, which `jsonReturning` replaces. */
const RETURNING_ALL = /\bRETURNING \*\s*$/;

/** Whether `sql` ends with `RETURNING *`, so its rows can come back as JSON once their column names are known. */
export const returnsAll = (sql: string): boolean => RETURNING_ALL.test(sql);

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** `sql` (ending with `RETURNING *`) returning instead, for each row, the columns `names` in one JSON array `r`. */
export function jsonReturning(sql: string, names: readonly string[]): string {
	const values = names.map((name) => {
		const column = quoted(name);
		return `CASE typeof(${column}) WHEN 'text' THEN ${column} || '' WHEN 'real' THEN json_object('r', quote(${column})) WHEN 'blob' THEN json_object('b', hex(${column})) ELSE ${column} END`;
	});
	return sql.replace(RETURNING_ALL, `RETURNING json_array(${values.join(', ')}) AS r`);
}

/** A value of the array back to the driver's own: a REAL from its exact text, a BLOB as a Buffer. */
function valueOf(value: unknown): unknown {
	if (typeof value !== 'object' || value === null) return value;
	const wrapped = value as { r?: string; b?: string };
	return wrapped.r !== undefined ? Number(wrapped.r) : Buffer.from(wrapped.b ?? '', 'hex');
}

/** Makes the rows of a statement that `jsonReturning` made for `names` from the driver's one-column rows. */
export function jsonRows(names: readonly string[]): (rows: readonly Row[]) => Row[] {
	const make = rowMaker(names);
	return (rows) => {
		const out = new Array<Row>(rows.length);
		for (let i = 0; i < rows.length; i++) {
			const values = JSON.parse((rows[i] as Row)['r'] as string) as unknown[];
			for (let j = 0; j < values.length; j++) {
				const value = values[j];
				if (typeof value === 'object' && value !== null) values[j] = valueOf(value);
			}
			out[i] = make(values);
		}
		return out;
	};
}
