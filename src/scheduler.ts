/**
 * The scheduler: the public face (add, stop, get, list, counts, remove, pause, resume, onIdle, finished, close)
 * over its parts. Claims due tasks up to the concurrency limit (`ClaimLoop`), runs them (`AttemptRunner`), stores
 * every change through one writer (`TaskWriter`), keeps leases on a shared container (`LeaseKeeper`) and reports
 * every change (`Reporter`). Event-driven: adds and finishes wake it at once, timers wake it for due retries,
 * timeouts and leases; it polls only what cannot push.
 */
import { EventEmitter } from 'eventemitter3';
import type { AddOptions } from './add-existing.js';
import type { AttemptRunner } from './attempt-runner.js';
import { startBackgroundPasses, type BackgroundPasses } from './background-passes.js';
import { CallsInFlight } from './calls-in-flight.js';
import { closeParts } from './close-sequence.js';
import type { ClaimLoop } from './claim-loop.js';
import type { ContainerSignal } from './contracts.js';
import { ContainerError, describeValue, SchedulerClosedError } from './errors.js';
import type { SchedulerEvents } from './events.js';
import type { IdleWatch } from './idle-watch.js';
import { loopBlockedEvent } from './loop-monitor.js';
import { checkDuration, resolveOptions, type SchedulerOptions } from './options.js';
import { cleanTasks, pauseOperation } from './queue-operations.js';
import { listRepeats, putRepeat, repeatMethod } from './repeat-commands.js';
import type { RepeatInfo, RepeatOptions } from './repeat-spec.js';
import type { CleanOptions } from './retention.js';
import { taskRelease, type TaskRelease } from './task-release.js';
import type { SchedulerCore } from './scheduler-core.js';
import { wireScheduler } from './scheduler-parts.js';
import {
	type NewTask,
	type TaskCounts,
	type TaskLogPage,
	type TaskLogQuery,
	type TaskPage,
	type TaskQuery,
	type TaskRecord,
} from './task.js';
import type { TaskAdder } from './task-adder.js';
import { stopTask } from './task-stop.js';
import { startAddSpan, traceAdd, traceParts, type TraceParts } from './tracing.js';
import type { WaitForOptions } from './wait-for.js';
import { WaitForFeed } from './wait-for-feed.js';
import type { ZeroRetentionDeleter } from './zero-retention.js';

/** What `Scheduler.close()` takes. */
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

/** Claims tasks from a container and runs them on an actuator: concurrency limit, timeouts, retries with backoff, stop from any state, leases on shared containers; every change reported through typed events, the `callback` option and `finished()`. */
export class Scheduler<TItem = unknown, TOutput = unknown> extends EventEmitter<SchedulerEvents<TItem, TOutput>> {
	/** This scheduler's owner name in the container. */
	readonly id: string;
	readonly #core: SchedulerCore<TItem, TOutput>;
	readonly #runner: AttemptRunner<TItem, TOutput>;
	readonly #claims: ClaimLoop<TItem, TOutput>;
	readonly #idle: IdleWatch;
	readonly #calls = new CallsInFlight();
	#paused: boolean;
	#closed = false;
	#closing: Promise<void> | null = null;
	#unwatch: (() => void) | undefined;
	/** `waitFor`'s change follower, open while calls are pending. */
	#waitFor: WaitForFeed | undefined;
	/** Detaches the container and actuator `attach`ed at construction. */
	#detach: ((() => void) | undefined)[] = [];
	/** The retention sweep and the repeat ticker, where the container allows them. */
	readonly #passes: BackgroundPasses;
	/** Deletes the tasks this scheduler finished whose own rule keeps them 0 ms. */
	readonly #zeroRetention: ZeroRetentionDeleter | undefined;
	/** What the `lightsched.add` spans say of this scheduler's parts (tracing.ts). */
	readonly #traceParts: TraceParts;
	/** Builds, stores and tells of new tasks. */
	readonly #adder: TaskAdder<TItem, TOutput>;

