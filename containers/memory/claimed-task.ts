/**
 * What the memory containers' synchronous `claim` hands the scheduler: a plain-data copy of the stored record
 * (every field an own enumerable property, in the order of `TaskRecord`, so it survives a spread and
 * `JSON.stringify`), which remembers in a private field the stored record it was made from. Given back to the
 * synchronous `transition`, that link saves the look-up by id on the hot path, and the transition brings the copy
 * up to date and returns it: the scheduler hands it to listeners without copying again. The container never keeps
 * a reference to a claimed record, so nothing done to one reaches stored state.
 */
import type { TaskError, TaskRecord, TaskRetention, TaskStatus } from 'lightsched/kit';
import type { StoredTask } from './stored-task.js';

export class ClaimedTask<TItem = unknown, TOutput = unknown> implements TaskRecord<TItem, TOutput> {
	id: string;
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
	key: string | null;
	trace: string | null;
	group: string | null;
	retention: TaskRetention | null;
	readonly #stored: StoredTask;
	/** The container that claimed it: another container's transition ignores the link. */
	readonly #by: object;

	constructor(stored: StoredTask, by: object) {
		const rec = stored as unknown as StoredTask<TItem, TOutput>;
		this.id = rec.id;
		this.item = rec.item;
		this.priority = rec.priority;
		this.status = rec.status;
		this.attempts = rec.attempts;
		this.maxAttempts = rec.maxAttempts;
		this.timeoutMs = rec.timeoutMs;
		this.seq = rec.seq;
		this.createdAt = rec.createdAt;
		this.updatedAt = rec.updatedAt;
		this.startedAt = rec.startedAt;
		this.finishedAt = rec.finishedAt;
		this.runAt = rec.runAt;
		this.error = rec.error;
		this.output = rec.output;
		this.progress = rec.progress;
		this.ref = rec.ref;
		this.owner = rec.owner;
		this.leaseUntil = rec.leaseUntil;
		this.stopRequested = rec.stopRequested;
		this.key = rec.key;
		this.trace = rec.trace;
		this.group = rec.group;
		this.retention = rec.retention;
		this.#stored = stored;
		this.#by = by;
	}

	/**
	 * The stored record `claimed` was copied from, when container `by` claimed it (maybe no longer stored: the
	 * container checks); `undefined` for a record another container claimed.
	 */
	static storedOf(claimed: ClaimedTask, by: object): StoredTask | undefined {
		return claimed.#by === by ? claimed.#stored : undefined;
	}

	/** Write the stored record's fields onto `claimed` again (every one: an actuator may have changed the copy). */
	static refresh(claimed: ClaimedTask, stored: StoredTask): void {
		claimed.id = stored.id;
		claimed.item = stored.item;
		claimed.priority = stored.priority;
		claimed.status = stored.status;
		claimed.attempts = stored.attempts;
		claimed.maxAttempts = stored.maxAttempts;
		claimed.timeoutMs = stored.timeoutMs;
		claimed.seq = stored.seq;
		claimed.createdAt = stored.createdAt;
		claimed.updatedAt = stored.updatedAt;
		claimed.startedAt = stored.startedAt;
		claimed.finishedAt = stored.finishedAt;
		claimed.runAt = stored.runAt;
		claimed.error = stored.error;
		claimed.output = stored.output;
		claimed.progress = stored.progress;
		claimed.ref = stored.ref;
		claimed.owner = stored.owner;
		claimed.leaseUntil = stored.leaseUntil;
		claimed.stopRequested = stored.stopRequested;
		claimed.key = stored.key;
		claimed.trace = stored.trace;
		claimed.group = stored.group;
		claimed.retention = stored.retention;
	}
}
