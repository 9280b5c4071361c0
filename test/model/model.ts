/**
 * The reference model of the task state machine: what `TaskContainer` (src/contracts.ts) says each method does,
 * written as plainly as possible over a map of records. The model-based test runs random command sequences
 * against it and against every container, and compares every result and every stored record.
 *
 * It decides everything a container decides except two things it cannot know: `seq` values (only their order,
 * arrival order, is compared) and `updatedAt` (the container's clock).
 */
import {
	LeaseExpiredError,
	toTaskError,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched/kit';

const FINAL: readonly TaskStatus[] = ['succeeded', 'failed', 'stopped'];
const isFinal = (status: TaskStatus): boolean => FINAL.includes(status);
const isActive = (status: TaskStatus): boolean => status === 'running' || status === 'exporting';

/** What a container method that may throw gave: its value, or the `code` of the error it threw. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string };

export class TaskModel {
	/** Records in arrival (`seq`) order: a re-added id is deleted and set again, so it moves to the end. */
	readonly tasks = new Map<string, TaskRecord>();
	#seq = 0;

	/** Whether claims follow priority (higher first); the FIFO queue ignores it. */
	constructor(readonly priority: boolean) {}

	add(tasks: readonly TaskRecord[]): Outcome<void> {
		const seen = new Set<string>();
		for (const task of tasks) {
			const existing = this.tasks.get(task.id);
			if (seen.has(task.id) || (existing !== undefined && !isFinal(existing.status)))
				return { ok: false, code: 'ERR_DUPLICATE_TASK' };
			seen.add(task.id);
		}
		for (const task of tasks) {
			this.tasks.delete(task.id);
			this.tasks.set(task.id, { ...task, status: 'waiting', seq: ++this.#seq });
		}
		return { ok: true, value: undefined };
	}

	/** The due waiting tasks, in claim order (highest priority first, then arrival; arrival only without priority). */
	due(now: number): TaskRecord[] {
		const due = [...this.tasks.values()].filter((t) => t.status === 'waiting' && t.runAt <= now);
		return this.priority ? due.sort((a, b) => b.priority - a.priority || a.seq - b.seq) : due;
	}

	/** Claim the tasks `ids` (chosen by `due` or, for a FIFO container, by the container among the due ones). */
	claim(ids: readonly string[], owner: string, leaseMs: number, now: number): TaskRecord[] {
		return ids.map((id) => {
			const task = this.tasks.get(id) as TaskRecord;
			Object.assign(task, {
				status: 'running',
				owner,
				leaseUntil: now + leaseMs,
				startedAt: now,
				attempts: task.attempts + 1,
			});
			return { ...task };
		});
	}

	transition(id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch, owner?: string): TaskRecord | null {
		const task = this.tasks.get(id);
		if (task === undefined || task.status !== from || (owner !== undefined && task.owner !== owner)) return null;
		for (const [key, value] of Object.entries(patch))
			if (value !== undefined) (task as unknown as Record<string, unknown>)[key] = value;
		task.status = to;
		return { ...task };
	}

	renew(
		owner: string,
		ids: readonly string[],
		leaseMs: number,
		now: number,
	): { lost: string[]; stopRequested: string[]; unknown: string[] } {
		const lost: string[] = [];
		const stopRequested: string[] = [];
		for (const id of ids) {
			const task = this.tasks.get(id);
			if (task === undefined || task.owner !== owner || !isActive(task.status)) {
				lost.push(id);
				continue;
			}
			task.leaseUntil = now + leaseMs;
			if (task.stopRequested) stopRequested.push(id);
		}
		const unknown = [...this.tasks.values()]
			.filter((t) => t.owner === owner && isActive(t.status) && !ids.includes(t.id))
			.map((t) => t.id);
		return { lost, stopRequested, unknown };
	}

	/** The reclaim rule, as `reclaimExpired`'s doc states it. */
	reclaimExpired(now: number): TaskRecord[] {
		const moved: TaskRecord[] = [];
		for (const task of this.tasks.values()) {
			if (!isActive(task.status) || task.leaseUntil === null || task.leaseUntil >= now) continue;
			task.owner = null;
			task.leaseUntil = null;
			if (task.stopRequested) {
				task.status = 'stopped';
				task.finishedAt = now;
			} else if (task.attempts < task.maxAttempts) {
				task.status = 'waiting';
				task.runAt = now;
			} else {
				task.status = 'failed';
				task.finishedAt = now;
				task.error = toTaskError(new LeaseExpiredError(task.id));
			}
			moved.push({ ...task });
		}
		return moved;
	}

	requestStop(id: string): TaskRecord | null {
		const task = this.tasks.get(id);
		if (task === undefined || !isActive(task.status)) return null;
		task.stopRequested = true;
		return { ...task };
	}

	/** Whether a waiting task is due at `now` (a claim would take it). */
	dueNow(now: number): boolean {
		return [...this.tasks.values()].some((t) => t.status === 'waiting' && t.runAt <= now);
	}

	nextDueAt(now: number): number | null {
		const later = [...this.tasks.values()]
			.filter((t) => t.status === 'waiting' && t.runAt > now)
			.map((t) => t.runAt);
		return later.length === 0 ? null : Math.min(...later);
	}

	get(id: string): TaskRecord | null {
		const task = this.tasks.get(id);
		return task === undefined ? null : { ...task };
	}

	list(query: TaskQuery = {}): TaskPage {
		const { offset = 0, limit = 100, order = 'asc' } = query;
		const statuses =
			query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : query.status;
		const all = [...this.tasks.values()].filter((t) => statuses === null || statuses.includes(t.status));
		if (order === 'desc') all.reverse();
		const tasks = all.slice(offset, offset + Math.max(0, limit)).map((t) => ({ ...t }));
		return { tasks, total: all.length, more: offset + tasks.length < all.length };
	}

	counts(): TaskCounts {
		const counts: TaskCounts = { waiting: 0, running: 0, exporting: 0, succeeded: 0, failed: 0, stopped: 0 };
		for (const task of this.tasks.values()) counts[task.status]++;
		return counts;
	}

	remove(id: string): Outcome<boolean> {
		const task = this.tasks.get(id);
		if (task === undefined) return { ok: true, value: false };
		if (!isFinal(task.status)) return { ok: false, code: 'ERR_INVALID_STATE' };
		this.tasks.delete(id);
		return { ok: true, value: true };
	}
}
