/**
 * Adding tasks: the records built and checked (`#build`), the actuator's `init` (`#prepare`), stored through the
 * scheduler's writer, then told of (`task:added`) and the claim loop woken. Three ways in: `add` (any container, add
 * options), `addNow` (the hot path on an in-process container's synchronous face), and `release()`, the two halves
 * for tasks a caller stores in a transaction of its own (workflows' step release).
 */
import { addOrExisting, checkAddOptions, type AddOptions, type AddOutcome } from './add-existing.js';
import { ContainerError, DuplicateTaskError, SchedulerClosedError } from './errors.js';
import { createTaskRecord, generatedIdCount } from './new-task.js';
import { PartialAddError } from './partial-add-error.js';
import type { SchedulerCore } from './scheduler-core.js';
import { copyTask, type NewTask, type TaskRecord } from './task.js';
import type { TaskRelease } from './task-release.js';

/** What the adder needs of its scheduler. */
export interface TaskAdderHost {
	/** Look for work (the claim loop). */
	fill(): void;
	/** Hold claims off until the returned function is called (the claim loop's fence). */
	fence(): Promise<() => void>;
	/** A call on a part, settled by `close()` if the part never answers. */
	track<T>(promise: Promise<T>): Promise<T>;
}

export class TaskAdder<TItem, TOutput> {
	readonly #core: SchedulerCore<TItem, TOutput>;
	readonly #host: TaskAdderHost;
	/** Whether an add stores in its own call (`addNow`): a synchronous container face and no actuator `init`. */
	readonly storesNow: boolean;
	/** Records `addNow` stored that `task:added` has not told of yet. */
	#added: TaskRecord<TItem, TOutput>[] = [];
	#flushQueued = false;
	readonly #flushAddedNow = (): void => this.#flushAdded();

	constructor(core: SchedulerCore<TItem, TOutput>, host: TaskAdderHost) {
		this.#core = core;
		this.#host = host;
		this.storesNow = core.options.container.sync !== undefined && core.options.actuator.init === undefined;
	}

