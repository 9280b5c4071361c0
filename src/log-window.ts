/** Which lines a `getLogs` query reads, stated once for every container (see `TaskLogQuery`). */
import { describeValue } from './errors.js';
import type { TaskLogQuery } from './task.js';

/** A range of line numbers. */
export interface LogWindow {
	/** The first line's number. */
	readonly start: number;
	/** One past the last line's number. */
	readonly end: number;
}

/**
 * The line numbers `[start, end)` a query selects from a log of `total` lines whose oldest `dropped` are gone: from
 * `offset` (default the oldest kept; negative counts back from the newest), clamped to what is kept, at most `limit`.
 */
export function logWindow(total: number, dropped: number, query: TaskLogQuery = {}): LogWindow {
	const { offset, limit = 100 } = query;
	if (offset !== undefined && !Number.isSafeInteger(offset)) {
		throw new TypeError(`Expected \`offset\` to be an integer, got ${describeValue(offset)}`);
	}
	if (!Number.isSafeInteger(limit) || limit < 0) {
		throw new TypeError(`Expected \`limit\` to be an integer >= 0, got ${describeValue(limit)}`);
	}
	const from = offset === undefined ? dropped : offset < 0 ? total + offset : offset;
	const start = Math.min(Math.max(from, dropped), total);
	return { start, end: Math.min(start + limit, total) };
}
