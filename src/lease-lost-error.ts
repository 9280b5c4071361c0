/** The error a scheduler reports when it lost the lease on a task it was running, and its making from the attempt. */
import type { Attempt } from './attempt.js';
import { SchedulerError } from './errors.js';
import type { LoopMonitor } from './loop-monitor.js';
import type { TaskStatus } from './task.js';

/**
 * This scheduler's lease on a task it runs lapsed and the task was reclaimed (to run again elsewhere, or failed):
 * the work here was stopped and its late report, if any, was rejected, not stored. Usually the event loop was
 * blocked past the lease (`blockedMs`): synchronous work kept the renewal from running.
 */
export class LeaseLostError extends SchedulerError {
	override name = 'LeaseLostError';
	/** The task whose lease was lost. */
	readonly taskId: string;
	/** The status the late report would have moved the task to; `null` when a renewal found the lease gone first. */
	readonly rejected: TaskStatus | null;
	/** The longest block of the event loop while the attempt ran, when one long enough to matter was seen. */
	readonly blockedMs: number | null;
	/** The scheduler's `leaseMs`. */
	readonly leaseMs: number;

	constructor(taskId: string, rejected: TaskStatus | null, blockedMs: number | null, leaseMs: number) {
		const report = rejected === null ? '' : `; its late report (${rejected}) was rejected`;
		const why =
			blockedMs === null
				? 'its lease lapsed (the renewals did not reach the container in time)'
				: `the event loop was blocked for ${blockedMs} ms while it ran, longer than the lease allows (leaseMs ${leaseMs}): ` +
					'run CPU-bound work in a worker thread (FunctionActuator worker form) or raise leaseMs';
		super(`Lost the lease on task \`${taskId}\`: another scheduler may run it now${report}. Cause: ${why}`, {
			code: 'ERR_LEASE_EXPIRED',
		});
		this.taskId = taskId;
		this.rejected = rejected;
		this.blockedMs = blockedMs;
		this.leaseMs = leaseMs;
	}
}

/**
 * The `LeaseLostError` of `attempt`, naming the longest block of the event loop since it began (the likely cause),
 * when the loop monitor saw one.
 */
export function leaseLostError(
	attempt: Attempt,
	rejected: TaskStatus | null,
	loopMonitor: LoopMonitor | undefined,
	leaseMs: number,
): LeaseLostError {
	const block = loopMonitor?.longestSince(attempt.begunAt);
	return new LeaseLostError(attempt.task.id, rejected, block === undefined ? null : block.blockedMs, leaseMs);
}
