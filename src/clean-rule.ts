/**
 * The rule of `TaskContainer.clean`, stated once for in-process containers (the Redis and SQL containers state the
 * same rule in their scripts and statements; the contract suite holds every container to it).
 */
import { describeValue } from './errors.js';
import { FINAL_STATUSES, ownRetention, type CleanQuery, type TaskRecord } from './task.js';

/** Whether `task`'s own retention rule for its status has lapsed by `time` (`finishedAt + rule <= time`). */
export function ownRuleExpired(task: Pick<TaskRecord, 'status' | 'finishedAt' | 'retention'>, time: number): boolean {
	const rule = ownRetention(task, task.status);
	return rule !== undefined && task.finishedAt !== null && task.finishedAt + rule <= time;
}

/**
 * Whether `clean(query)` selects a finished task of `query.status`.
 * @param olderCount how many tasks of the status arrived before it (with `exceptOwnRule`: of those without their
 *   own rule for the status)
 * @param total how many tasks are in the status (with `exceptOwnRule`: without their own rule for it)
 */
export function cleanSelects(
	task: Pick<TaskRecord, 'status' | 'finishedAt' | 'retention'>,
	olderCount: number,
	total: number,
	query: CleanQuery,
): boolean {
	if (query.expiredBy !== undefined) return ownRuleExpired(task, query.expiredBy);
	if (query.exceptOwnRule === true && ownRetention(task, query.status) !== undefined) return false;
	const { keep, finishedBefore } = query;
	if (keep === undefined && finishedBefore === undefined) return true;
	if (keep !== undefined && olderCount < total - keep) return true;
	return finishedBefore !== undefined && task.finishedAt !== null && task.finishedAt < finishedBefore;
}

/** Check a `CleanQuery` (a container's `clean` calls it first): a clear error naming the field, else nothing. */
export function assertCleanQuery(query: CleanQuery): void {
	if (typeof query !== 'object' || query === null) {
		throw new TypeError(`Expected the clean query to be an object, got ${describeValue(query)}`);
	}
	if (!(FINAL_STATUSES as readonly unknown[]).includes(query.status)) {
		throw new TypeError(
			`Expected \`status\` to be one of ${FINAL_STATUSES.join(', ')}, got ${describeValue(query.status)}`,
		);
	}
	if (!Number.isInteger(query.limit) || query.limit < 1) {
		throw new TypeError(`Expected \`limit\` to be an integer >= 1, got ${describeValue(query.limit)}`);
	}
	if (query.keep !== undefined && (!Number.isInteger(query.keep) || query.keep < 0)) {
		throw new TypeError(`Expected \`keep\` to be an integer >= 0, got ${describeValue(query.keep)}`);
	}
	if (query.finishedBefore !== undefined && !Number.isFinite(query.finishedBefore)) {
		throw new TypeError(
			`Expected \`finishedBefore\` to be a time in milliseconds, got ${describeValue(query.finishedBefore)}`,
		);
	}
	if (query.exceptOwnRule !== undefined && typeof query.exceptOwnRule !== 'boolean') {
		throw new TypeError(`Expected \`exceptOwnRule\` to be a boolean, got ${describeValue(query.exceptOwnRule)}`);
	}
	if (query.expiredBy !== undefined) {
		if (!Number.isFinite(query.expiredBy)) {
			throw new TypeError(
				`Expected \`expiredBy\` to be a time in milliseconds, got ${describeValue(query.expiredBy)}`,
			);
		}
		if (query.keep !== undefined || query.finishedBefore !== undefined || query.exceptOwnRule === true) {
			throw new TypeError('Expected `keep`, `finishedBefore` and `exceptOwnRule` to be absent with `expiredBy`');
		}
	}
	if (query.ids !== undefined) {
		if (query.expiredBy === undefined) throw new TypeError('Expected `ids` only with `expiredBy`');
		if (!Array.isArray(query.ids) || !query.ids.every((id) => typeof id === 'string')) {
			throw new TypeError(`Expected \`ids\` to be a list of task ids, got ${describeValue(query.ids)}`);
		}
	}
}
