/**
 * The contract between the scheduler and its actuators: what runs a task's work (a function, a container, a job
 * behind an HTTP service), how it reports its end, and how anyone stops or finds the work later. Re-exported by
 * contracts.ts beside the container's contract.
 */
import type { PartReporter } from './contracts.js';
import type { TaskRecord } from './task.js';

/** What an actuator's `status` reports for one task. */
export type ActuatorStatus<TOutput = unknown> =
	| {
			/** Still running. */
			readonly state: 'running';
			/** The work's progress, if it reports any. */
			readonly progress?: unknown;
	  }
	| {
			/** Succeeded. */
			readonly state: 'succeeded';
			/** The result, when the status carries it (else `output()` fetches it). */
			readonly output?: TOutput;
	  }
	| {
			/** Failed. */
			readonly state: 'failed';
			/** Why. */
			readonly error: Error;
	  };

/** How the work reports its end through the callback path. */
export type ActuatorResult<TOutput = unknown> =
	| {
			/** The work succeeded. */
			readonly ok: true;
			/** Its result. */
			readonly output?: TOutput;
	  }
	| {
			/** The work failed. */
			readonly ok: false;
			/** Why (an `Error`, or any thrown value). */
			readonly error: unknown;
	  };

/** Handed to `TaskActuator.start` for one attempt. */
export interface ActuatorContext<TOutput = unknown> {
	/** Aborts when the attempt is stopped, times out or the scheduler closes; `signal.reason` says why. */
	readonly signal: AbortSignal;
	/** The scheduler's id (its lease owner name). */
	readonly owner: string;
	/** Report progress (any JSON value); the last one is stored on the task and emitted as `task:progress`. */
	progress(progress: unknown): void;
	/**
	 * Append a line to the task's log: emitted as `task:log` and stored where the container keeps logs (bounded).
	 * Optional for compatibility with contexts made by hand; the scheduler's contexts always have it.
	 */
	log?(line: string): void;
	/** The callback path: report the end of the work. Only the first report of an attempt counts. */
	done(result: ActuatorResult<TOutput>): void;
}

/** What `start` returns: at least the handle that lets anyone stop or find the work later. */
export interface ActuatorStart {
	/** The actuator's handle (a container id, a remote job id); stored on the task as `ref`. */
	readonly ref?: unknown;
}

/**
 * What runs a task. `start` begins the work and returns at once; the end comes through `ctx.done` (push) or
 * through `status` (poll), whichever the actuator offers.
 */
export interface TaskActuator<TItem = unknown, TOutput = unknown> {
	/** Validate and prepare a task at `add`; a throw rejects the add with that error and stores nothing. */
	init?(task: TaskRecord<TItem, TOutput>): void | Promise<void>;
	/** Begin the work. A throw fails the attempt (and follows the retry policy). */
	start(
		task: TaskRecord<TItem, TOutput>,
		ctx: ActuatorContext<TOutput>,
	): Promise<ActuatorStart | void> | ActuatorStart | void;
	/** Batch poll for actuators that cannot push; one status per task, same order. */
	status?(tasks: readonly TaskRecord<TItem, TOutput>[]): Promise<ActuatorStatus<TOutput>[]>;
	/** Fetch the result of a succeeded task when the end report did not carry it. */
	output?(task: TaskRecord<TItem, TOutput>): Promise<TOutput>;
	/** Stop the work for real (abort the function, kill the container, call the service's stop). */
	stop(task: TaskRecord<TItem, TOutput>): Promise<void> | void;
	/** Release what the actuator holds (clients, worker threads). */
	close?(): Promise<void> | void;

	/**
	 * Optional: the scheduler attaches at construction so the actuator's side-channel warnings reach its `warning`
	 * event. Returns a function that detaches (called at `close`).
	 */
	attach?(reporter: PartReporter): () => void;
}
