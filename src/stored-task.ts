/**
 * The record an in-process container stores: a plain-data `TaskRecord` (every field an own enumerable property,
 * in the order of the interface; copy it with `copyTask`, which V8 runs far faster than a spread of an object with
 * a private field), plus one private field
 * that says which of the container's structures holds it. Keeping that on the record itself, not in a wrapper,
 * saves an object and a look-up per task on the hot path; being private, it is never copied nor serialised.
 *
 * A class, not an object literal, also for speed: V8 pretenures a literal whose objects are mostly kept (as task
 * records are) into the old generation, and every later write of a young value into one pays the write barrier.
 */
import type { TaskError, TaskRecord, TaskStatus } from './task.js';

/**
 * Where a record is: not stored yet (`new`), stored but in no queue, in the due queue, among the delayed, or no
 * longer stored (replaced by a re-run, removed or forgotten).
 */
export type Place = 'new' | 'none' | 'queue' | 'delayed' | 'gone';

export class StoredTask<TItem = unknown, TOutput = unknown> implements TaskRecord<TItem, TOutput> {
	readonly id: string;
	item: TItem;
	priority: number;
	status: TaskStatus = 'waiting';
	attempts: number;
	maxAttempts: number;
	timeoutMs: number | null;
	seq: number;
	createdAt: number;
	updatedAt: number;
	startedAt: number | null = null;
	finishedAt: number | null = null;
	runAt: number;
	error: TaskError | null = null;
	output: TOutput | null = null;
	progress: unknown = null;
	ref: unknown = null;
	owner: string | null = null;
	leaseUntil: number | null = null;
	stopRequested = false;
	#place: Place = 'new';

	constructor(id: string, item: TItem, priority: number, maxAttempts: number, timeoutMs: number | null, now: number, runAt: number) {
		this.id = id;
		this.item = item;
		this.priority = priority;
		this.attempts = 0;
		this.maxAttempts = maxAttempts;
		this.timeoutMs = timeoutMs;
		this.seq = 0;
		this.createdAt = now;
		this.updatedAt = now;
		this.runAt = runAt;
	}

	/**
	 * The record a container stores for `record`: the record itself when it is a new one (as `createTaskRecord`
	 * makes), else a copy of its fields, so no two containers ever share a stored record. Marked stored.
	 */
	static store<TItem, TOutput>(record: TaskRecord<TItem, TOutput>): StoredTask<TItem, TOutput> {
		if (record instanceof StoredTask && record.#place === 'new') {
			record.#place = 'none';
			return record as StoredTask<TItem, TOutput>;
		}
		const stored = new StoredTask<TItem, TOutput>(
			record.id,
			record.item,
			record.priority,
			record.maxAttempts,
			record.timeoutMs,
			record.createdAt,
			record.runAt,
		);
		Object.assign(stored, record);
		stored.#place = 'none';
		return stored;
	}

	/** Which queue of its container holds the record (read by the memory containers). */
	static placeOf(record: StoredTask): Place {
		return record.#place;
	}

	/** Record which queue of its container holds the record. */
	static setPlace(record: StoredTask, place: Place): void {
		record.#place = place;
	}
}