	/** An add on any container, with add options and a trace context: `Scheduler.add` without its span. */
	async add(
		input: NewTask<TItem> | readonly NewTask<TItem>[],
		addOptions: AddOptions | undefined,
		trace: string | null,
	): Promise<TaskRecord<TItem, TOutput> | TaskRecord<TItem, TOutput>[]> {
		if (this.#core.closed()) throw new SchedulerClosedError();
		const { options } = this.#core;
		const single = !Array.isArray(input);
		const onDuplicateKey = addOptions === undefined ? 'reject' : checkAddOptions(addOptions);
		const records = await this.#prepare(input, trace);
		const { actuator } = options;
		// A container may keep the records it is given (it sets their `seq`): the caller and listeners get copies
		// made once it has stored them. A synchronous face stores copies of its own, so there the records are
		// nobody else's once stored and are handed out as they are (unless the actuator's `init` saw them).
		let outcomes: AddOutcome[] | null = null;
		// Claims are held while an add that may take several calls runs, so `task:added` comes before any start.
		const release = onDuplicateKey === 'existing' ? await this.#host.fence() : undefined;
		let copies: TaskRecord<TItem, TOutput>[];
		try {
			if (onDuplicateKey === 'existing') {
				const store = async (some: TaskRecord[]): Promise<void> => {
					const storing = this.#core.writer.add(some);
					if (storing !== undefined) await this.#host.track(storing);
				};
				outcomes = await addOrExisting(records as TaskRecord[], store, options.container);
				copies = records.map(copyTask);
			} else {
				// No await on an in-process container's synchronous add: `task:added` comes before anything starts it.
				const storing = this.#core.writer.add(records as TaskRecord[]);
				if (storing !== undefined) await this.#host.track(storing);
				copies = storing === undefined && actuator.init === undefined ? records : records.map(copyTask);
			}
			this.#announce(copies, outcomes === null ? null : (i) => outcomes?.[i]?.kind === 'stored');
		} catch (error) {
			// Some of its tasks may be stored (a large add stopped part-way, a call unanswered): announce those known
			// stored, as any add's, and look for work, or an in-process container's stored tasks would wait for the
			// next add or finish to be claimed. The unsure ones are not announced: whether they are stored is unknown.
			if (error instanceof PartialAddError) {
				this.#announceStored(records, error.storedIds);
				this.#host.fill();
			}
			throw error;
		} finally {
			release?.();
		}
		this.#host.fill();
		const result =
			outcomes === null
				? copies
				: outcomes.map((outcome, i) =>
						outcome.kind === 'stored'
							? copies[i]
							: outcome.kind === 'existing'
								? (outcome.task as TaskRecord<TItem, TOutput>)
								: copies[outcome.index],
					);
		return single ? (result[0] as TaskRecord<TItem, TOutput>) : (result as TaskRecord<TItem, TOutput>[]);
	}

	/**
	 * The hot path of `add` on an in-process container's synchronous face, with no actuator `init` and no options:
	 * the records are built and stored in this call, with no promise awaited, so nothing of the add outlives it but
	 * the stored records and the settled promise returned (an add of a task per call otherwise kept an async frame
	 * and two promises per task alive until the microtasks ran, most of the garbage collector's work). The caller
	 * gets its own records, as on the general path. `task:added` and the claim still come later, together, once per
	 * tick (`#flushAdded`), so both still follow `add()`'s return and no task starts before it was announced.
	 */
	addNow(
		input: NewTask<TItem> | readonly NewTask<TItem>[],
	): Promise<TaskRecord<TItem, TOutput> | TaskRecord<TItem, TOutput>[]> {
		try {
			if (this.#core.closed()) throw new SchedulerClosedError();
			const generatedBefore = generatedIdCount();
			const records = this.#build(input, null);
			// Fresh: the scheduler generated every id of this add (none given), so none can be stored yet.
			this.#core.writer.add(records as TaskRecord[], generatedIdCount() - generatedBefore === records.length);
			if (!this.#flushQueued) {
				this.#flushQueued = true;
				queueMicrotask(this.#flushAddedNow);
			}
			if (this.#core.reporter.listening('task:added')) {
				const pending = this.#added;
				for (let i = 0; i < records.length; i++) pending.push(records[i] as TaskRecord<TItem, TOutput>);
			}
			return Promise.resolve(Array.isArray(input) ? records : (records[0] as TaskRecord<TItem, TOutput>));
		} catch (error) {
			return Promise.reject(error);
		}
	}

	/** Announce the records `#addNow` stored (`task:added`, in the order stored), then look for work once. */
	#flushAdded(): void {
		this.#flushQueued = false;
		this.announceAdded();
		this.#host.fill();
	}

	/** `task:added` for the records `#addNow` stored, in the order stored; whether there were any. */
	announceAdded(): boolean {
		const pending = this.#added;
		if (pending.length === 0) return false;
		this.#added = [];
		this.#announce(pending, null);
		return true;
	}

	/**
	 * The first half of an add: the records built from the new tasks (defaults, validation, one id once, the
	 * retention check, the actuator's `init`), nothing stored. All or nothing: the first bad task throws. A single
	 * task (not an array) is named `task` in errors, the tasks of an array `tasks[i]`.
	 */
	async #prepare(
		input: NewTask<TItem> | readonly NewTask<TItem>[],
		trace: string | null,
	): Promise<TaskRecord<TItem, TOutput>[]> {
		if (this.#core.closed()) throw new SchedulerClosedError();
		const records = this.#build(input, trace);
		const { actuator } = this.#core.options;
		if (actuator.init) for (const record of records) await actuator.init(record);
		return records;
	}

	/** `#prepare` up to the actuator's `init`: the records built and checked, synchronously. */
	#build(input: NewTask<TItem> | readonly NewTask<TItem>[], trace: string | null): TaskRecord<TItem, TOutput>[] {
		const now = Date.now();
		const { options } = this.#core;
		const single = !Array.isArray(input);
		const records = (
			single
				? [createTaskRecord(input as NewTask<TItem>, 'task', options, now, trace)]
				: (input as readonly NewTask<TItem>[]).map((task, index) =>
						createTaskRecord(task, `tasks[${index}]`, options, now, trace),
					)
		) as TaskRecord<TItem, TOutput>[];
		if (!single) {
			const ids = new Set<string>();
			for (const record of records) {
				if (ids.has(record.id)) throw new DuplicateTaskError(record.id, 'appears twice in one add');
				ids.add(record.id);
			}
		}
		if (typeof options.container.clean !== 'function' && records.some((record) => record.retention !== null)) {
			throw new ContainerError(
				`This container (${options.container.constructor.name}) has no \`clean()\`: it cannot delete tasks by their own \`retention\` rule`,
			);
		}
		return records;
	}

	/**
	 * The second half of an add, once the records are stored: `task:added` for each of `copies` (the caller's copies
	 * of the stored records; of those `stored` says were, when given). The caller wakes the claim loop.
	 */
	#announce(copies: readonly TaskRecord<TItem, TOutput>[], stored: ((index: number) => boolean) | null): void {
		if (this.#core.reporter.listening('task:added'))
			copies.forEach((task, i) => {
				if (stored === null || stored(i)) this.#core.reporter.emit('task:added', { task });
			});
	}

	/** `task:added` (with copies) for the records of a partial add whose ids the container reported stored. */
	#announceStored(records: readonly TaskRecord<TItem, TOutput>[], storedIds: readonly string[]): void {
		if (storedIds.length === 0 || !this.#core.reporter.listening('task:added')) return;
		const stored = new Set(storedIds);
		this.#announce(records.filter((task) => stored.has(task.id)).map(copyTask), null);
	}

	/** The two halves of `add`, for tasks a caller stores in a transaction of its own (see `TaskRelease`). */
	release(): TaskRelease {
		return {
			container: this.#core.options.container,
			retention: this.#core.options.retention,
			prepare: (tasks) => this.#prepare(tasks as readonly NewTask<TItem>[], null) as Promise<TaskRecord[]>,
			announce: (stored) => {
				this.#announce((stored as readonly TaskRecord<TItem, TOutput>[]).map(copyTask), null);
				if (!this.#core.closed()) this.#host.fill();
			},
		};
	}
}
