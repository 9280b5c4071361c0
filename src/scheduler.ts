/**
 * The scheduler loop: claims due tasks from the container up to the concurrency limit, hands them to the
 * actuator, enforces timeouts, retries through the container, persists outputs and reports every change.
 * Event-driven: adds and finishes wake it at once, timers wake it for due retries, timeouts and leases;
 * it polls only what cannot push.
 */
import { EventEmitter } from 'eventemitter3';
import { Attempt, type AttemptHost, type AttemptOutcome } from './attempt.js';
import type { ActuatorContext, ActuatorResult, ContainerSignal, Persistencer, SyncContainerOperations, TaskActuator } from './contracts.js';
import { LeaseKeeper } from './lease-keeper.js';
import { sameProgress, writeProgress } from './progress-writer.js';
import { Reporter } from './reporter.js';
import { RunningAttempts } from './running-attempts.js';
import { OutcomeWriter, successPatch } from './outcome-writer.js';
import { StatusPoller } from './status-poller.js';
import { WakeTimers } from './wake-timers.js';
import {
	InvalidStateError,
	SchedulerClosedError,
	TaskNotFoundError,
	TaskStoppedError,
	TaskTimeoutError,
	toError,
	DuplicateTaskError,
} from './errors.js';
import type { SchedulerEvents } from './events.js';
import { createTaskRecord } from './new-task.js';
import { checkDuration, resolveOptions, type ResolvedSchedulerOptions, type SchedulerOptions } from './options.js';
import { copyTask, isFinalStatus, type NewTask, type TaskCounts, type TaskPage, type TaskQuery, type TaskRecord } from './task.js';