	constructor(options: SchedulerOptions<TItem, TOutput>) {
		super();
		const resolved = resolveOptions(options);
		const { container, actuator } = resolved;
		this.id = resolved.id;
		this.#paused = !resolved.autoStart;
		this.#traceParts = traceParts(container, actuator, this.id);
		const parts = wireScheduler(resolved, this.id, {
			emitter: this,
			closed: () => this.#closed,
			paused: () => this.#paused,
			waitFor: () => this.#waitFor,
			reclaimed: (tasks) => this.#onReclaimed(tasks),
			blocked: (blockedMs) => this.#onBlock(blockedMs),
			idleListened: () => this.listenerCount('idle') > 0,
			track: (promise) => this.#calls.track(promise),
		});
		const { core, zeroRetention } = parts;
		this.#core = core;
		this.#runner = parts.runner;
		this.#claims = parts.claims;
		this.#adder = parts.adder;
		this.#idle = parts.idle;
		this.#zeroRetention = zeroRetention;
		const { reporter, leases } = core;
		const shared = container.shared;
		// An in-process container is driven by this scheduler's own adds and finishes; only shared ones need a channel.
		if (shared && container.watch) this.#unwatch = container.watch((signal) => this.#onSignal(signal));
		const warnFrom = (part: 'container' | 'actuator') => ({
			warning: (error: Error) => reporter.emit('warning', { part, error }),
		});
		this.#detach = [container.attach?.(warnFrom('container')), actuator.attach?.(warnFrom('actuator'))];
		leases?.start();
		this.#passes = startBackgroundPasses(core, () => this.#claims.fill());
		if (!this.#paused) queueMicrotask(() => this.#claims.fill());
	}

	/** Tasks this scheduler is running right now. */
	get running(): number {
		return this.#runner.size;
	}

	/** Whether claiming new work is paused (`pause()`). */
	get isPaused(): boolean {
		return this.#paused;
	}

	/** Whether `close()` was called. */
	get isClosed(): boolean {
		return this.#closed;
	}

	/**
	 * Add one task or several (all or nothing). Validates every task first and calls the actuator's `init`;
	 * a bad task rejects the whole add with an error naming the field, and nothing is stored. Resolves with the
	 * stored records (with the `seq` the container gave them). A task whose `key` a waiting or running task holds
	 * rejects the add with `DuplicateKeyError`, or, with `onDuplicateKey: 'existing'`, is left out and that task is
	 * returned in its place.
	 */
	add(task: NewTask<TItem>, options?: AddOptions): Promise<TaskRecord<TItem, TOutput>>;
	add(tasks: readonly NewTask<TItem>[], options?: AddOptions): Promise<TaskRecord<TItem, TOutput>[]>;
	add(
		input: NewTask<TItem> | readonly NewTask<TItem>[],
		addOptions?: AddOptions,
	): Promise<TaskRecord<TItem, TOutput> | TaskRecord<TItem, TOutput>[]> {
		// A `lightsched.add` span when an OpenTelemetry SDK records one; its context goes on the tasks (`trace`).
		const span = startAddSpan(this.#traceParts, Array.isArray(input) ? input.length : 1);
		if (span === null) {
			if (addOptions === undefined && this.#adder.storesNow) return this.#adder.addNow(input);
			return this.#adder.add(input, addOptions, null);
		}
		return traceAdd(
			span,
			(trace) => this.#adder.add(input, addOptions, trace),
			(added) => (Array.isArray(added) ? added.map((task) => task.id) : [added.id]),
		);
	}

	/**
	 * `lightsched/kit`: this scheduler's two halves of `add`, for tasks a caller stores in a transaction of its own
	 * (see `TaskRelease`).
	 */
	[taskRelease](): TaskRelease {
		return this.#adder.release();
	}

	/**
	 * Stop a task in any state. A waiting task becomes `stopped`; a running one is stopped through the actuator
	 * (its signal aborts) and then becomes `stopped`. A task run by another scheduler sharing the container is
	 * asked to stop (its owner stops it); the returned record then still says `running`, with `stopRequested`.
	 * A finished task is returned unchanged. An unknown id rejects with `TaskNotFoundError`.
	 */
	stop(id: string): Promise<TaskRecord<TItem, TOutput>> {
		return stopTask(this.#core, this.#runner, this.#calls, id);
	}

	/** The task record, or `null` when no task has this id. */
	async get(id: string): Promise<TaskRecord<TItem, TOutput> | null> {
		return (await this.#calls.track(this.#core.options.container.get(id))) as TaskRecord<TItem, TOutput> | null;
	}

	/**
	 * A page of tasks, with whether more follow and the total that match (a lower bound, not counted, with
	 * `exactTotal: false`).
	 */
	async list(query: TaskQuery = {}): Promise<TaskPage<TItem, TOutput>> {
		if (query.offset !== undefined) checkDuration('offset', query.offset, 0);
		if (query.limit !== undefined) checkDuration('limit', query.limit, 0);
		if (query.exactTotal !== undefined && typeof query.exactTotal !== 'boolean')
			throw new TypeError(`Expected \`exactTotal\` to be a boolean, got ${describeValue(query.exactTotal)}`);
		return (await this.#calls.track(this.#core.options.container.list(query))) as TaskPage<TItem, TOutput>;
	}

	/** How many tasks are in each status. */
	counts(): Promise<TaskCounts> {
		return this.#calls.track(this.#core.options.container.counts());
	}

	/** Delete a finished task (and its persisted output). A task that has not finished must be stopped first. */
	async remove(id: string): Promise<boolean> {
		const removed = await this.#calls.track(this.#core.writer.remove(id));
		const { persistencer } = this.#core.options;
		if (removed && persistencer?.delete) await this.#calls.track(Promise.resolve(persistencer.delete(id)));
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
		this.#claims.fill();
	}

	/**
	 * Pause claiming for every scheduler sharing the container, in any process: running work goes on, nothing new
	 * starts. Stored in the container, so it holds across restarts until `resumeQueue()`. (`pause()` holds this
	 * scheduler only.)
	 */
	async pauseQueue(): Promise<void> {
		await this.#calls.track(pauseOperation(this.#core as SchedulerCore, 'setPaused')(true));
	}

	/** Let every scheduler sharing the container claim again after `pauseQueue()`. */
	async resumeQueue(): Promise<void> {
		await this.#calls.track(pauseOperation(this.#core as SchedulerCore, 'setPaused')(false));
		this.#claims.fill();
	}

	/** Whether the container is paused for every scheduler (`pauseQueue()`). */
	isQueuePaused(): Promise<boolean> {
		return this.#calls.track(pauseOperation(this.#core as SchedulerCore, 'isPaused')());
	}

	/**
	 * Delete finished tasks in bulk, in batches, with their persisted outputs: of one status or several, finished
	 * longer ago than `olderThanMs` and/or beyond the newest `keep`. Resolves with how many were deleted.
	 */
	clean(options: CleanOptions): Promise<number> {
		return this.#calls.track(cleanTasks(this.#core as SchedulerCore, options, false));
	}

	/**
	 * Store a repeating task: a task every `every` milliseconds or on a `cron` pattern (with `tz`), each tick adding
	 * exactly one task (id `repeat:<key>:<tick time>`) however many schedulers share the container. The same
	 * definition again keeps its schedule, so each process may declare its repeats at start; a changed one
	 * replaces it. Resolves with the stored repeat and its next run time.
	 */
	async repeat(options: RepeatOptions<TItem>): Promise<RepeatInfo<TItem>> {
		if (this.#closed) throw new SchedulerClosedError();
		const { container, maxAttempts } = this.#core.options;
		const info = await this.#calls.track(putRepeat(container, options, maxAttempts));
		this.#passes.ticker?.refresh();
		return info;
	}

	/** Every stored repeat with its next run time, by key. */
	repeats(): Promise<RepeatInfo<TItem>[]> {
		return this.#calls.track(listRepeats<TItem>(this.#core.options.container));
	}

	/** Delete a repeat (the tasks it added stay). Resolves with whether it existed. */
	removeRepeat(key: string): Promise<boolean> {
		return this.#calls.track(repeatMethod(this.#core.options.container, 'removeRepeat')(key));
	}

	/**
	 * A page of a task's log (`ctx.log(line)` from its work), oldest first: from line number `offset` (negative counts
	 * back from the newest), at most `limit` (100) lines, with how many it logged in all and how many old ones
	 * were dropped by the bound (the newest 1,000 are kept). A re-run starts a new log.
	 */
	getLogs(id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
		const { container } = this.#core.options;
		if (typeof container.getLogs !== 'function') {
			return Promise.reject(
				new ContainerError(
					`This container (${container.constructor.name}) has no \`getLogs()\`: it keeps no task logs`,
				),
			);
		}
		return this.#calls.track(container.getLogs(id, query));
	}

	/**
	 * The final record of task `id` (`succeeded` with its output, `failed`, `stopped`), whichever process ran it: at
	 * once when it is already final, else as soon as it becomes so (through the container's change log). Rejects
	 * with `WaitTimeoutError` after `timeoutMs` (60 s) and with `SchedulerClosedError` at `close()`. See
	 * `TaskEvents` to follow every change, or to wait from a process with no scheduler.
	 */
	waitFor(id: string, options?: WaitForOptions): Promise<TaskRecord<TItem, TOutput>> {
		if (this.#closed) return Promise.reject(new SchedulerClosedError());
		this.#waitFor ??= new WaitForFeed(this.#core.options.container);
		return this.#waitFor.waitFor<TItem, TOutput>(id, options);
	}

	/** Resolves once nothing is waiting or running in the container. */
	onIdle(): Promise<void> {
		return this.#idle.wait();
	}

	/**
	 * Every task that reaches a final status from now on, in the order they finish. Buffers without limit, so
	 * none is dropped however slowly it is read; ends after `close()` once the buffer is read.
	 */
	finished(): AsyncIterableIterator<TaskRecord<TItem, TOutput>> {
		return this.#core.reporter.stream(this.#closed);
	}

	/**
	 * Stop the scheduler: no new work, running work stopped (or drained), then the parts closed. Every call still
	 * waiting on a part is settled (rejected with `SchedulerClosedError` when its part has not answered). Idempotent.
	 */
	close(options: CloseOptions = {}): Promise<void> {
		this.#closing ??= this.#close(options);
		return this.#closing;
	}

	async #close(options: CloseOptions): Promise<void> {
		if (options.timeoutMs !== undefined) checkDuration('timeoutMs', options.timeoutMs, 0);
		this.#closed = true;
		await closeParts(
			{
				core: this.#core,
				runner: this.#runner,
				calls: this.#calls,
				idle: this.#idle,
				waitFor: this.#waitFor,
				zeroRetention: this.#zeroRetention,
				...this.#passes,
				unwatch: this.#unwatch,
				detach: this.#detach,
			},
			options.drain === true,
			options.timeoutMs,
		);
	}

	#onSignal(signal: ContainerSignal): void {
		if (signal.type === 'wake') this.#claims.fill();
		else if (signal.type === 'stop') this.#runner.settleById(signal.id, { kind: 'stopped' });
		else {
			if (!signal.ok && signal.error) this.#core.reporter.error(signal.error, 'wake-up channel down, polling');
			this.#claims.channel(signal.ok);
		}
	}

	/** A lease sweep moved tasks: report the ones it finished, and look for work when some wait again. */
	#onReclaimed(moved: TaskRecord<TItem, TOutput>[]): void {
		if (this.#closed) return;
		let wake = false;
		for (const task of moved) {
			this.#core.reporter.emit('task:lease-expired', { task });
			if (task.status === 'waiting') wake = true;
			else this.#core.reporter.reclaimed(task);
		}
		if (wake) this.#claims.fill();
	}

	#onBlock(blockedMs: number): void {
		const { leaseMs } = this.#core.options;
		const tasks = this.#runner.runningIds();
		// No lease held, none at risk.
		if (tasks.length === 0) return;
		this.#core.reporter.emit('loop:blocked', loopBlockedEvent(blockedMs, leaseMs, tasks));
	}
}
