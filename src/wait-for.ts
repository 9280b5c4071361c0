/**
 * `waitFor`: await one task's final record through a change follower. The current record is read only once the
 * follower follows, so a task that finishes meanwhile is seen either by that read or as a change; a re-read shortly
 * after (and a slow one after that) covers a container whose recording starts a moment after its follower does.
 */
import type { TaskContainer } from './contracts.js';
import { SchedulerClosedError, SchedulerError, TaskNotFoundError, toError } from './errors.js';
import { checkDuration } from './options.js';
import { isFinalStatus, type TaskRecord } from './task.js';

/** `waitFor` gave up: the task did not reach a final status within `timeoutMs`. */
export class WaitTimeoutError extends SchedulerError {
	override name = 'WaitTimeoutError';
	/** The task id. */
	readonly id: string;
	/** How long it waited, in milliseconds. */
	readonly timeoutMs: number;

	/**
	 * Whether a task with this id was ever read while waiting. `false`: none was — it was never added, or it was
	 * deleted before the wait began (removed, cleaned, or expired by its retention rule: see `NewTask.retention`),
	 * or the container could not be read (then `cause` is the last read's error).
	 */
	readonly found: boolean;

	/** `readError`: the last failed read of the task, when no read succeeded (the container was unreachable). */
	constructor(id: string, timeoutMs: number, found = true, readError?: unknown) {
		const unread = !found && readError !== undefined;
		super(
			found
				? `Task \`${id}\` did not finish within ${timeoutMs} ms`
				: unread
					? `Task \`${id}\` did not finish within ${timeoutMs} ms: the container could not be read while waiting (${toError(readError).message})`
					: `Task \`${id}\` did not finish within ${timeoutMs} ms: no task with this id was found while waiting (never added, or already deleted: removed, cleaned or expired by its retention rule)`,
			unread ? { code: 'ERR_WAIT_TIMEOUT', cause: readError } : { code: 'ERR_WAIT_TIMEOUT' },
		);
		this.id = id;
		this.timeoutMs = timeoutMs;
		this.found = found;
	}
}

/** What `waitFor` takes. */
export interface WaitForOptions {
	/** Give up after this long (rejecting with `WaitTimeoutError`). @default 60000 */
	readonly timeoutMs?: number;
	/** Aborting rejects with the signal's reason. */
	readonly signal?: AbortSignal;
}

/** The first re-read of the record after the follower started, and the slow re-reads after it. */
const FIRST_RECHECK_MS = 100;
const RECHECK_MS = 5_000;
export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;

/** One pending `waitFor`. */
export class Waiter {
	readonly id: string;
	readonly promise: Promise<TaskRecord>;
	#resolve!: (record: TaskRecord) => void;
	#reject!: (error: unknown) => void;
	#settled = false;
	/** A record of the task was read (or came with a change) while waiting. */
	#found = false;
	/** The error of the last read, while every read so far failed (the container is down). */
	#readError: unknown;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#recheck: ReturnType<typeof setTimeout> | undefined;
	readonly #container: TaskContainer;
	readonly #onSettle: (waiter: Waiter) => void;
	readonly #signal: AbortSignal | undefined;
	readonly #onAbort = (): void => this.fail(this.#signal?.reason);

	constructor(container: TaskContainer, id: string, options: WaitForOptions, onSettle: (waiter: Waiter) => void) {
		if (typeof id !== 'string' || id === '') throw new TypeError(`Expected \`id\` to be a non-empty string`);
		const timeoutMs = checkDuration('timeoutMs', options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, 0);
		this.id = id;
		this.#container = container;
		this.#onSettle = onSettle;
		this.#signal = options.signal;
		this.promise = new Promise<TaskRecord>((resolve, reject) => {
			this.#resolve = resolve;
			this.#reject = reject;
		});
		this.#timer = setTimeout(
			() => this.fail(new WaitTimeoutError(id, timeoutMs, this.#found, this.#readError)),
			timeoutMs,
		);
		if (options.signal?.aborted === true) this.fail(options.signal.reason);
		else options.signal?.addEventListener('abort', this.#onAbort, { once: true });
	}

	get settled(): boolean {
		return this.#settled;
	}

	/**
	 * The follower follows: read the record now, again shortly, then slowly until settled. Called before the
	 * follower is ready (`ready: false`, the container cannot be read yet) it only starts the slow re-reads.
	 */
	start(ready = true): void {
		if (this.#settled) return;
		clearTimeout(this.#recheck);
		if (ready) void this.check(false);
		const again = (ms: number): void => {
			this.#recheck = setTimeout(() => {
				void this.check(false);
				if (!this.#settled) again(RECHECK_MS);
			}, ms);
		};
		again(ready ? FIRST_RECHECK_MS : RECHECK_MS);
	}

	/**
	 * Read the record; settle when it is final. `ended`: a final change of the task was seen, so a record that is
	 * gone was deleted after it finished (rejects with `TaskNotFoundError`).
	 */
	async check(ended: boolean, final?: TaskRecord): Promise<void> {
		if (this.#settled) return;
		// The change carried the final record (Redis, memory): no read back.
		if (final !== undefined && isFinalStatus(final.status)) return this.#finish({ ...final });
		// A change of the task was seen: it exists (or existed) now.
		if (ended || final !== undefined) this.#found = true;
		try {
			const record = await this.#container.get(this.id);
			this.#readError = undefined;
			if (record !== null) this.#found = true;
			if (record !== null && isFinalStatus(record.status)) this.#finish(record);
			else if (record === null && ended) this.fail(new TaskNotFoundError(this.id));
		} catch (error) {
			// The container is down: the follower reports it; the next change or re-read tries again.
			this.#readError = error;
		}
	}

	fail(error: unknown): void {
		if (this.#settled) return;
		this.#end();
		this.#reject(error ?? new SchedulerClosedError('task follower'));
	}

	#finish(record: TaskRecord): void {
		if (this.#settled) return;
		this.#end();
		this.#resolve(record);
	}

	#end(): void {
		this.#settled = true;
		clearTimeout(this.#timer);
		clearTimeout(this.#recheck);
		this.#signal?.removeEventListener('abort', this.#onAbort);
		this.#onSettle(this);
	}
}
