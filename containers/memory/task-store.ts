/**
 * The records a memory container stores: every one in arrival order, and an index by id built on demand.
 *
 * Arrival order (what `list`, `clean` and the reclaim walk) is an array read from a moving head. A record that is
 * forgotten (replaced by a re-run, removed, or past `keepFinished`) is marked `gone` (its place) and skipped: it is
 * dropped at once when it is at the head, the common case (the oldest finished go first), and the array is
 * compacted once gone entries outnumber the stored ones.
 *
 * The index by id (`get`, a transition by id, a duplicate id refused, a re-run) covers every record up to a mark
 * of arrival numbers (`seq`); the records added since are indexed by the next look-up, all at once, so each record
 * is indexed once at most, as with an index kept up to date. A run that looks nothing up by id (adds of ids the
 * scheduler generated, claims that hand out records linked to the stored ones) never touches the hash table: its
 * look-up, insert and delete of every task, each missing the processor's caches with 100,000 tasks stored, were a
 * quarter of the in-memory throughput bench (docs/benchmarks.md).
 */
import { StoredTask } from './stored-task.js';

/** Gone entries tolerated in the arrival array before it is compacted (besides outnumbering the stored ones). */
const COMPACT_AFTER = 1024;

export class TaskStore {
	/** Every stored record from `#head` on, in arrival order, with gone ones among them. */
	#order: (StoredTask | undefined)[] = [];
	#head = 0;
	/** Gone records in `#order` from `#head` on. */
	#gone = 0;
	#size = 0;
	readonly #byId = new Map<string, StoredTask>();
	/** Every record whose `seq` is at most this is in `#byId` (unless gone). */
	#indexedTo = 0;
	/** The `seq` of the newest record stored. */
	#lastSeq = 0;

	/** How many records are stored. */
	get size(): number {
		return this.#size;
	}

	/** Store `rec`, newer than every record stored (its `seq` the highest). */
	add(rec: StoredTask): void {
		this.#order.push(rec);
		this.#lastSeq = rec.seq;
		this.#size++;
	}

	/** The record stored under `id`. */
	get(id: string): StoredTask | undefined {
		if (this.#indexedTo < this.#lastSeq) this.#index();
		return this.#byId.get(id);
	}

	/** Forget `rec` (stored): it is marked gone, so entries of it left in the container's queues are skipped too. */
	delete(rec: StoredTask): void {
		StoredTask.setPlace(rec, 'gone');
		if (rec.seq <= this.#indexedTo && this.#byId.get(rec.id) === rec) this.#byId.delete(rec.id);
		this.#size--;
		this.#gone++;
		const order = this.#order;
		if (order[this.#head] === rec) {
			while (this.#head < order.length && StoredTask.placeOf(order[this.#head] as StoredTask) === 'gone') {
				order[this.#head++] = undefined;
				this.#gone--;
			}
			if (this.#head >= COMPACT_AFTER && this.#head * 2 >= order.length) {
				this.#order = order.slice(this.#head);
				this.#head = 0;
			}
		} else if (this.#gone > COMPACT_AFTER && this.#gone > this.#size) {
			const kept: StoredTask[] = [];
			for (let i = this.#head; i < order.length; i++) {
				const at = order[i] as StoredTask;
				if (StoredTask.placeOf(at) !== 'gone') kept.push(at);
			}
			this.#order = kept;
			this.#head = 0;
			this.#gone = 0;
		}
	}

	/** The stored records, oldest first. Nothing may be stored or forgotten while they are read. */
	*values(): Generator<StoredTask> {
		const order = this.#order;
		for (let i = this.#head; i < order.length; i++) {
			const rec = order[i] as StoredTask;
			if (StoredTask.placeOf(rec) !== 'gone') yield rec;
		}
	}

	/** The stored records, newest first (as `values`). */
	*newestFirst(): Generator<StoredTask> {
		const order = this.#order;
		for (let i = order.length - 1; i >= this.#head; i--) {
			const rec = order[i] as StoredTask;
			if (StoredTask.placeOf(rec) !== 'gone') yield rec;
		}
	}

	/** Index the records stored since the last look-up (newest first, down to the mark). */
	#index(): void {
		const order = this.#order;
		const to = this.#indexedTo;
		for (let i = order.length - 1; i >= this.#head; i--) {
			const rec = order[i] as StoredTask;
			if (rec.seq <= to) break;
			if (StoredTask.placeOf(rec) !== 'gone') this.#byId.set(rec.id, rec);
		}
		this.#indexedTo = this.#lastSeq;
	}
}
