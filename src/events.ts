/**
 * The scheduler's typed events. Each event carries one payload object, so fields can be added later
 * without breaking listeners.
 */
import type { PartDownEvent, PartUpEvent } from './outage-tracker.js';
import type { FinalStatus, TaskRecord } from './task.js';

export type { OutagePart, PartDownEvent, PartUpEvent } from './outage-tracker.js';

/** The payload of every `task:*` event. */
export interface TaskEvent<TItem = unknown, TOutput = unknown> {
	/** The task's record after the change (a copy: changing it changes nothing stored). */
	readonly task: TaskRecord<TItem, TOutput>;
}

/** `loop:blocked`: the event loop was blocked long enough to put this scheduler's leases at risk. */
export interface LoopBlockedEvent {
	/** How long the loop was blocked, in milliseconds. */
	readonly blockedMs: number;
	/** The scheduler's `leaseMs`: a block longer than about two thirds of it can lose a lease. */
	readonly leaseMs: number;
	/** The ids of the tasks this scheduler was running (the block's likely cause is among them). */
	readonly tasks: readonly string[];
	/** Whether the block was at least `leaseMs` long: those tasks' leases may have lapsed. */
	readonly leaseExpired: boolean;
	/** The same in words, with what to do about it. */
	readonly message: string;
}

/** `tasks:cleaned`: one batch of finished tasks deleted by `clean()` or the `retention` option. */
export interface TasksCleanedEvent {
	/** The status they had. */
	readonly status: FinalStatus;
	/** The ids deleted. */
	readonly ids: readonly string[];
	/** Whether the `retention` option's background pass deleted them (else a `clean()` call). */
	readonly background: boolean;
}

/** The scheduler's events and their payloads (`scheduler.on(name, listener)`). */
export interface SchedulerEvents<TItem = unknown, TOutput = unknown> {
	/** A task was stored as waiting (the stored record: its `seq` is the container's). */
	'task:added': [event: TaskEvent<TItem, TOutput>];
	/** An attempt is starting: emitted just before the actuator's `start` is called (a listener that stops the task synchronously keeps the work from starting). */
	'task:started': [event: TaskEvent<TItem, TOutput>];
	/** The work reported progress. */
	'task:progress': [
		event: TaskEvent<TItem, TOutput> & {
			/** The value the work reported. */
			readonly progress: unknown;
		},
	];
	/** The task succeeded; `output` is what the work returned. */
	'task:succeeded': [
		event: TaskEvent<TItem, TOutput> & {
			/** What the work returned (after the persistencer, if any). */
			readonly output: TOutput;
		},
	];
	/** An attempt failed and another follows after `delayMs`. */
	'task:retrying': [
		event: TaskEvent<TItem, TOutput> & {
			/** Why the attempt failed. */
			readonly error: Error;
			/** The wait before the next attempt. */
			readonly delayMs: number;
		},
	];
	/** The task failed for good (attempts spent, a `NonRetryableError`, or a lease expired with none left). */
	'task:failed': [
		event: TaskEvent<TItem, TOutput> & {
			/** The last failure. */
			readonly error: Error;
		},
	];
	/** The work logged a line (`ctx.log(line)`; Docker output lines; an HTTP job's log lines). */
	'task:log': [
		event: TaskEvent<TItem, TOutput> & {
			/** The line (cut at 8,192 characters). */
			readonly line: string;
		},
	];
	/** The task was stopped (waiting or running). */
	'task:stopped': [event: TaskEvent<TItem, TOutput>];
	/**
	 * A lease sweep of this scheduler found the task's lease expired (its scheduler died or stalled) and moved it
	 * by the reclaim rule: back to `waiting` (taken over by whichever scheduler claims it next), or to `failed`
	 * or `stopped` (then `task:failed` / `task:stopped` follow). Shared containers only.
	 */
	'task:lease-expired': [event: TaskEvent<TItem, TOutput>];
	/** Finished tasks were deleted in bulk (`clean()` or the `retention` option), one batch per event. */
	'tasks:cleaned': [event: TasksCleanedEvent];
	/** Nothing is waiting or running (as seen by this scheduler). */
	idle: [];
	/**
	 * The container started failing (claims, lease renewals, sweeps...): emitted once per outage, with one
	 * `error`; the scheduler keeps trying and resumes by itself.
	 */
	'container:down': [event: PartDownEvent];
	/** The container answers again after an outage: how long it was down and how many calls failed. */
	'container:up': [event: PartUpEvent];
	/** The actuator's `status` polls started failing: once per outage, with one `error`. */
	'actuator:down': [event: PartDownEvent];
	/** The actuator's `status` polls work again after an outage. */
	'actuator:up': [event: PartUpEvent];
	/** The event loop was blocked long enough to put leases at risk (shared containers, while work runs). */
	'loop:blocked': [event: LoopBlockedEvent];
	/**
	 * Something went wrong outside a task's own work: a container, actuator `stop`, persistencer or callback
	 * threw, or a lease was lost (`LeaseLostError`). A part that keeps failing is reported once per outage
	 * (see `container:down`). The loop goes on.
	 */
	error: [error: Error];
	/** A container or actuator attached to this scheduler reported a warning (e.g. Redis may evict task keys). */
	warning: [event: PartWarningEvent];
}

/** What the `warning` event carries. */
export interface PartWarningEvent {
	/** Which part warned. */
	readonly part: 'container' | 'actuator';
	/** The warning. */
	readonly error: Error;
}
