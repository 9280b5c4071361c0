/**
 * The order in which a closing scheduler takes its parts down: its timers and `waitFor` feed first, then its running
 * work (drained, for at most a time, or handed back to waiting), its background passes, leases and channels, its
 * event streams, then the actuator, persistencer and container (each one's failure reported, the rest still
 * closed), and last the calls still waiting on a part and the idle watch.
 */
import type { AttemptRunner } from './attempt-runner.js';
import type { BackgroundPasses } from './background-passes.js';
import type { CallsInFlight } from './calls-in-flight.js';
import type { IdleWatch } from './idle-watch.js';
import type { SchedulerCore } from './scheduler-core.js';
import type { WaitForFeed } from './wait-for-feed.js';
import type { ZeroRetentionDeleter } from './zero-retention.js';

/** What a scheduler has to close. */
export interface ClosingParts<TItem, TOutput> extends BackgroundPasses {
	readonly core: SchedulerCore<TItem, TOutput>;
	readonly runner: AttemptRunner<TItem, TOutput>;
	readonly calls: CallsInFlight;
	readonly idle: IdleWatch;
	readonly waitFor: WaitForFeed | undefined;
	readonly zeroRetention: ZeroRetentionDeleter | undefined;
	/** Stops following the container's wake-up channel. */
	readonly unwatch: (() => void) | undefined;
	/** Detach the container and actuator. */
	readonly detach: readonly ((() => void) | undefined)[];
}

/**
 * Close `parts`. With `drain`, running work may finish first, for at most `timeoutMs` when given; what still runs
 * then is stopped and handed back.
 */
export async function closeParts<TItem, TOutput>(
	parts: ClosingParts<TItem, TOutput>,
	drain: boolean,
	timeoutMs: number | undefined,
): Promise<void> {
	const { core, runner } = parts;
	const { timers, leases, loopMonitor, reporter } = core;
	timers.stop();
	await parts.waitFor?.close();
	if (drain && runner.size > 0) {
		const drained = runner.whenEmpty();
		if (timeoutMs === undefined) await drained;
		else {
			let timer: ReturnType<typeof setTimeout> | undefined;
			await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
			clearTimeout(timer);
		}
	}
	await runner.handBackAll();
	await parts.zeroRetention?.drain();
	await parts.retention?.stop();
	await parts.ticker?.stop();
	leases?.stop();
	loopMonitor?.stop();
	parts.unwatch?.();
	for (const detach of parts.detach) detach?.();
	reporter.endStreams();
	const { actuator, persistencer, container } = core.options;
	for (const part of [() => actuator.close?.(), () => persistencer?.close?.(), () => container.close()]) {
		try {
			await part();
		} catch (error) {
			reporter.error(error);
		}
	}
	parts.calls.closeAll();
	parts.idle.close();
}
