/**
 * Adding tasks inside another write's transaction (`lightsched/kit`), for an engine whose own record releases the
 * tasks (a workflow run's write that starts its next steps): the record and the tasks then commit together or not
 * at all, one transaction instead of two. Three symbol-keyed hooks, not part of the application's surface:
 *
 * - `taskRelease` on a `Scheduler`: `prepare` builds task records exactly as `add` does before it stores (defaults,
 *   validation, the retention check, the actuator's `init`), storing nothing; `announce`, once the caller's
 *   transaction has committed, does what `add` does after it stores (`task:added` with copies, a wake-up of the
 *   claim loop). `add` itself runs through the same two halves.
 * - `insertInTransaction` on a container that can insert inside a caller's transaction (`SqlContainer`).
 * - `withTaskRelease` on a workflow store that can write a run and insert tasks in one transaction.
 *
 * A crash between the commit and `announce` loses nothing: the tasks are stored, and every scheduler's claim
 * finds them (the announcement is only this process's prompt wake-up).
 */
import type { TaskContainer } from './contracts.js';
import type { RetentionOptions } from './retention.js';
import type { NewTask, TaskRecord } from './task.js';

/** The key of `Scheduler[taskRelease]()`. */
export const taskRelease: unique symbol = Symbol.for('lightsched.kit.taskRelease') as never;
/** The key of `[insertInTransaction](transaction, tasks)` on a container that can insert inside a caller's transaction. */
export const insertInTransaction: unique symbol = Symbol.for('lightsched.kit.insertInTransaction') as never;
/** The key of `[withTaskRelease](container)` on a workflow store that writes a run and inserts tasks together. */
export const withTaskRelease: unique symbol = Symbol.for('lightsched.kit.withTaskRelease') as never;

/** A scheduler's two halves of `add`, for tasks stored by someone else's transaction. */
export interface TaskRelease {
	/** The scheduler's container (the one the caller's transaction must insert into). */
	readonly container: TaskContainer;
	/** The scheduler's `retention` option, checked (`undefined`: none), for callers whose tasks need their own rule. */
	readonly retention: RetentionOptions | undefined;
	/**
	 * Build the records as `add` would (all or nothing: an invalid task throws the error `add` would), storing
	 * nothing. Rejects with `SchedulerClosedError` once the scheduler is closing.
	 */
	prepare(tasks: readonly NewTask[]): Promise<TaskRecord[]>;
	/** After the commit: report the records stored (`task:added`, with copies) and look for work at once. */
	announce(stored: readonly TaskRecord[]): void;
}

/** A container that inserts tasks inside a caller's transaction (on the connection they share). */
export interface TransactionalInsert {
	/**
	 * Inside `transaction` (the container's own kind, e.g. a Knex transaction on its connection): insert the tasks
	 * whose ids are absent, leaving any task already stored under an id as it is (whatever its status). Checks the
	 * tasks as `add` does first (throws before writing). Returns the records it inserted (given their `seq`).
	 * The caller commits; on a rollback nothing was added.
	 */
	[insertInTransaction](transaction: unknown, tasks: readonly TaskRecord[]): Promise<TaskRecord[]>;
}

/** Whether `container` can insert inside a caller's transaction. */
export function canInsertInTransaction(container: unknown): container is TransactionalInsert {
	return (
		typeof container === 'object' &&
		container !== null &&
		typeof (container as Partial<TransactionalInsert>)[insertInTransaction] === 'function'
	);
}
