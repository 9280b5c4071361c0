/**
 * The scheduler's typed events. Each event carries one payload object, so fields can be added later
 * without breaking listeners.
 */
import type { TaskRecord } from './task.js';

export interface TaskEvent<TItem = unknown, TOutput = unknown> {
	readonly task: TaskRecord<TItem, TOutput>;
}

export interface SchedulerEvents<TItem = unknown, TOutput = unknown> {
	/** A task was stored as waiting. */
	'task:added': [event: TaskEvent<TItem, TOutput>];
	/** An attempt is starting: emitted just before the actuator's `start` is called (a listener that stops the task synchronously keeps the work from starting). */
	'task:started': [event: TaskEvent<TItem, TOutput>];
	/** The work reported progress. */
	'task:progress': [event: TaskEvent<TItem, TOutput> & { readonly progress: unknown }];
	/** The task succeeded; `output` is what the work returned. */
	'task:succeeded': [event: TaskEvent<TItem, TOutput> & { readonly output: TOutput }];
	/** An attempt failed and another follows after `delayMs`. */
	'task:retrying': [event: TaskEvent<TItem, TOutput> & { readonly error: Error; readonly delayMs: number }];
	/** The task failed for good (attempts spent, a `NonRetryableError`, or a lease expired with none left). */
	'task:failed': [event: TaskEvent<TItem, TOutput> & { readonly error: Error }];
	/** The task was stopped (waiting or running). */
	'task:stopped': [event: TaskEvent<TItem, TOutput>];
	/** Nothing is waiting or running (as seen by this scheduler). */
	idle: [];
	/**
	 * Something went wrong outside a task's own work: a container, actuator `stop`, persistencer or callback
	 * threw. The loop goes on.
	 */
	error: [error: Error];
}
