/**
 * SQLite: a run write that leaves a run's indexed columns (`active_key`, `status`, `open`) as they are stored sets
 * only the others. SQLite rewrites the index entries of every column an UPDATE's SET names, changed or not (a
 * delete and an insert in each index, and their pages in the commit): in a transaction of 34 updates of 1,000
 * rows of the runs table, 25–35 µs a row with the three in the SET against 19–24 without (run-update.ts). A chain's
 * run changes them at its first and last writes only.
 *
 * Which writes those are: `IndexedValues` remembers, per run, the indexed values this process last wrote and the
 * `rev` they got. A write at that `rev` with the same values leaves them out of its SET and compares them in its
 * WHERE instead, so a memory gone wrong (a run removed and made again under its id, with other values at the same
 * `rev`) writes nothing there, and the write goes again with every column (run-writes.ts).
 */

/** The columns of a run row in an index, of those an update sets, in the order `UPDATE_COLUMNS` has them (run-update.ts). */
export const INDEXED_COLUMNS = ['active_key', 'status', 'open'] as const;

/** The most runs remembered (the oldest forgotten first): a forgotten run's next write sets every column. */
const KEPT = 10_000;

interface Known {
	readonly rev: number;
	readonly values: readonly unknown[];
}

export class IndexedValues {
	readonly #known = new Map<string, Known>();

	/** Whether run `id`'s write at `rev` with `values` leaves its indexed columns as this process last wrote them. */
	unchanged(id: string, rev: number, values: Readonly<Record<string, unknown>>): boolean {
		const known = this.#known.get(id);
		if (known === undefined || known.rev !== rev) return false;
		for (let i = 0; i < INDEXED_COLUMNS.length; i++)
			if (known.values[i] !== values[INDEXED_COLUMNS[i] as string]) return false;
		return true;
	}

	/** Run `id` is stored at `rev` with `values`. */
	wrote(id: string, rev: number, values: Readonly<Record<string, unknown>>): void {
		this.#known.delete(id);
		if (this.#known.size >= KEPT) this.#known.delete(this.#known.keys().next().value as string);
		this.#known.set(id, { rev, values: INDEXED_COLUMNS.map((column) => values[column]) });
	}

	/** Run `id`'s stored values are unknown (a write of it lost or failed). */
	forget(id: string): void {
		this.#known.delete(id);
	}
}
