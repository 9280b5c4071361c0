/**
 * Group commit for adds. An add asked for while another add's write is on its way joins the next batch, and a
 * batch is written together (one statement on PostgreSQL, one transaction on SQLite; see add-batch.ts), each add
 * still settled on its own. Nothing waits for a timer: a lone add is written at once; batches form only while the
 * database is busy, which is when they pay off. Adds that share an id or a deduplication key with an earlier add
 * still waiting go in a later batch, in call order, so each add sees the earlier ones as if they ran one by one.
 */
import type { TaskRecord } from 'lightsched';

/** One add's place in a batch: its tasks, their items as JSON text, and how to settle it. */
export interface AddEntry {
	readonly tasks: readonly TaskRecord[];
	readonly items: readonly string[];
	resolve(): void;
	reject(error: unknown): void;
}

export class AddQueue {
	readonly #maxRows: number;
	/** Writes a batch and settles each of its entries; if it throws, the entries not yet settled get its error. */
	readonly #store: (batch: AddEntry[]) => Promise<void>;
	#queue: AddEntry[] = [];
	#writing = false;

	/** `maxRows`: the most tasks in one batch (a lone add of more goes alone). */
	constructor(maxRows: number, store: (batch: AddEntry[]) => Promise<void>) {
		this.#maxRows = maxRows;
		this.#store = store;
	}

	/** Queue one add; settles when its tasks are stored, or with the error that refused them. */
	submit(tasks: readonly TaskRecord[], items: readonly string[]): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			this.#queue.push({ tasks, items, resolve, reject });
			this.#pump();
		});
	}

	#pump(): void {
		if (this.#writing || this.#queue.length === 0) return;
		const batch: AddEntry[] = [];
		const rest: AddEntry[] = [];
		const ids = new Set<string>();
		const keys = new Set<string>();
		let rows = 0;
		for (const entry of this.#queue) {
			const clash = entry.tasks.some((task) => ids.has(task.id) || (task.key !== null && keys.has(task.key)));
			if (!clash && (batch.length === 0 || rows + entry.tasks.length <= this.#maxRows)) {
				batch.push(entry);
				rows += entry.tasks.length;
			} else rest.push(entry);
			// Also for an entry left behind: a later one that shares its id or key must not overtake it.
			for (const task of entry.tasks) {
				ids.add(task.id);
				if (task.key !== null) keys.add(task.key);
			}
		}
		this.#queue = rest;
		this.#writing = true;
		this.#store(batch)
			.catch((error: unknown) => {
				for (const entry of batch) entry.reject(error);
			})
			.finally(() => {
				this.#writing = false;
				this.#pump();
			});
	}
}
