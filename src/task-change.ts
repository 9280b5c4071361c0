/**
 * Task changes: what a container records of each task's life while someone follows (`TaskContainer.readChanges`),
 * so any process — one with no actuator too — can follow every task and await a task's end.
 */
import type { TaskError, TaskPatch, TaskRecord, TaskStatus } from './task.js';

/** What happened to a task. */
export type TaskChangeType = 'added' | 'started' | 'progress' | 'retrying' | 'succeeded' | 'failed' | 'stopped';

/** Every change type, in life order. */
export const TASK_CHANGE_TYPES: readonly TaskChangeType[] = [
	'added',
	'started',
	'progress',
	'retrying',
	'succeeded',
	'failed',
	'stopped',
];

/** One recorded change of one task. */
export interface TaskChange {
	/** Where this change is in the container's log (opaque; resume after it with `readChanges`). */
	readonly cursor: string;
	/** The task's id. */
	readonly id: string;
	/**
	 * What happened: `added` (also a re-run), `started` (claimed for an attempt), `progress`, `retrying` (back to
	 * waiting with attempts left, or a claim handed back unstarted), or the final `succeeded`, `failed`, `stopped`.
	 */
	readonly type: TaskChangeType;
	/** When, in milliseconds since the epoch (the time the container stored on the record: `updatedAt`). */
	readonly at: number;
	/** The task's attempts so far. */
	readonly attempts: number;
	/** With `succeeded`: the output (`null` for none). */
	readonly output?: unknown;
	/** With `failed`, and with `retrying` after a failure: the error. */
	readonly error?: TaskError | null;
	/** With `progress`: the progress reported. */
	readonly progress?: unknown;
	/**
	 * With a final change, where the container records it (Redis, PostgreSQL, the in-memory containers): the task's
	 * whole final record, so `waitFor` answers without reading it back.
	 */
	readonly record?: TaskRecord;
}

/** What `readChanges` takes. */
export interface TaskChangeQuery {
	/**
	 * The cursor to read after (a `TaskChange.cursor` or a page's `next`), or `null` for "from now": the call then
	 * registers the follower and resolves at once with no changes and the cursor of now.
	 */
	readonly after: string | null;
	/** The most changes to return. */
	readonly limit: number;
	/** When there is nothing after `after`, wait up to this long for a change (0: answer at once). */
	readonly waitMs: number;
	/** Aborting ends the wait early (the page is then empty). */
	readonly signal?: AbortSignal;
}

/** One page of changes. */
export interface TaskChangePage {
	/** The changes after the query's cursor, oldest first. */
	readonly changes: TaskChange[];
	/** The cursor to read after next time (the last change's, or the query's when there was none). */
	readonly next: string;
	/**
	 * Changes after the query's cursor may be lost: the cursor is older than the retention window, or nobody
	 * followed for longer than the follow window so nothing was recorded. The page goes on from the oldest kept.
	 */
	readonly gap: boolean;
}

/** Whether a change ends the task (a final status). */
export function isFinalChange(type: TaskChangeType): boolean {
	return type === 'succeeded' || type === 'failed' || type === 'stopped';
}

/**
 * The change a move records, or `null` for a move that records none (to `exporting`, a running task's new `ref`,
 * a waiting task's new due time). Every container derives the type with this rule (the SQL triggers and the Redis
 * scripts state it again).
 */
export function changeTypeOf(from: TaskStatus | null, to: TaskStatus, patch?: TaskPatch): TaskChangeType | null {
	if (from === null) return to === 'waiting' ? 'added' : null;
	switch (to) {
		case 'waiting':
			if (from === 'running' || from === 'exporting') return 'retrying';
			return from === 'waiting' ? null : 'added';
		case 'running':
			if (from === 'waiting') return 'started';
			return from === 'running' && patch !== undefined && 'progress' in patch ? 'progress' : null;
		case 'exporting':
			return null;
		default:
			return to;
	}
}

/** How long a follower counts as present after its last read: while one is, every change is recorded. */
export const FOLLOW_WINDOW_MS = 5 * 60_000;
/** How long recorded changes are kept (at least): a follower that reconnects within it loses nothing. */
export const CHANGE_RETENTION_MS = 5 * 60_000;
