/**
 * `CombinedContainer`'s restore: the pause flag, then the tasks a dead process left `running` or `exporting`
 * recovered by the reclaim rule, then every waiting task loaded into memory, in bounded pages of the persistent
 * container's `list`.
 */
import { reclaimMove, type TaskContainer, type TaskRecord } from 'lightsched/kit';
import { restorePaused } from './operations.js';

/** What a restore found and did. */
export interface RestoreResult {
	/** Waiting tasks loaded into memory (recovered ones included). */
	readonly restored: number;
	/** Tasks that were `running` or `exporting` when the last owner died and went back to `waiting`. */
	readonly recovered: number;
	/** Tasks that were `running` or `exporting` with their attempts spent: now `failed` (`ERR_LEASE_EXPIRED`). */
	readonly failed: number;
	/** Tasks that were `running` or `exporting` with a stop request: now `stopped`. */
	readonly stopped: number;
	/** How long the restore took, in milliseconds. */
	readonly durationMs: number;
}

/** Restore the unfinished tasks of `persistent` into `memory`, reading `pageSize` tasks per page. */
export async function restoreUnfinished(
	memory: TaskContainer,
	persistent: TaskContainer,
	pageSize: number,
): Promise<RestoreResult> {
	const started = Date.now();
	await restorePaused(memory, persistent);
	const recovery = await recover(persistent, pageSize);
	let restored = 0;
	for (let offset = 0; ;) {
		const page = await persistent.list({ status: 'waiting', offset, limit: pageSize, order: 'asc' });
		offset += page.tasks.length;
		const fresh: TaskRecord[] = [];
		for (const task of page.tasks) if ((await memory.get(task.id)) === null) fresh.push(task);
		if (fresh.length > 0) await memory.add(fresh);
		restored += fresh.length;
		if (page.tasks.length < pageSize) break;
	}
	return { restored, ...recovery, durationMs: Date.now() - started };
}

/**
 * Tasks left `running` or `exporting` by a dead process, moved by the reclaim rule (`reclaimMove`): back to
 * `waiting` (the attempt stays counted), `failed` when their attempts are spent, `stopped` when a stop was asked.
 * Pages always shrink or advance, so this ends.
 */
async function recover(
	persistent: TaskContainer,
	pageSize: number,
): Promise<Pick<RestoreResult, 'recovered' | 'failed' | 'stopped'>> {
	const counts = { recovered: 0, failed: 0, stopped: 0 };
	for (let offset = 0; ;) {
		const page = await persistent.list({
			status: ['running', 'exporting'],
			offset,
			limit: pageSize,
			order: 'asc',
		});
		if (page.tasks.length === 0) break;
		const now = Date.now();
		const moved = await Promise.all(
			page.tasks.map(async (task) => {
				const { to, patch } = reclaimMove(task, now);
				if ((await persistent.transition(task.id, task.status, to, patch)) === null) return false;
				counts[to === 'waiting' ? 'recovered' : to]++;
				return true;
			}),
		);
		offset += moved.filter((ok) => !ok).length;
		if (page.tasks.length < pageSize && moved.every(Boolean)) break;
	}
	return counts;
}
