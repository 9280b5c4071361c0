/**
 * The parts of one scheduler that its modules share: the resolved options, where it reports, the one writer to
 * its container, its wake-up timers, the outage trackers, and its leases and loop monitor on a shared container.
 */
import { toError } from './errors.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { LoopMonitor } from './loop-monitor.js';
import type { ResolvedSchedulerOptions } from './options.js';
import type { OutageTracker } from './outage-tracker.js';
import type { Reporter } from './reporter.js';
import type { TaskWriter } from './task-writer.js';
import type { WakeTimers } from './wake-timers.js';

export interface SchedulerCore<TItem = unknown, TOutput = unknown> {
	readonly options: ResolvedSchedulerOptions<TItem, TOutput>;
	/** This scheduler's owner name in the container. */
	readonly id: string;
	readonly reporter: Reporter<TItem, TOutput>;
	readonly writer: TaskWriter;
	readonly timers: WakeTimers;
	readonly containerHealth: OutageTracker;
	readonly actuatorHealth: OutageTracker;
	/** Shared containers only. */
	readonly leases: LeaseKeeper | undefined;
	readonly loopMonitor: LoopMonitor | undefined;
	/** Whether `close()` was called. */
	closed(): boolean;
	/** Whether `pause()` holds claiming. */
	paused(): boolean;
}

/**
 * Report a failed background call once per outage of its part: the first failure emits one `error` (and the
 * tracker's `<part>:down`); the rest are counted until a call succeeds. `calledAt`: when the failed call was made.
 */
export function reportFailure(
	core: SchedulerCore,
	part: 'container' | 'actuator',
	operation: string,
	error: unknown,
	calledAt?: number,
): void {
	const tracker = part === 'container' ? core.containerHealth : core.actuatorHealth;
	const cause = toError(error);
	if (tracker.failed(operation, cause, calledAt))
		core.reporter.error(error, `${operation} failed (reported once until the ${part} recovers)`);
}
