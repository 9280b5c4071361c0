/**
 * Orphan handling: which leftover containers (labelled by a scheduler that died or restarted) are removed,
 * which are left alone because their attempt still runs, and which wait to be reattached.
 */
import type { TaskRecord } from 'lightsched';

/** The labels every container of the Docker actuator carries. */
export const LABEL_TASK = 'lightsched.task';
/** The label holding the id of the scheduler (`ctx.owner`) that started the container. */
export const LABEL_OWNER = 'lightsched.owner';
/** The label holding the actuator's `schedulerId`. */
export const LABEL_SCHEDULER = 'lightsched.scheduler';
/** The label holding the attempt number. */
export const LABEL_ATTEMPT = 'lightsched.attempt';

/**
 * What to do with a container of an earlier attempt that still runs when its task is started again (after a
 * scheduler died and another took the task over): `'reattach'` waits on it and reports its result instead of
 * starting a second container; `'kill'` kills and removes it, then starts a fresh one.
 */
export type OrphanPolicy = 'reattach' | 'kill';

/** What `DockerActuator.cleanupOrphans` takes. */
export interface CleanupOrphansOptions {
	/**
	 * Looks a task up by id in the scheduler's container, typically `(id) => scheduler.get(id)`. A container
	 * whose task is missing or finished is an orphan.
	 */
	readonly getTask: (id: string) => TaskRecord | null | Promise<TaskRecord | null>;
}

/** One container `cleanupOrphans` looked at. */
export interface OrphanContainer {
	/** The container's id. */
	readonly containerId: string;
	/** The task it ran (its `lightsched.task` label). */
	readonly taskId: string;
	/** The scheduler (`ctx.owner`) that started it. */
	readonly owner: string;
	/** Whether it was still running when found. */
	readonly running: boolean;
	/** Why it was removed or kept. */
	readonly reason:
		'task-missing' | 'task-finished' | 'superseded' | 'killed-by-policy' | 'live-attempt' | 'awaiting-reattach';
}

/** What `DockerActuator.cleanupOrphans` did. */
export interface OrphanReport {
	/** Killed (when running) and removed (unless `keepContainers`). */
	readonly removed: OrphanContainer[];
	/** Left alone: the task's current attempt runs in it, or it waits for the task's next start to reattach. */
	readonly kept: OrphanContainer[];
}

/** What the engine's container list tells about one labelled container. */
export interface LabelledContainer {
	readonly id: string;
	readonly taskId: string;
	readonly owner: string;
	readonly running: boolean;
}

/** Decides the fate of one labelled container given its task's record. */
export function judgeOrphan(
	container: LabelledContainer,
	task: TaskRecord | null,
	policy: OrphanPolicy,
): { remove: boolean; reason: OrphanContainer['reason'] } {
	if (task === null) return { remove: true, reason: 'task-missing' };
	if (task.status === 'succeeded' || task.status === 'failed' || task.status === 'stopped')
		return { remove: true, reason: 'task-finished' };
	if (task.status === 'running' || task.status === 'exporting') {
		const current =
			task.ref === container.id ||
			((task.ref === null || task.ref === undefined) && task.owner === container.owner);
		return current ? { remove: false, reason: 'live-attempt' } : { remove: true, reason: 'superseded' };
	}
	// Waiting: it runs again soon. A running container of its last attempt can be reattached to.
	if (container.running && policy === 'reattach') return { remove: false, reason: 'awaiting-reattach' };
	return { remove: true, reason: container.running ? 'killed-by-policy' : 'superseded' };
}

/**
 * `DockerActuator.cleanupOrphans` once the daemon listed the scheduler's containers: each one that no live attempt
 * owns (`mine`: the containers of attempts running here) and whose task `judgeOrphan` gives up on is removed.
 */
export async function sweepOrphans(
	listed: readonly { Id: string; State: string; Labels: Record<string, string> }[],
	mine: ReadonlySet<string | undefined>,
	getTask: CleanupOrphansOptions['getTask'],
	policy: OrphanPolicy,
	remove: (containerId: string) => Promise<void>,
): Promise<OrphanReport> {
	const removed: OrphanContainer[] = [];
	const kept: OrphanContainer[] = [];
	for (const info of listed) {
		if (mine.has(info.Id)) continue;
		const taskId = info.Labels[LABEL_TASK];
		if (taskId === undefined) continue;
		const found = { id: info.Id, taskId, owner: info.Labels[LABEL_OWNER] ?? '', running: info.State === 'running' };
		const { remove: gone, reason } = judgeOrphan(found, await getTask(taskId), policy);
		const entry: OrphanContainer = {
			containerId: info.Id,
			taskId,
			owner: found.owner,
			running: found.running,
			reason,
		};
		if (gone) {
			await remove(info.Id);
			removed.push(entry);
		} else kept.push(entry);
	}
	return { removed, kept };
}
