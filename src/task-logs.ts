/**
 * Task logs on the scheduler's side: `ctx.log(line)` from the work becomes a `task:log` event and, where the
 * container keeps logs (`appendLogs`), a stored line. Lines are batched per attempt: one write in flight, the lines
 * that come meanwhile go in the next one, and the rest is written when the attempt ends, before its outcome is
 * stored (so a reader who sees the task finished sees its whole log). Each line is cut at `MAX_LOG_LINE_LENGTH`
 * characters; the container keeps the newest `maxLines` of each task. Lines that come faster than the container
 * stores them queue up to `maxLines` (the container would drop older ones anyway): beyond that the oldest queued ones
 * are replaced by one line saying how many were not stored, so a flood of output costs bounded memory.
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
	const lines = (attempt.logLines ??= []);
	lines.push(text);
	// Amortised: trimmed back to maxLines once the queue holds twice that.
	if (lines.length > 2 * maxLines) skipQueued(lines, lines.length - maxLines);
	if (!attempt.logWriting) queueMicrotask(() => flushLogs(core, attempt, maxLines));
}

/** The marker that stands for queued lines dropped before they were stored: `… 1200 lines not stored`. */
const SKIPPED = /^… (\d+) lines not stored$/;

/** Make room: replace the oldest `count + 1` queued entries (lines, or an earlier marker) with one marker line. */
function skipQueued(lines: string[], count: number): void {
	const removed = count + 1;
	const earlier = SKIPPED.exec(lines[0] ?? '');
	const dropped = earlier === null ? removed : removed - 1 + Number(earlier[1]);
	lines.splice(0, removed, `… ${dropped} lines not stored`);
}

/** Whether lines of the attempt are queued or being written. */
export function logsPending(attempt: Attempt): boolean {
	return attempt.logWriting || (attempt.logLines !== null && attempt.logLines.length > 0);
}

/**
 * Write what is queued and resolve once nothing is queued or in flight (also after a failed write: the failure is
 * reported, and an outcome never waits on a store that refuses logs). Never rejects.
 */
export function drainLogs(core: SchedulerCore, attempt: Attempt, maxLines: number): Promise<void> {
	flushLogs(core, attempt, maxLines);
	if (!logsPending(attempt)) return Promise.resolve();
	return new Promise((resolve) => (attempt.logIdle ??= []).push(resolve));
}

/** Call the attempt's drain waiters. */
function idle(attempt: Attempt): void {
	const waiters = attempt.logIdle;
	if (waiters === null) return;
	attempt.logIdle = null;
	for (const resolve of waiters) resolve();
}

/** Write the attempt's queued lines (one write at a time; called again when one ends and at the attempt's end). */
export function flushLogs(core: SchedulerCore, attempt: Attempt, maxLines: number): void {
	const { container } = core.options;
	const lines = attempt.logLines;
	if (attempt.logWriting) return;
	if (lines === null || lines.length === 0 || container.appendLogs === undefined) {
		idle(attempt);
		return;
	}
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
			if (attempt.settled) {
				// The outcome waits for the logs: it does not wait for a store that just refused them.
				attempt.logLines = null;
				idle(attempt);
			}
		},
	);
}
