/**
 * `TaskEvents`: follow every task's changes on a container from any process — one with no actuator too (a producer,
 * a web server) — and await a task's final record (`waitFor`). One loop reads the container's change log
 * (`readChanges`) from its cursor, so a follower whose connection breaks resumes where it was and loses nothing
 * within the retention window; a loss beyond it is reported (`gap`), never skipped silently.
 */
import { EventEmitter } from 'eventemitter3';
import type { TaskContainer } from './contracts.js';
import { ContainerError, SchedulerClosedError, toError } from './errors.js';
import { isFinalChange, type TaskChange } from './task-change.js';
import type { TaskRecord } from './task.js';
import { Waiter, type WaitForOptions } from './wait-for.js';

/** What `new TaskEvents` takes. */
export interface TaskEventsOptions {
	/**
	 * Where to start: `'now'` (the default: changes made once `ready()` resolves), or a cursor an earlier follower
	 * handed out (`cursor`, a change's `cursor`) to resume after it.
	 */
	readonly from?: string;
	/** The most changes one read takes. @default 500 */
	readonly batchSize?: number;
	/** How long one read waits for a change before it reads again (also the follower's heartbeat). @default 2000 */
	readonly waitMs?: number;
}

/** The `gap` event: changes after `after` may be lost (older than the retention window); following went on at `next`. */
export interface TaskChangeGap {
	/** The cursor read after. */
	readonly after: string;
	/** Where following went on. */
	readonly next: string;
}

/** The events of `TaskEvents`, each with one payload. */
export interface TaskEventsEvents {
	/** A task changed. */
	change: [change: TaskChange];
	/** Changes may have been lost (the follower was away longer than the retention window). */
	gap: [gap: TaskChangeGap];
	/** A read failed (the container is down); the follower retries from its cursor. */
	error: [error: Error];
}

const MAX_RETRY_MS = 2_000;

/** Follows every task's changes on one container. */
export class TaskEvents extends EventEmitter<TaskEventsEvents> implements AsyncIterable<TaskChange> {
	readonly #container: TaskContainer;
	readonly #read: NonNullable<TaskContainer['readChanges']>;
	readonly #batchSize: number;
	readonly #waitMs: number;
	readonly #abort = new AbortController();
	#cursor: string | null;
	#closed = false;
	readonly #ready: Promise<void>;
	#markReady!: () => void;
	#isReady = false;
	readonly #waiters = new Map<string, Set<Waiter>>();
	readonly #streams = new Set<(change: TaskChange | null) => void>();
	readonly #loop: Promise<void>;

	constructor(container: TaskContainer, options: TaskEventsOptions = {}) {
		super();
		if (typeof container?.readChanges !== 'function') {
			throw new ContainerError(
				`This container (${container?.constructor?.name ?? typeof container}) has no \`readChanges()\`: it records no task changes`,
			);
		}
		this.#container = container;
		this.#read = container.readChanges.bind(container);
		const from = options.from ?? 'now';
		if (typeof from !== 'string' || from === '') {
			throw new TypeError(`Expected \`from\` to be 'now' or a cursor, got ${String(from)}`);
		}
		this.#cursor = from === 'now' ? null : from;
		this.#batchSize = positive('batchSize', options.batchSize ?? 500);
		this.#waitMs = positive('waitMs', options.waitMs ?? 2_000);
		this.#ready = new Promise((resolve) => (this.#markReady = resolve));
		this.#loop = this.#run();
	}

	/** The cursor of the last change delivered (or where following started): pass it as `from` to resume after it. */
	get cursor(): string | null {
		return this.#cursor;
	}

	/** Resolves once the follower follows: every change made from then on is delivered. */
	ready(): Promise<void> {
		return this.#ready;
	}

	/**
	 * The final record of task `id` (`succeeded`, `failed` or `stopped`): at once when it already is final, else as
	 * soon as it becomes so. Rejects with `WaitTimeoutError` after `timeoutMs` (60 s), with `SchedulerClosedError`
	 * when the follower closes, and with `TaskNotFoundError` when the task finished and was deleted before it
	 * could be read. A task that does not exist yet is waited for.
	 */
	waitFor<TItem = unknown, TOutput = unknown>(
		id: string,
		options: WaitForOptions = {},
	): Promise<TaskRecord<TItem, TOutput>> {
		if (this.#closed) return Promise.reject(new SchedulerClosedError('task follower'));
		const waiter = new Waiter(this.#container, id, options, (w) => {
			const set = this.#waiters.get(w.id);
			set?.delete(w);
			if (set?.size === 0) this.#waiters.delete(w.id);
		});
		if (!waiter.settled) {
			let set = this.#waiters.get(id);
			if (set === undefined) this.#waiters.set(id, (set = new Set()));
			set.add(waiter);
			// Slow re-reads at once, in case the follower cannot start (its reads fail); the full start once it follows.
			waiter.start(false);
			void this.#ready.then(() => waiter.start());
		}
		return waiter.promise as Promise<TaskRecord<TItem, TOutput>>;
	}

