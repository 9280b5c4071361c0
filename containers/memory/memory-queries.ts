/**
 * The memory containers' read-side walks over their store: a page of `list`, the tasks `clean` selects, the
 * leases `reclaimExpired` finds run out. Each walks the store in arrival order (a re-add is a new arrival); none
 * changes it.
 */
import {
	cleanSelects,
	copyTask,
	ownRuleExpired,
	type CleanQuery,
	type TaskCounts,
	type TaskPage,
	type TaskQuery,
	type TaskRecord,
} from 'lightsched/kit';
import type { StoredTask } from './stored-task.js';
import type { TaskStore } from './task-store.js';

/** A page of `list`; the total is kept per status, so it stays exact whatever `exactTotal` says. */
export function listPage(tasks: TaskStore, counts: TaskCounts, query: TaskQuery): TaskPage {
	const { offset = 0, limit = 100, order = 'asc' } = query;
	const statuses =
		query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : query.status;
	const total = statuses === null ? tasks.size : statuses.reduce((sum, status) => sum + counts[status], 0);
	const page: TaskRecord[] = [];
	if (limit <= 0 || offset >= total) return { tasks: page, total, more: offset < total };
	const all = order === 'asc' ? tasks.values() : tasks.newestFirst();
	let skipped = 0;
	for (const rec of all) {
		if (statuses !== null && !statuses.includes(rec.status)) continue;
		if (skipped < offset) {
			skipped++;
			continue;
		}
		page.push(copyTask(rec));
		if (page.length >= limit) break;
	}
	return { tasks: page, total, more: offset + page.length < total };
}

/**
 * The ids `clean` removes (at most `query.limit`), for a query already checked (`assertCleanQuery`).
 * @param ownRules finished tasks with their own retention rule for their status
 */
export function cleanSelection(
	tasks: TaskStore,
	counts: TaskCounts,
	ownRules: ReadonlySet<StoredTask>,
	query: CleanQuery,
): string[] {
	const { status, expiredBy } = query;
	const selected: string[] = [];
	if (expiredBy !== undefined) {
		const candidates = query.ids === undefined ? ownRules : query.ids.map((id) => tasks.get(id));
		for (const rec of candidates) {
			if (selected.length >= query.limit) break;
			if (rec?.status === status && ownRuleExpired(rec, expiredBy)) selected.push(rec.id);
		}
		return selected;
	}
	const except = query.exceptOwnRule === true;
	let total = counts[status];
	if (except) for (const rec of ownRules) if (rec.status === status) total--;
	let older = 0;
	for (const rec of tasks.values()) {
		if (selected.length >= query.limit) break;
		if (rec.status !== status) continue;
		if (except && ownRules.has(rec)) continue;
		if (cleanSelects(rec, older, total, query)) selected.push(rec.id);
		older++;
	}
	return selected;
}

/** Running or exporting tasks whose lease ended before `now`. */
export function expiredLeases(tasks: TaskStore, now: number): StoredTask[] {
	const expired: StoredTask[] = [];
	for (const rec of tasks.values()) {
		if ((rec.status === 'running' || rec.status === 'exporting') && rec.leaseUntil !== null && rec.leaseUntil < now)
			expired.push(rec);
	}
	return expired;
}
