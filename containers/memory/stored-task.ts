/**
 * The record the memory containers store: the fields of a `TaskRecord`, and one private field that says which of
 * the container's structures holds it (its place). Keeping that on the record itself, not in a wrapper, saves an
 * object and a look-up per task on the hot path; being private, it is never copied nor serialised.
 *
 * The four fields most tasks leave `null` (`key`, `trace`, `group`, `retention`) live in a side object, read
 * through accessors, which holds the place too; a record whose four are all `null` holds just its place there.
 * One pointer per waiting task instead of five (the bound on heap per waiting task, docs/benchmarks.md). So a
 * stored record is not plain data (a spread or `JSON.stringify` would lose those four): it never leaves its
 * container. Everything handed out is a copy, `copyTask` or `ClaimedTask`.
 *
 * A class, not an object literal, also for speed: V8 pretenures a literal whose objects are mostly kept (as task
 * records are) into the old generation, and every later write of a young value into one pays the write barrier.
 * The container makes one at `add` from the record it is handed (`new StoredTask(record)`): the core's task
 * factory (`createTaskRecord`) knows nothing of this class.
 */
import type { TaskError, TaskPatch, TaskRecord, TaskRetention, TaskStatus } from 'lightsched/kit';

/**
 * Where a record is: stored but in no queue, in the due queue, among the delayed, or no longer stored (replaced
 * by a re-run, removed or forgotten).
 */
export type Place = 'none' | 'queue' | 'delayed' | 'gone';

/** The fields most tasks leave `null`, kept apart with the record's place (see above). */
interface RareFields {
	readonly key: string | null;
	readonly trace: string | null;
	readonly group: string | null;
	readonly retention: TaskRetention | null;
	place: Place;
}

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
	/** The place alone when `key`, `trace`, `group` and `retention` are all `null`; else those four and the place. */
	#meta: Place | RareFields;

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
		const { key, trace, group, retention } = record;
		this.#meta =
			key === null && trace === null && group === null && retention === null
				? 'none'
				: { key, trace, group, retention, place: 'none' };
	}

	get key(): string | null {
		const meta = this.#meta;
		return typeof meta === 'string' ? null : meta.key;
	}

	get trace(): string | null {
		const meta = this.#meta;
		return typeof meta === 'string' ? null : meta.trace;
	}

	get group(): string | null {
		const meta = this.#meta;
		return typeof meta === 'string' ? null : meta.group;
	}

	get retention(): TaskRetention | null {
		const meta = this.#meta;
		return typeof meta === 'string' ? null : meta.retention;
	}

	/** Which queue of its container holds the record (read by the memory containers). */
	static placeOf(record: StoredTask): Place {
		const meta = record.#meta;
		return typeof meta === 'string' ? meta : meta.place;
	}

	/** Record which queue of its container holds the record. */
	static setPlace(record: StoredTask, place: Place): void {
		const meta = record.#meta;
		if (typeof meta === 'string') record.#meta = place;
		else meta.place = place;
	}
}

/**
 * Write a transition's patch onto a stored record, as `Object.assign` would (every field the patch has, `undefined`
 * included): one named write per field, which V8 runs about twice as fast as `Object.assign` onto a record of this
 * many fields (a finish writes five). test/containers/record-fields.test.ts sets every patchable field on every
 * container and reads it back, so a field missing here fails there.
 */
export function applyPatch(rec: StoredTask, patch: TaskPatch): void {
	if ('output' in patch) rec.output = patch.output;
	if ('error' in patch) rec.error = patch.error as TaskError | null;
	if ('finishedAt' in patch) rec.finishedAt = patch.finishedAt as number | null;
	if ('owner' in patch) rec.owner = patch.owner as string | null;
	if ('leaseUntil' in patch) rec.leaseUntil = patch.leaseUntil as number | null;
	if ('attempts' in patch) rec.attempts = patch.attempts as number;
	if ('startedAt' in patch) rec.startedAt = patch.startedAt as number | null;
	if ('runAt' in patch) rec.runAt = patch.runAt as number;
	if ('progress' in patch) rec.progress = patch.progress;
	if ('ref' in patch) rec.ref = patch.ref;
	if ('stopRequested' in patch) rec.stopRequested = patch.stopRequested as boolean;
}
