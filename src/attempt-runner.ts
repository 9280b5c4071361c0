/**
 * Running claimed tasks: start each through the actuator, enforce its timeout, take its progress and its end
 * (pushed by the work, or polled), give each attempt its one outcome and store it through the writer, then free
 * its slot. Reports what each stored outcome led to.
 */
import { context } from '@opentelemetry/api';
import { abortReason, Attempt, type AttemptHost, type AttemptOutcome } from './attempt.js';
import type { ActuatorContext, ActuatorResult, TaskActuator } from './contracts.js';
import { TaskTimeoutError, toError } from './errors.js';
import { attemptSpanOutcome, storedSpanEnd } from './tracing-outcome.js';
import { AttemptSpans, traceParts } from './tracing.js';
import { leaseLostError } from './lease-lost-error.js';
import { sameProgress, writeProgress } from './progress-writer.js';
import { DEFAULT_MAX_LOG_LINES, drainLogs, logLine, logsPending } from './task-logs.js';
import { RunningAttempts } from './running-attempts.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';
import { StatusPoller } from './status-poller.js';
import { copyTask, type TaskRecord } from './task.js';

const RESOLVED: Promise<void> = Promise.resolve();
/**
 * The outcome of every attempt that succeeded without an output (outcomes are read-only; not frozen, which would
 * give it a shape of its own and make every read of an outcome's fields see two).
 */
const SUCCEEDED_WITHOUT_OUTPUT: AttemptOutcome = { kind: 'succeeded', hasOutput: false, output: undefined };

export class AttemptRunner<TItem, TOutput> {
	readonly #core: SchedulerCore<TItem, TOutput>;
	readonly #attempts: RunningAttempts;
	readonly #host: AttemptHost;
	readonly #poller: StatusPoller;
	/** Called when a slot is freed: look for more work (at `now`, when the caller has just read the clock). */
	readonly #freed: (now?: number) => void;
	// The parts the hot path (start, settle, finish) uses, held directly.
	readonly #options: SchedulerCore<TItem, TOutput>['options'];
	readonly #reporter: SchedulerCore<TItem, TOutput>['reporter'];
	readonly #writer: SchedulerCore<TItem, TOutput>['writer'];
	readonly #leases: SchedulerCore<TItem, TOutput>['leases'];
	readonly #loopMonitor: SchedulerCore<TItem, TOutput>['loopMonitor'];
	#emptyWaiters: (() => void)[] = [];
	/**
	 * Tasks whose work ran here but whose outcome could not be stored (the scheduler closed while the write was
	 * retried, or the container refused every write): the container may still hold them `running` for us. They
	 * are never handed back uncounted as work that never started; their leases are not renewed either, so they
	 * lapse and the reclaim counts the attempt (and retries or fails the task by its policy).
	 */
	readonly #ranUnstored = new Set<string>();
	/** Attempts started here so far, and when each started in that count (shared containers): see `lostSince`. */
	#started = 0;
	/** Attempts whose work ended and whose outcome is being stored in the background (`#finish`): see `taken`. */
	#storing = 0;
	/** Claims of tasks whose previous attempt here is still being stored, waiting to start (see `#startAfter`). */
	readonly #deferred = new Set<Promise<void>>();
	readonly #startedAt = new WeakMap<Attempt, number>();
	/** Each attempt's OpenTelemetry span (none kept without an SDK): see tracing.ts. */
	readonly #spans: AttemptSpans;