	/** Resolves once every `waitFor` call pending now on one of `ids` has settled (at once when none is). */
	settled(ids: readonly string[]): Promise<void> {
		const pending: Promise<unknown>[] = [];
		for (const id of ids) for (const waiter of this.#waiters.get(id) ?? []) pending.push(waiter.promise);
		if (pending.length === 0) return Promise.resolve();
		return Promise.allSettled(pending).then(() => undefined);
	}

	/** How many `waitFor` calls are pending. */
	get waiting(): number {
		let n = 0;
		for (const set of this.#waiters.values()) n += set.size;
		return n;
	}

	/** Every change from now on, in order (buffered without bound); ends at `close()`. */
	[Symbol.asyncIterator](): AsyncIterator<TaskChange> {
		const buffer: TaskChange[] = [];
		let ended = this.#closed;
		let wake: (() => void) | null = null;
		const push = (change: TaskChange | null): void => {
			if (change === null) ended = true;
			else buffer.push(change);
			wake?.();
		};
		this.#streams.add(push);
		return {
			next: async (): Promise<IteratorResult<TaskChange>> => {
				while (buffer.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
				wake = null;
				const change = buffer.shift();
				if (change === undefined) {
					this.#streams.delete(push);
					return { done: true, value: undefined };
				}
				return { done: false, value: change };
			},
			return: async (): Promise<IteratorResult<TaskChange>> => {
				this.#streams.delete(push);
				ended = true;
				return { done: true, value: undefined };
			},
		};
	}

	/** Stop following: pending `waitFor` calls reject with `SchedulerClosedError`, iterators end. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return this.#loop;
		this.#closed = true;
		this.#abort.abort();
		for (const set of [...this.#waiters.values()]) {
			for (const waiter of [...set]) waiter.fail(new SchedulerClosedError('task follower'));
		}
		for (const push of this.#streams) push(null);
		this.#streams.clear();
		await this.#loop;
	}

	async #run(): Promise<void> {
		let retryMs = 100;
		while (!this.#closed) {
			try {
				const after = this.#cursor;
				const page = await this.#read({
					after,
					limit: this.#batchSize,
					waitMs: after === null || !this.#isReady ? 0 : this.#waitMs,
					signal: this.#abort.signal,
				});
				if (this.#closed) break;
				retryMs = 100;
				if (page.gap && after !== null) {
					this.emit('gap', { after, next: page.next });
					// A waited-for task may have finished in the gap: read its record again.
					for (const set of this.#waiters.values()) for (const waiter of set) void waiter.check(false);
				}
				for (const change of page.changes) this.#deliver(change);
				this.#cursor = page.next;
				if (!this.#isReady) {
					this.#isReady = true;
					this.#markReady();
				}
			} catch (error) {
				if (this.#closed) break;
				this.emit('error', toError(error));
				await this.#sleep(retryMs);
				retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
			}
		}
	}

	#deliver(change: TaskChange): void {
		this.#cursor = change.cursor;
		if (isFinalChange(change.type)) {
			const set = this.#waiters.get(change.id);
			if (set !== undefined) for (const waiter of set) void waiter.check(true, change.record);
		}
		this.emit('change', change);
		for (const push of this.#streams) push(change);
	}

	#sleep(ms: number): Promise<void> {
		const signal = this.#abort.signal;
		return new Promise((resolve) => {
			const done = (): void => {
				clearTimeout(timer);
				// The signal lives as long as this follower: a listener left on it per pause grew without bound
				// through an outage (Node warned past ten).
				signal.removeEventListener('abort', done);
				resolve();
			};
			const timer = setTimeout(done, ms);
			signal.addEventListener('abort', done, { once: true });
		});
	}
}

function positive(name: string, value: number): number {
	if (!Number.isInteger(value) || value < 1)
		throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got ${value}`);
	return value;
}