export interface CloseOptions {
	/**
	 * Let running work finish (no new work is claimed). Otherwise running work is stopped and its tasks go
	 * back to waiting, without counting the interrupted attempt.
	 * @default false
	 */
	readonly drain?: boolean;
	/** With `drain`: how long to wait before stopping what still runs, in milliseconds. No limit when absent. */
	readonly timeoutMs?: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class Scheduler<TItem = unknown, TOutput = unknown> extends EventEmitter<SchedulerEvents<TItem, TOutput>> {
	/** This scheduler's owner name in the container. */
	readonly id: string;
	readonly #o: ResolvedSchedulerOptions<TItem, TOutput>;
	readonly #attempts: RunningAttempts;
	readonly #r: Reporter<TItem, TOutput>;
	#idleWaiters: (() => void)[] = [];
	#emptyWaiters: (() => void)[] = [];
	#claiming = false;
	#refill = false;
	#paused: boolean;
	#closed = false;
	#closing: Promise<void> | null = null;
	readonly #timers: WakeTimers;
	#idleTimer: ReturnType<typeof setTimeout> | undefined;
	readonly #poller: StatusPoller;
	readonly #leases: LeaseKeeper | undefined;
	#channelUp: boolean;
	#unwatch: (() => void) | undefined;
	readonly #host: AttemptHost;
	readonly #writer: OutcomeWriter;

	constructor(options: SchedulerOptions<TItem, TOutput>) {
		super();
		this.#o = resolveOptions(options);
		this.id = this.#o.id;
		this.#attempts = new RunningAttempts(this.#o.container.shared);
		this.#r = new Reporter<TItem, TOutput>(this, this.#o.callback);
		this.#timers = new WakeTimers(() => this.#fill(), this.#o.pollIntervalMs);
		this.#host = {
			owner: this.id,
			progress: (attempt, progress) => this.#onProgress(attempt, progress),
			done: (attempt, result) => this.#onDone(attempt, result as ActuatorResult<TOutput>),
		};
		this.#paused = !this.#o.autoStart;
		this.#writer = new OutcomeWriter({
			container: this.#o.container,
			actuator: this.#o.actuator as TaskActuator,
			persistencer: this.#o.persistencer as Persistencer | undefined,
			backoff: this.#o.backoff,
			owner: this.id,
			report: (error, context) => this.#r.error(error, context),
			closing: () => this.#closed,
		});
		const { container } = this.#o;
		// An in-process container is driven by this scheduler's own adds and finishes; only shared ones need a channel.
		this.#channelUp = typeof container.watch === 'function';
		if (container.shared && container.watch) this.#unwatch = container.watch((signal) => this.#onSignal(signal));
		this.#poller = new StatusPoller(this.#o.actuator as TaskActuator, this.#o.pollIntervalMs, {
			attempts: () => this.#attempts.values(),
			progress: (attempt, progress) => this.#onProgress(attempt, progress),
			done: (attempt, result) => this.#onDone(attempt, result as ActuatorResult<TOutput>),
			report: (error, context) => this.#r.error(error, context),
		});
		if (container.shared) {
			const settle = (id: string, kind: 'lost' | 'stopped'): void => {
				const attempt = this.#attempts.get(id);
				if (attempt) this.#settle(attempt, { kind });
			};
			this.#leases = new LeaseKeeper(container, this.id, this.#o.leaseMs, {
				runningIds: () => this.#attempts.values().filter((a) => !a.settled).map((a) => a.task.id),
				lost: (id) => settle(id, 'lost'),
				stopRequested: (id) => settle(id, 'stopped'),
				reclaimed: (tasks) => this.#onReclaimed(tasks as TaskRecord<TItem, TOutput>[]),
				report: (error, context) => this.#r.error(error, context),
			});
			this.#leases.start();
		}
		if (!this.#paused) queueMicrotask(() => this.#fill());
	}

	/** Tasks this scheduler is running right now. */
	get running(): number {
		return this.#attempts.size;
	}

	get isPaused(): boolean {
		return this.#paused;
	}

	get isClosed(): boolean {
		return this.#closed;
	}

	/**
	 * Add one task or several (all or nothing). Validates every task first and calls the actuator's `init`;
	 * a bad task rejects the whole add with an error naming the field, and nothing is stored.
	 */
	add(task: NewTask<TItem>): Promise<TaskRecord<TItem, TOutput>>;
	add(tasks: readonly NewTask<TItem>[]): Promise<TaskRecord<TItem, TOutput>[]>;
	async add(
		input: NewTask<TItem> | readonly NewTask<TItem>[],
	): Promise<TaskRecord<TItem, TOutput> | TaskRecord<TItem, TOutput>[]> {
		if (this.#closed) throw new SchedulerClosedError();
		const now = Date.now();
		const { actuator } = this.#o;
		if (!Array.isArray(input)) {
			const record = createTaskRecord(input as NewTask<TItem>, 'task', this.#o, now) as TaskRecord<TItem, TOutput>;
			if (actuator.init) await actuator.init(record);
			// The container keeps the records it is given: the caller and listeners get copies.
			const copy = copyTask(record);
			const storing = this.#store([record], copy);
			if (storing !== undefined) await storing;
			return copy;
		}
		const records = (input as readonly NewTask<TItem>[]).map((task, index) =>
			createTaskRecord(task, `tasks[${index}]`, this.#o, now),
		) as TaskRecord<TItem, TOutput>[];
		const ids = new Set<string>();
		for (const record of records) {
			if (ids.has(record.id)) throw new DuplicateTaskError(record.id, 'appears twice in one add');
			ids.add(record.id);
		}
		if (actuator.init) for (const record of records) await actuator.init(record);
		const copies = records.map(copyTask);
		const storing = this.#store(records, copies);
		if (storing !== undefined) await storing;
		return copies;
	}

	/** Hand validated records to the container, tell `task:added` listeners (with the copies) and look for work. */
	#store(records: TaskRecord<TItem, TOutput>[], copies: TaskRecord<TItem, TOutput> | readonly TaskRecord<TItem, TOutput>[]): Promise<void> | void {
		const { container } = this.#o;
		if (container.sync) {
			container.sync.add(records as TaskRecord[]);
			this.#added(copies);
			return;
		}
		return container.add(records as TaskRecord[]).then(() => this.#added(copies));
	}

	#added(copies: TaskRecord<TItem, TOutput> | readonly TaskRecord<TItem, TOutput>[]): void {
		if (this.#r.listening('task:added')) {
			if (Array.isArray(copies)) for (const task of copies as readonly TaskRecord<TItem, TOutput>[]) this.#r.emit('task:added', { task });
			else this.#r.emit('task:added', { task: copies as TaskRecord<TItem, TOutput> });
		}
		this.#fill();
	}

	/**
	 * Stop a task in any state. A waiting task becomes `stopped`; a running one is stopped through the actuator
	 * (its signal aborts) and then becomes `stopped`. A task run by another scheduler sharing the container is
	 * asked to stop (its owner stops it); the returned record then still says `running`, with `stopRequested`.
	 * A finished task is returned unchanged. An unknown id rejects with `TaskNotFoundError`.
	 */
	async stop(id: string): Promise<TaskRecord<TItem, TOutput>> {
		for (let round = 0; round < 10; round++) {
			const local = this.#attempts.get(id);
			if (local !== undefined) {
				if (!local.settled) this.#settle(local, { kind: 'stopped' });
				await local.finishing;
				if (local.outcome?.kind === 'stopped') return (await this.#getOrThrow(id));
				continue;
			}
			const task = await this.#getOrThrow(id);
			if (isFinalStatus(task.status)) return task;
			if (task.status === 'waiting') {
				const stopped = await this.#o.container.transition(id, 'waiting', 'stopped', {
					finishedAt: Date.now(),
				});
				if (stopped === null) continue;
				this.#r.emit('task:stopped', { task: stopped as TaskRecord<TItem, TOutput> });
				this.#r.final(stopped as TaskRecord<TItem, TOutput>);
				return stopped as TaskRecord<TItem, TOutput>;
			}
			if (task.owner === this.id && this.#attempts.get(id) !== undefined) continue;
			const requested = await this.#o.container.requestStop(id);
			if (requested !== null) return requested as TaskRecord<TItem, TOutput>;
		}
		throw new InvalidStateError(`Task \`${id}\` kept changing state; stop it again`);
	}

	/** The task record, or `null` when no task has this id. */
	async get(id: string): Promise<TaskRecord<TItem, TOutput> | null> {
		return (await this.#o.container.get(id)) as TaskRecord<TItem, TOutput> | null;
	}

	/** A page of tasks, with the total that match. */
	async list(query: TaskQuery = {}): Promise<TaskPage<TItem, TOutput>> {
		if (query.offset !== undefined) checkDuration('offset', query.offset, 0);
		if (query.limit !== undefined) checkDuration('limit', query.limit, 0);
		return (await this.#o.container.list(query)) as TaskPage<TItem, TOutput>;
	}

	/** How many tasks are in each status. */
	counts(): Promise<TaskCounts> {
		return this.#o.container.counts();
	}

	/** Delete a finished task (and its persisted output). A task that has not finished must be stopped first. */
	async remove(id: string): Promise<boolean> {
		const removed = await this.#o.container.remove(id);
		if (removed && this.#o.persistencer?.delete) await this.#o.persistencer.delete(id);
		return removed;
	}

	/** Stop claiming new work; running work goes on. */
	pause(): void {
		this.#paused = true;
	}

	/** Claim work again after `pause()` (or when created with `autoStart: false`). */
	resume(): void {
		if (!this.#paused) return;
		this.#paused = false;
		this.#fill();
	}

	/** Resolves once nothing is waiting or running in the container. */
	onIdle(): Promise<void> {
		return new Promise((resolve) => {
			this.#idleWaiters.push(resolve);
			this.#checkIdle();
		});
	}

	/**
	 * Every task that reaches a final status from now on, in the order they finish. Buffers without limit, so
	 * none is dropped however slowly it is read; ends after `close()` once the buffer is read.
	 */
	finished(): AsyncIterableIterator<TaskRecord<TItem, TOutput>> {
		return this.#r.stream(this.#closed);
	}

	/** Stop the scheduler: no new work, running work stopped (or drained), then the parts closed. Idempotent. */
	close(options: CloseOptions = {}): Promise<void> {
		this.#closing ??= this.#close(options);
		return this.#closing;
	}

	async #close(options: CloseOptions): Promise<void> {
		if (options.timeoutMs !== undefined) checkDuration('timeoutMs', options.timeoutMs, 0);
		this.#closed = true;
		this.#timers.stop();
		if (options.drain === true && this.#attempts.size > 0) {
			await new Promise<void>((resolve) => {
				this.#emptyWaiters.push(resolve);
				if (options.timeoutMs !== undefined) setTimeout(resolve, options.timeoutMs).unref();
			});
		}
		for (const attempt of this.#attempts.values()) if (!attempt.settled) this.#settle(attempt, { kind: 'handback' });
		while (this.#attempts.size > 0) await Promise.all(this.#attempts.values().map((a) => a.finishing));
		this.#poller.stop();
		clearTimeout(this.#idleTimer);
		this.#leases?.stop();
		this.#unwatch?.();
		this.#r.endStreams();
		const { actuator, persistencer, container } = this.#o;
		for (const part of [() => actuator.close?.(), () => persistencer?.close?.(), () => container.close()]) {
			try {
				await part();
			} catch (error) {
				this.#r.error(error);
			}
		}
		for (const resolve of this.#idleWaiters.splice(0)) resolve();
	}

	// ---- the loop ------------------------------------------------------------------------------------------

	#fill(): void {
		if (this.#closed || this.#paused) return;
		if (this.#claiming) {
			this.#refill = true;
			return;
		}
		if (this.#o.container.sync) {
			this.#fillSync(this.#o.container.sync);
			return;
		}
		const free = this.#o.concurrency - this.#attempts.size;
		if (free <= 0) return;
		this.#claiming = true;
		this.#refill = false;
		const now = Date.now();
		this.#o.container.claim(free, this.id, this.#o.leaseMs, now).then(
			(claimed) => {
				this.#claiming = false;
				if (this.#closed) {
					for (const task of claimed) this.#handBackUnstarted(task);
					return;
				}
				for (const task of claimed) this.#start(task as TaskRecord<TItem, TOutput>);
				if (claimed.length === free || this.#refill) {
					this.#fill();
				} else {
					this.#planWake(now);
					if (claimed.length === 0 && this.#attempts.size === 0) this.#checkIdle();
				}
			},
			(error: unknown) => {
				this.#claiming = false;
				this.#r.error(error, 'claim failed');
				this.#timers.poll();
			},
		);
	}

	/**
	 * The same loop on an in-process container's synchronous face. Work that finishes synchronously while we
	 * start tasks asks for another round (`#refill`) instead of recursing, so a queue of sync functions never
	 * grows the stack.
	 */
	#fillSync(sync: SyncContainerOperations): void {
		this.#claiming = true;
		try {
			for (;;) {
				this.#refill = false;
				if (this.#closed || this.#paused) return;
				const free = this.#o.concurrency - this.#attempts.size;
				if (free <= 0) return;
				const now = Date.now();
				const claimed = sync.claim(free, this.id, this.#o.leaseMs, now);
				for (const task of claimed) this.#start(task as TaskRecord<TItem, TOutput>);
				if (claimed.length < free && !this.#refill) {
					this.#planWake(now);
					if (claimed.length === 0 && this.#attempts.size === 0) this.#checkIdle();
					return;
				}
			}
		} catch (error) {
			this.#r.error(error, 'claim failed');
			this.#timers.poll();
		} finally {
			this.#claiming = false;
		}
	}

	/** Sleep until the next retry is due, or poll when nothing can wake us. */
	#planWake(now: number): void {
		const { container } = this.#o;
		if (container.shared && !this.#channelUp) this.#timers.poll();
		container.nextDueAt(now).then(
			(at) => {
				if (at !== null) this.#timers.at(at);
			},
			(error: unknown) => this.#r.error(error, 'nextDueAt failed'),
		);
	}

	#onSignal(signal: ContainerSignal): void {
		if (signal.type === 'wake') this.#fill();
		else if (signal.type === 'stop') {
			const attempt = this.#attempts.get(signal.id);
			if (attempt !== undefined && !attempt.settled) this.#settle(attempt, { kind: 'stopped' });
		} else {
			this.#channelUp = signal.ok;
			if (!signal.ok) {
				if (signal.error) this.#r.error(signal.error, 'wake-up channel down, polling');
				this.#timers.poll();
			} else this.#fill();
		}
	}

	#start(task: TaskRecord<TItem, TOutput>): void {
		// A task we already run comes back only after its lease was reclaimed, so with at least its second claim
		// (claims count attempts): a first attempt needs no look-up, which walks the list on in-process containers.
		const running = task.attempts > 1 || this.#o.container.shared ? this.#attempts.get(task.id) : undefined;
		if (running !== undefined) {
			// Our lease lapsed (a stalled store), the task was reclaimed, and we claimed it again while its first
			// attempt still runs here. We own it either way: keep the one attempt, with the new claim's numbers.
			running.task.attempts = task.attempts;
			running.task.leaseUntil = task.leaseUntil;
			return;
		}
		const attempt = new Attempt(task as TaskRecord, this.#host);
		this.#attempts.add(attempt);
		this.#leases?.renewing();
		const timeoutMs = task.timeoutMs ?? this.#o.timeoutMs;
		if (timeoutMs > 0) {
			attempt.timer = setTimeout(() => {
				const error = new TaskTimeoutError(timeoutMs);
				this.#settle(attempt, { kind: 'failed', error, stopWork: true });
			}, timeoutMs);
		}
		// On an in-process container `task` is the stored record itself: listeners get a copy.
		if (this.#r.listening('task:started')) {
			this.#r.emit('task:started', { task: copyTask(task) });
			// A listener stopped it (or closed the scheduler) synchronously: the work must not start at all, or an
			// actuator's `stop` would run before its `start` and find nothing to stop.
			if (attempt.settled) return;
		}
		let started: unknown;
		try {
			started = this.#o.actuator.start(task, attempt as ActuatorContext<TOutput>);
		} catch (error) {
			this.#settle(attempt, { kind: 'failed', error: toError(error), stopWork: false });
			return;
		}
		if (started instanceof Promise) {
			started.then(
				(result: unknown) => this.#afterStart(attempt, result),
				(error: unknown) => this.#settle(attempt, { kind: 'failed', error: toError(error), stopWork: false }),
			);
		} else this.#afterStart(attempt, started);
	}

	#afterStart(attempt: Attempt, started: unknown): void {
		const ref = (started as { ref?: unknown } | undefined)?.ref;
		if (ref !== undefined) {
			attempt.ref = ref;
			attempt.task.ref = ref;
			if (!attempt.settled) {
				this.#o.container
					.transition(attempt.task.id, 'running', 'running', { ref }, this.id)
					.catch((error: unknown) => this.#r.error(error, 'storing ref failed'));
			}
		}
		if (!attempt.settled) this.#poller.schedule();
	}

	#onDone(attempt: Attempt, result: ActuatorResult<TOutput>): void {
		if (attempt.settled) return;
		if (result.ok) {
			const hasOutput = 'output' in result && result.output !== undefined;
			this.#settle(attempt, { kind: 'succeeded', hasOutput, output: hasOutput ? result.output : undefined });
		} else {
			this.#settle(attempt, { kind: 'failed', error: toError(result.error), stopWork: false });
		}
	}

	#onProgress(attempt: Attempt, progress: unknown): void {
		if (attempt.settled || sameProgress(attempt.task.progress, progress)) return;
		attempt.task.progress = progress;
		if (this.#r.listening('task:progress')) this.#r.emit('task:progress', { task: copyTask(attempt.task) as TaskRecord<TItem, TOutput>, progress });
		writeProgress(attempt, this.#o.container, this.id, (error, context) => this.#r.error(error, context));
	}

	/** Give an attempt its one outcome and store it; frees the slot once stored. */
	#settle(attempt: Attempt, outcome: AttemptOutcome): void {
		if (attempt.settled) return;
		attempt.outcome = outcome;
		clearTimeout(attempt.timer);
		if (outcome.kind !== 'succeeded') {
			const reason =
				outcome.kind === 'failed'
					? outcome.error
					: new TaskStoppedError(attempt.task.id, outcome.kind === 'handback' ? 'handed back (scheduler closing)' : outcome.kind === 'lost' ? 'taken over (lease lost)' : 'stopped');
			attempt.abort(reason);
		}
		if (outcome.kind === 'succeeded' && this.#finishSync(attempt, outcome)) return;
		attempt.finishing = this.#finish(attempt, outcome);
	}

	/**
	 * The hot path: a success with its output in hand, no persistencer, on an in-process container. Stored and
	 * reported without a promise. Returns false when the general path must run instead.
	 */
	#finishSync(attempt: Attempt, outcome: { readonly hasOutput: boolean; readonly output: unknown }): boolean {
		const { container, persistencer, actuator } = this.#o;
		const sync = container.sync;
		if (sync === undefined || persistencer !== undefined || (!outcome.hasOutput && actuator.output)) return false;
		const patch = successPatch(outcome.output, attempt.ref);
		let stored: Readonly<TaskRecord> | null;
		try {
			stored = sync.transition(attempt.task, 'running', 'succeeded', patch, this.id);
		} catch {
			return false;
		}
		attempt.finishing = RESOLVED;
		// The stored record itself came back: copy it only when someone will hear of it.
		if (stored !== null && this.#r.hearsSuccess()) this.#r.succeeded(copyTask(stored) as TaskRecord<TItem, TOutput>, outcome.output as TOutput);
		this.#release(attempt);
		return true;
	}

	/** Free the attempt's slot and look for more work. */
	#release(attempt: Attempt): void {
		this.#attempts.delete(attempt);
		if (this.#attempts.size === 0) {
			if (this.#emptyWaiters.length > 0) for (const resolve of this.#emptyWaiters.splice(0)) resolve();
			this.#leases?.idle();
		}
		this.#fill();
	}

	/** Store the outcome, then free the slot. Never rejects. */
	async #finish(attempt: Attempt, outcome: AttemptOutcome): Promise<void> {
		try {
			const stored = await this.#writer.write(attempt.task, attempt.ref, outcome);
			this.#r.outcome(stored);
			if (stored.kind === 'retrying' && stored.delayMs > 0) this.#timers.at(stored.task.runAt);
		} catch (error) {
			this.#r.error(error, `finishing task ${attempt.task.id} failed`);
		}
		this.#release(attempt);
	}

	#handBackUnstarted(task: TaskRecord): void {
		this.#o.container
			.transition(task.id, 'running', 'waiting', { attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null }, this.id)
			.catch((error: unknown) => this.#r.error(error, 'handing back failed'));
	}

	/** A lease sweep moved tasks: report the ones it finished, and look for work when some wait again. */
	#onReclaimed(moved: TaskRecord<TItem, TOutput>[]): void {
		if (this.#closed) return;
		let wake = false;
		for (const task of moved) {
			if (task.status === 'waiting') wake = true;
			else this.#r.reclaimed(task);
		}
		if (wake) this.#fill();
	}

	#checkIdle(): void {
		if (this.#idleWaiters.length === 0 && this.listenerCount('idle') === 0) return;
		if (this.#attempts.size > 0) return;
		this.#o.container.counts().then(
			(counts) => {
				if (this.#attempts.size > 0) return;
				if (counts.waiting + counts.running + counts.exporting > 0) {
					// On a shared container other schedulers may finish the rest, and nothing signals that here:
					// look again after a poll interval while someone waits for idle.
					if (this.#o.container.shared && this.#idleWaiters.length > 0 && this.#idleTimer === undefined && !this.#closed) {
						this.#idleTimer = setTimeout(() => {
							this.#idleTimer = undefined;
							this.#checkIdle();
						}, this.#o.pollIntervalMs);
					}
					return;
				}
				for (const resolve of this.#idleWaiters.splice(0)) resolve();
				this.#r.emit('idle');
			},
			(error: unknown) => this.#r.error(error, 'counting tasks failed'),
		);
	}

	async #getOrThrow(id: string): Promise<TaskRecord<TItem, TOutput>> {
		const task = await this.#o.container.get(id);
		if (task === null) throw new TaskNotFoundError(id);
		return task as TaskRecord<TItem, TOutput>;
	}
}
