/**
 * The record the memory containers store: a plain-data `TaskRecord` (every field an own enumerable property, in
 * the order of the interface; copy it with `copyTask`, which V8 runs far faster than a spread of an object with a
 * private field), plus one private field that says which of the container's structures holds it. Keeping that on
 * the record itself, not in a wrapper, saves an object and a look-up per task on the hot path; being private, it
 * is never copied nor serialised.
 *
 * A class, not an object literal, also for speed: V8 pretenures a literal whose objects are mostly kept (as task
 * records are) into the old generation, and every later write of a young value into one pays the write barrier.
 * The container makes one at `add` from the record it is handed (`new StoredTask(record)`): the core's task
 * factory (`createTaskRecord`) knows nothing of this class.
 */
import type { TaskError, TaskRecord, TaskRetention, TaskStatus } from 'lightsched/kit';

/**
 * Where a record is: stored but in no queue, in the due queue, among the delayed, or no longer stored (replaced
 * by a re-run, removed or forgotten).
 */
export type Place = 'none' | 'queue' | 'delayed' | 'gone';

export class StoredTask<TItem = unknown, TOutput = unknown> implements TaskRecord<TItem, TOutput> {
	readonly id: string;
	item: TItem;
	priority: number;
	status: TaskStatus;
	attempts: number;
	maxAttempts: number;
	timeoutMs: number | null;
	seq: number;
	createdAt: number;
	updatedAt: number;
	startedAt: number | null;
	finishedAt: number | null;
	runAt: number;
	error: TaskError | null;
	output: TOutput | null;
	progress: unknown;
	ref: unknown;
	owner: string | null;
	leaseUntil: number | null;
	stopRequested: boolean;
	readonly key: string | null;
	readonly trace: string | null;
	readonly group: string | null;
	readonly retention: TaskRetention | null;
	#place: Place = 'none';

	/** A stored copy of `record` (every field, written out: no two containers ever share a stored record). */
	constructor(record: Readonly<TaskRecord<TItem, TOutput>>) {
		this.id = record.id;
		this.item = record.item;
		this.priority = record.priority;
		this.status = record.status;
		this.attempts = record.attempts;
		this.maxAttempts = record.maxAttempts;
		this.timeoutMs = record.timeoutMs;
		this.seq = record.seq;
		this.createdAt = record.createdAt;
		this.updatedAt = record.updatedAt;
		this.startedAt = record.startedAt;
		this.finishedAt = record.finishedAt;
		this.runAt = record.runAt;
		this.error = record.error;
		this.output = record.output;
		this.progress = record.progress;
		this.ref = record.ref;
		this.owner = record.owner;
		this.leaseUntil = record.leaseUntil;
		this.stopRequested = record.stopRequested;
		this.key = record.key;
		this.trace = record.trace;
		this.group = record.group;
		this.retention = record.retention;
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
