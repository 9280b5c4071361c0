/** One attempt at running a task: the context handed to the actuator, its timeout timer and its one outcome. */
import type { ActuatorContext, ActuatorResult } from './contracts.js';
import { TaskStoppedError } from './errors.js';
import type { TaskRecord } from './task.js';

/** How an attempt ended. Only the first ending counts; later reports are dropped. */
export type AttemptOutcome =
	/** The work succeeded; `hasOutput` says whether the report carried the output. */
	| { readonly kind: 'succeeded'; readonly hasOutput: boolean; readonly output: unknown }
	/** The work failed (a throw, a failed status, a timeout, a start error). */
	| { readonly kind: 'failed'; readonly error: Error; readonly stopWork: boolean }
	/** Someone stopped the task. */
	| { readonly kind: 'stopped' }
	/** The scheduler closes without draining: the work is stopped and the task goes back to waiting. */
	| { readonly kind: 'handback' }
	/** The lease was lost (the task was reclaimed elsewhere): stop the work, change nothing. */
	| { readonly kind: 'lost' };

/** The reason an attempt's signal aborts with when it ends otherwise than in success. */
export function abortReason(taskId: string, outcome: Exclude<AttemptOutcome, { kind: 'succeeded' }>): Error {
	if (outcome.kind === 'failed') return outcome.error;
	const why =
		outcome.kind === 'handback'
			? 'handed back (scheduler closing)'
			: outcome.kind === 'lost'
				? 'taken over (lease lost)'
				: 'stopped';
	return new TaskStoppedError(taskId, why);
}

/** What an attempt reports to (the scheduler). */
export interface AttemptHost {
	readonly owner: string;
	progress(attempt: Attempt, progress: unknown): void;
	log?(attempt: Attempt, line: string): void;
	done(attempt: Attempt, result: ActuatorResult): void;
}

/**
 * An attempt is also the `ActuatorContext` handed to the actuator. Its `AbortController` is made only when the
 * work first reads `signal`: most functions never do, and abort controllers are costly to make by the million.
 */
export class Attempt implements ActuatorContext {
	task: TaskRecord;
	readonly #host: AttemptHost;
	#controller: AbortController | undefined;
	timer: ReturnType<typeof setTimeout> | undefined;
	/** Set once the attempt has an outcome; later reports are ignored. */
	outcome: AttemptOutcome | null = null;
	/** Resolves once the outcome is stored in the container. */
	finishing: Promise<void> | null = null;
	ref: unknown = undefined;
	/** When the attempt started here (this process's clock; set on shared containers only, for lease reports). */
	begunAt = 0;
	/** Links of the scheduler's list of running attempts (`RunningAttempts`). */
	prev: Attempt | null = null;
	next: Attempt | null = null;
	listed = false;
	/** Progress writes are coalesced: one in flight, the latest waiting. */
	progressWriting = false;
	progressPending = false;
	#abortReason: unknown = undefined;
	#progress: ((progress: unknown) => void) | undefined;
	#log: ((line: string) => void) | undefined;
	/** Log lines not yet stored (see task-logs.ts), and whether a write of them is in flight. */
	logLines: string[] | null = null;
	logWriting = false;
	/** Called once no log line is queued or being written (the attempt's outcome waits for them). */
	logIdle: (() => void)[] | null = null;
	#done: ((result: ActuatorResult) => void) | undefined;

	constructor(task: TaskRecord, host: AttemptHost) {
		this.task = task;
		this.#host = host;
	}

	get owner(): string {
		return this.#host.owner;
	}

	get signal(): AbortSignal {
		if (this.#controller === undefined) {
			this.#controller = new AbortController();
			if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
		}
		return this.#controller.signal;
	}

	get settled(): boolean {
		return this.outcome !== null;
	}

	/** Abort the work's signal (now if it was read, or as soon as it is). */
	abort(reason: unknown): void {
		if (this.#abortReason !== undefined) return;
		this.#abortReason = reason;
		this.#controller?.abort(reason);
	}

	/**
	 * Getters that hand out a function bound to this attempt, made on first use and kept, so actuators may
	 * destructure `{ progress, done }` from the context without paying two closures on every attempt.
	 */
	get progress(): (progress: unknown) => void {
		return (this.#progress ??= (progress: unknown): void => this.#host.progress(this, progress));
	}

	get log(): (line: string) => void {
		return (this.#log ??= (line: string): void => this.#host.log?.(this, line));
	}

	get done(): (result: ActuatorResult) => void {
		return (this.#done ??= (result: ActuatorResult): void => this.#host.done(this, result));
	}
}
