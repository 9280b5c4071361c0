/**
 * Where a memory container's waiting tasks wait: the due ones in the container's order (`WaitingOrder`: first in
 * first out, or by priority), the others in a heap by due time until they come due. Entries are never searched
 * for: a record's place (`StoredTask.placeOf`) says which entry stands for it, and an entry that no longer does
 * (its task was stopped, re-queued by a new due time, or forgotten) is skipped when it comes out.
 */
import { BinaryHeap } from './binary-heap.js';
import { StoredTask } from './stored-task.js';

/** The order due waiting tasks come out in. Entries may be stale; the container skips them. */
export interface WaitingOrder {
	/** How many entries it holds (stale ones included). */
	readonly size: number;
	/** Add a due waiting task. */
	push(task: StoredTask): void;
	/** Take the next task in order, or `undefined` when empty. */
	shift(): StoredTask | undefined;
	/** Forget every entry. */
	clear(): void;
}

/** A waiting task in the delayed heap, with the due time it was put there for. */
interface DelayedEntry {
	readonly rec: StoredTask;
	readonly at: number;
}

export class WaitingTasks {
	readonly #due: WaitingOrder;
	/**
	 * Waiting tasks not yet due, by the `runAt` they had when they were put here (`at`): a transition may change a
	 * waiting task's `runAt`, and a heap ordered by a field that changes in place would lose its order. An entry
	 * whose `at` is no longer its task's `runAt` is stale and skipped.
	 */
	readonly #delayed = new BinaryHeap<DelayedEntry>((a, b) => a.at < b.at);

	constructor(due: WaitingOrder) {
		this.#due = due;
	}

	/** Queue a waiting record that is in no queue (its place `none`), by its `runAt`: due at `now`, or delayed. */
	add(rec: StoredTask, now: number): void {
		if (StoredTask.placeOf(rec) !== 'none') return;
		if (rec.runAt > now) {
			StoredTask.setPlace(rec, 'delayed');
			this.#delayed.push({ rec, at: rec.runAt });
		} else {
			StoredTask.setPlace(rec, 'queue');
			this.#due.push(rec);
		}
	}

	/** Queue a waiting record again by its (new) due time: the entry it had, if any, is skipped from now on. */
	requeue(rec: StoredTask, now: number): void {
		if (StoredTask.placeOf(rec) !== 'gone') StoredTask.setPlace(rec, 'none');
		this.add(rec, now);
	}

	/** Move the delayed tasks due at `now` to the due queue (call before taking them with `next`). */
	promoteDue(now: number): void {
		for (;;) {
			const top = this.#delayed.peek();
			if (top === undefined || top.at > now) return;
			this.#delayed.pop();
			if (!isLive(top)) continue;
			StoredTask.setPlace(top.rec, 'none');
			this.add(top.rec, now);
		}
	}

	/** Take the next due waiting task out of the queue (its place `none` again), or `undefined` when none is. */
	next(): StoredTask | undefined {
		for (;;) {
			const rec = this.#due.shift();
			if (rec === undefined) return undefined;
			if (StoredTask.placeOf(rec) !== 'queue') continue;
			StoredTask.setPlace(rec, 'none');
			if (rec.status === 'waiting') return rec;
		}
	}

	/** The earliest due time of a delayed task after the due ones at `now` were promoted, or `null`. */
	nextDueAt(now: number): number | null {
		this.promoteDue(now);
		for (;;) {
			const top = this.#delayed.peek();
			if (top === undefined) return null;
			if (isLive(top)) return top.at;
			this.#delayed.pop();
		}
	}
}

/** Whether a delayed entry still stands for its task: the task waits there, for that due time. */
function isLive(entry: DelayedEntry): boolean {
	const { rec } = entry;
	return StoredTask.placeOf(rec) === 'delayed' && rec.status === 'waiting' && rec.runAt === entry.at;
}
