/**
 * A scheduler's background passes over its container: the retention sweep, in every scheduler whose container has
 * `clean` (tasks' own retention rules expire with or without the `retention` option), and the repeat ticker, in every
 * scheduler whose container stores repeats. The `Scheduler` starts them in its constructor and stops them in `close()`.
 */
import { cleanInBackground } from './queue-operations.js';
import { RepeatTicker } from './repeat-ticker.js';
import { RetentionSweeper } from './retention.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';
import { copyTask, type TaskRecord } from './task.js';

/** The passes started; each absent where the container cannot run it. */
export interface BackgroundPasses {
	readonly retention: RetentionSweeper | undefined;
	readonly ticker: RepeatTicker | undefined;
}

/** Start the passes the container allows; `fill` looks for work (a tick added a task). */
export function startBackgroundPasses<TItem, TOutput>(
	core: SchedulerCore<TItem, TOutput>,
	fill: () => void,
): BackgroundPasses {
	const { container, maxAttempts, retention: retentionOptions } = core.options;
	const { reporter } = core;
	let retention: RetentionSweeper | undefined;
	if (typeof container.clean === 'function') {
		retention = new RetentionSweeper(retentionOptions ?? {}, (clean, scope) =>
			cleanInBackground(core as SchedulerCore, clean, scope),
		);
		retention.start();
	}
	let ticker: RepeatTicker | undefined;
	if (typeof container.listRepeats === 'function') {
		ticker = new RepeatTicker({
			container,
			maxAttempts,
			added: (task) => {
				if (reporter.listening('task:added'))
					reporter.emit('task:added', { task: copyTask(task) as TaskRecord<TItem, TOutput> });
				fill();
			},
			failed: (operation, error, calledAt) =>
				reportFailure(core as SchedulerCore, 'container', operation, error, calledAt),
			ok: (calledAt) => core.containerHealth.ok(calledAt),
		});
		ticker.refresh();
	}
	return { retention, ticker };
}