	constructor(core: SchedulerCore<TItem, TOutput>, freed: (now?: number) => void) {
		this.#core = core;
		this.#freed = freed;
		const { options } = core;
		this.#options = options;
		this.#reporter = core.reporter;
		this.#writer = core.writer;
		this.#leases = core.leases;
		this.#loopMonitor = core.loopMonitor;
		this.#attempts = new RunningAttempts(options.container.shared);
		this.#spans = new AttemptSpans(traceParts(options.container, options.actuator, core.id));
		this.#host = {
			owner: core.id,
			progress: (attempt, progress) => this.#onProgress(attempt, progress),
			log: (attempt, line) => logLine(core as SchedulerCore, attempt, line, DEFAULT_MAX_LOG_LINES),
			done: (attempt, result) => this.#onDone(attempt, result as ActuatorResult<TOutput>),
		};
		this.#poller = new StatusPoller(options.actuator as TaskActuator, options.pollIntervalMs, {
			attempts: () => this.#attempts.values(),
			progress: (attempt, progress) => this.#onProgress(attempt, progress),
			done: (attempt, result) => this.#onDone(attempt, result as ActuatorResult<TOutput>),
			failed: (error, calledAt) =>
				reportFailure(core as SchedulerCore, 'actuator', 'status poll', error, calledAt),
			ok: (calledAt) => core.actuatorHealth.ok(calledAt),
			report: (error, context) => core.reporter.error(error, context),
		});
	}

	/** Tasks held here: attempts running or being stored, and claims waiting for their task's previous attempt here. */
	get size(): number {
		return this.#attempts.size + this.#deferred.size;
	}

	/**
	 * Slots taken, of `concurrency`. An attempt frees its slot when its work ends, not when its outcome is stored: the
	 * store runs in the background while the next task starts. Outcomes being stored count only past `concurrency`
	 * of them, so a container that stores slowly (or not at all, in an outage) stops the claims: tasks held here stay
	 * at most twice `concurrency`, and works running at most `concurrency`.
	 */
	get taken(): number {
		const storing = this.#storing;
		const concurrency = this.#options.concurrency;
		return (
			this.#attempts.size - storing + this.#deferred.size + (storing > concurrency ? storing - concurrency : 0)
		);
	}

	get(id: string): Attempt | undefined {
		return this.#attempts.get(id);
	}

	/** Ids of the tasks whose attempts have no outcome yet. */
	runningIds(): string[] {
		return this.#attempts
			.values()
			.filter((a) => !a.settled)
			.map((a) => a.task.id);
	}

	/**
	 * Ids of the tasks held here: attempts running, and attempts settled whose outcome is still being stored (a
	 * write retried through an outage). Their leases are renewed until the outcome is stored, or the lease would
	 * lapse and the reclaim count an attempt whose outcome is on its way.
	 */
	heldIds(): string[] {
		return this.#attempts.values().map((a) => a.task.id);
	}

	/** Whether task `id`'s work ran here and its outcome could not be stored (never hand it back uncounted). */
	ranUnstored(id: string): boolean {
		return this.#ranUnstored.has(id);
	}

	/**
	 * A renewal listed these tasks as held for us unknown: a task whose outcome could not be
	 * stored and that is not among them is held for us no more (reclaimed, or stored after all) and is forgotten.
	 */
	keepUnstored(unknown: readonly string[]): void {
		if (this.#ranUnstored.size === 0) return;
		const held = new Set(unknown);
		for (const id of this.#ranUnstored) if (!held.has(id)) this.#ranUnstored.delete(id);
	}

	/** How many attempts have started here: a mark taken when a renewal is sent (`lostSince`). */
	startedCount(): number {
		return this.#started;
	}

	/** Settle the attempt of task `id`, if one runs here without an outcome. */
	settleById(id: string, outcome: AttemptOutcome): void {
		const attempt = this.#attempts.get(id);
		if (attempt !== undefined && !attempt.settled) this.settle(attempt, outcome);
	}

	/**
	 * A renewal sent when `startedCount()` was `mark` says task `id` is not ours any more. That is news only for an
	 * attempt already started then: one started since (the task handed back or stored, then claimed again while the
	 * renewal was on its way) holds a claim that renewal never saw.
	 */
	lostSince(id: string, mark: number): void {
		const attempt = this.#attempts.get(id);
		if (attempt === undefined || attempt.settled) return;
		if ((this.#startedAt.get(attempt) ?? 0) > mark) return;
		this.settle(attempt, { kind: 'lost' });
	}

	/** Resolves once no attempt runs here (for a draining close). */
	whenEmpty(): Promise<void> {
		if (this.#attempts.size === 0) return RESOLVED;
		return new Promise((resolve) => this.#emptyWaiters.push(resolve));
	}

	/** Hand every running attempt back (closing without drain) and wait until all are stored. */
	async handBackAll(): Promise<void> {
		for (const attempt of this.#attempts.values()) if (!attempt.settled) this.settle(attempt, { kind: 'handback' });
		while (this.#attempts.size > 0 || this.#deferred.size > 0)
			await Promise.all([...this.#attempts.values().map((a) => a.finishing), ...this.#deferred]);
		this.#poller.stop();
	}

	/**
	 * Start `task`'s new claim once `previous` (its settled attempt here) is released; a claim that comes due while
	 * the scheduler closes is handed back uncounted instead. Counted in `size` meanwhile, so the slot stays taken.
	 */
	#startAfter(previous: Attempt, task: TaskRecord<TItem, TOutput>): void {
		// `finishing` is set in the same call that settled it: read it a microtask later.
		const deferred: Promise<void> = Promise.resolve().then(async () => {
			await previous.finishing;
			if (this.#core.closed()) {
				await this.#writer
					.handBack(task as TaskRecord)
					.catch((error: unknown) => this.#reporter.error(error, `handing back task ${task.id} failed`));
			}
			this.#deferred.delete(deferred);
			if (!this.#core.closed()) this.start(task);
			else this.#freed();
		});
		this.#deferred.add(deferred);
	}

	start(task: TaskRecord<TItem, TOutput>): void {
		const options = this.#options;
		const reporter = this.#reporter;
		const leases = this.#leases;
		// A task we already run comes back only after its lease was reclaimed, so with at least its second claim
		// (claims count attempts): a first attempt needs no look-up, which walks the list on in-process containers.
		const running = task.attempts > 1 || options.container.shared ? this.#attempts.get(task.id) : undefined;
		if (running?.settled === true) {
			// Its outcome is stored or being stored (a retry due at once, say) and we claimed the task again before
			// that attempt freed its slot: this claim is a new attempt, started once the old one is released.
			this.#startAfter(running, task);
			return;
		}
		if (running !== undefined) {
			// Our lease lapsed (a stalled store), the task was reclaimed, and we claimed it again while its first
			// attempt still runs here. We own it either way: keep the one attempt, with the new claim's numbers (its
			// moves back to waiting name this claim: `ClaimGuard`).
			running.task.attempts = task.attempts;
			running.task.startedAt = task.startedAt;
			running.task.leaseUntil = task.leaseUntil;
			return;
		}
		const attempt = new Attempt(task as TaskRecord, this.#host);
		this.#attempts.add(attempt);
		const traced = this.#spans.start(attempt, task);
		if (leases !== undefined) {
			this.#startedAt.set(attempt, ++this.#started);
			this.#ranUnstored.delete(task.id);
			attempt.begunAt = Date.now();
			leases.renewing();
			this.#loopMonitor?.start();
		}
		const timeoutMs = task.timeoutMs ?? options.timeoutMs;
		if (timeoutMs > 0) {
			attempt.timer = setTimeout(() => {
				const error = new TaskTimeoutError(timeoutMs);
				this.settle(attempt, { kind: 'failed', error, stopWork: true });
			}, timeoutMs);
		}
		// `task` is the attempt's own record, which the actuator is handed too: listeners get a copy.
		if (reporter.listening('task:started')) {
			reporter.emit('task:started', { task: copyTask(task) });
			// A listener stopped it (or closed the scheduler) synchronously: the work must not start at all, or an
			// actuator's `stop` would run before its `start` and find nothing to stop.
			if (attempt.settled) return;
		}
		let started: unknown;
		try {
			// The work runs in the attempt span's context (its own spans become children), when there is one.
			started =
				traced === undefined
					? options.actuator.start(task, attempt as ActuatorContext<TOutput>)
					: context.with(
							traced,
							options.actuator.start,
							options.actuator,
							task,
							attempt as ActuatorContext<TOutput>,
						);
		} catch (error) {
			this.settle(attempt, { kind: 'failed', error: toError(error), stopWork: false });
			return;
		}
		if (started instanceof Promise) {
			started.then(
				(result: unknown) => this.#afterStart(attempt, result),
				(error: unknown) => this.settle(attempt, { kind: 'failed', error: toError(error), stopWork: false }),
			);
		} else this.#afterStart(attempt, started);
	}

	#afterStart(attempt: Attempt, started: unknown): void {
		const ref = (started as { ref?: unknown } | undefined)?.ref;
		if (ref !== undefined) {
			attempt.ref = ref;
			attempt.task.ref = ref;
			if (!attempt.settled) {
				const core = this.#core;
				const calledAt = Date.now();
				core.writer.storeRef(attempt.task.id, ref).then(
					() => core.containerHealth.ok(calledAt),
					(error: unknown) =>
						reportFailure(core as SchedulerCore, 'container', 'storing a ref', error, calledAt),
				);
			}
		}
		if (!attempt.settled) this.#poller.schedule();
	}

	#onDone(attempt: Attempt, result: ActuatorResult<TOutput>): void {
		if (attempt.settled) return;
		if (result.ok) {
			const hasOutput = 'output' in result && result.output !== undefined;
			// Work that returns nothing (most side-effect tasks) shares one outcome: no object made per task.
			this.settle(
				attempt,
				hasOutput ? { kind: 'succeeded', hasOutput, output: result.output } : SUCCEEDED_WITHOUT_OUTPUT,
			);
		} else {
			this.settle(attempt, { kind: 'failed', error: toError(result.error), stopWork: false });
		}
	}

	#onProgress(attempt: Attempt, progress: unknown): void {
		if (attempt.settled || sameProgress(attempt.task.progress, progress)) return;
		attempt.task.progress = progress;
		const { reporter, writer } = this.#core;
		if (reporter.listening('task:progress'))
			reporter.emit('task:progress', { task: copyTask(attempt.task) as TaskRecord<TItem, TOutput>, progress });
		writeProgress(attempt, writer, (error) =>
			reportFailure(this.#core as SchedulerCore, 'container', 'storing progress', error),
		);
	}

	/** Give an attempt its one outcome and store it; frees the slot now (see `taken`), and the attempt once stored. */
	settle(attempt: Attempt, outcome: AttemptOutcome): void {
		if (attempt.settled) return;
		// Work that just returned may have blocked the loop: measured while its task is still listed as running.
		this.#loopMonitor?.check();
		attempt.outcome = outcome;
		if (attempt.timer !== undefined) clearTimeout(attempt.timer);
		if (outcome.kind !== 'succeeded') attempt.abort(abortReason(attempt.task.id, outcome));
		if (logsPending(attempt)) {
			// The outcome is stored once the log is: whoever sees the task finished reads its last lines too.
			this.#storeInBackground(attempt, () =>
				drainLogs(this.#core as SchedulerCore, attempt, DEFAULT_MAX_LOG_LINES).then(() =>
					this.#finish(attempt, outcome),
				),
			);
			return;
		}
		if (outcome.kind === 'succeeded' && this.#finishSync(attempt, outcome)) return;
		this.#storeInBackground(attempt, () => this.#finish(attempt, outcome));
	}

	/** Store the outcome in the background (`#finish` counts it out); the slot is free now unless past the bound (`taken`). */
	#storeInBackground(attempt: Attempt, store: () => Promise<void>): void {
		this.#storing++;
		attempt.finishing = store();
		if (this.#storing <= this.#options.concurrency) this.#freed();
	}

	/**
	 * The hot path: a success with its output in hand, no persistencer, on an in-process container. Stored and
	 * reported without a promise. Returns false when the general path must run instead.
	 */
	#finishSync(attempt: Attempt, outcome: { readonly hasOutput: boolean; readonly output: unknown }): boolean {
		// One clock read for the finish and the claim of the next task, which follows in this call, unless code of the
		// user's ran in between (a listener may take any time: the next task's `startedAt` must not be early by it).
		const now = Date.now();
		const stored = this.#writer.succeedSync(attempt.task, attempt.ref, outcome.hasOutput, outcome.output, now);
		if (stored === false) return false;
		attempt.finishing = RESOLVED;
		if (this.#spans.size > 0) this.#spans.end(attempt, 'succeeded', 'succeeded');
		const reporter = this.#reporter;
		// The synchronous face returns a record of its own making (the attempt's, brought up to date): handed out as is.
		const userCodeRan =
			stored !== null && reporter.succeeded(stored as TaskRecord<TItem, TOutput>, outcome.output as TOutput);
		this.#release(attempt, userCodeRan ? undefined : now);
		return true;
	}

	/** Free the attempt's slot and look for more work (`now`: the time just read, if the caller read it). */
	#release(attempt: Attempt, now?: number): void {
		this.#attempts.delete(attempt);
		if (this.#attempts.size === 0) {
			if (this.#emptyWaiters.length > 0) for (const resolve of this.#emptyWaiters.splice(0)) resolve();
			this.#leases?.idle();
			this.#loopMonitor?.stop();
		}
		this.#freed(now);
	}

	/** Store the outcome, then release the attempt (counted in `#storing` meanwhile). Never rejects. */
	async #finish(attempt: Attempt, outcome: AttemptOutcome): Promise<void> {
		const { writer, reporter, timers } = this.#core;
		try {
			const stored = await writer.write(attempt.task, attempt.ref, outcome);
			if (stored.kind === 'lost')
				// The task is no longer ours: said loudly, with the block of the event loop that likely lost the lease.
				reporter.error(leaseLostError(attempt, stored.rejected, this.#loopMonitor, this.#options.leaseMs));
			else reporter.outcome(stored);
			if (stored.kind === 'retrying' && stored.delayMs > 0) timers.at(stored.task.runAt);
			if (this.#spans.size > 0) storedSpanEnd(this.#spans, attempt, outcome, stored);
		} catch (error) {
			// Not stored (closing, or refused for good): the task may still be held for us, its work done.
			if (this.#leases !== undefined) this.#ranUnstored.add(attempt.task.id);
			reporter.error(error, `finishing task ${attempt.task.id} failed`);
			if (this.#spans.size > 0) this.#spans.end(attempt, attemptSpanOutcome(outcome), null, error);
		}
		this.#storing--;
		this.#release(attempt);
	}
}
