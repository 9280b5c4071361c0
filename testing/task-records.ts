/**
 * What every part of the container contract builds its tasks with: records as the scheduler makes them, to give a
 * container's `add` directly, and the lease the cases claim with.
 */
import type { NewTask, TaskRecord } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';

/** The lease of the cases' claims (ms): longer than any case, so only a case that means a lease to expire sees one. */
export const LEASE = 10_000;

/**
 * Task records as the scheduler builds them: `createTaskRecord` for each, named `tasks[i]` in errors.
 * @param now the time they are created at (and due at, unless a task gives `runAt`)
 * @param maxAttempts the attempts each task allows, unless it gives its own
 */
export function taskRecords(tasks: readonly NewTask[], now = Date.now(), maxAttempts = 3): TaskRecord[] {
	return tasks.map((task, i) => createTaskRecord(task, `tasks[${i}]`, { maxAttempts }, now));
}
