/**
 * Task logs on the scheduler's side: `ctx.log(line)` from the work becomes a `task:log` event and, where the
 * container keeps logs (`appendLogs`), a stored line. Lines are batched per attempt: one write in flight, the lines
 * that come meanwhile go in the next one, and the rest is written when the attempt ends. Each line is cut at
 * `MAX_LOG_LINE_LENGTH` characters; the container keeps the newest `maxLines` of each task.
 */
import type { Attempt } from './attempt.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';
import { copyTask } from './task.js';

/** The longest line kept, in characters; a longer one is cut and marked with `…`. */
export const MAX_LOG_LINE_LENGTH = 8_192;

/** The default of how many lines each task's log keeps (the newest). */
export const DEFAULT_MAX_LOG_LINES = 1_000;

/** A line from the work: reported and queued for the container. Lines after the attempt ended are dropped. */
export function logLine(core: SchedulerCore, attempt: Attempt, line: unknown, maxLines: number): void {
	if (attempt.settled) return;
	let text = typeof line === 'string' ? line : String(line);
	if (text.length > MAX_LOG_LINE_LENGTH) text = `${text.slice(0, MAX_LOG_LINE_LENGTH - 1)}…`;
	if (core.reporter.listening('task:log'))
		core.reporter.emit('task:log', { task: copyTask(attempt.task), line: text });
	if (typeof core.options.container.appendLogs !== 'function') return;
	(attempt.logLines ??= []).push(text);
	if (!attempt.logWriting) queueMicrotask(() => flushLogs(core, attempt, maxLines));
}

/** Write the attempt's queued lines (one write at a time; called again when one ends and at the attempt's end). */
export function flushLogs(core: SchedulerCore, attempt: Attempt, maxLines: number): void {
	const { container } = core.options;
	const lines = attempt.logLines;
	if (attempt.logWriting || lines === null || lines.length === 0 || container.appendLogs === undefined) return;
	attempt.logLines = null;
	attempt.logWriting = true;
	const calledAt = Date.now();
	container.appendLogs(attempt.task.id, lines, maxLines).then(
		() => {
			attempt.logWriting = false;
			core.containerHealth.ok(calledAt);
			flushLogs(core, attempt, maxLines);
		},
		(error: unknown) => {
			attempt.logWriting = false;
			reportFailure(core, 'container', 'storing task logs', error, calledAt);
		},
	);
}
