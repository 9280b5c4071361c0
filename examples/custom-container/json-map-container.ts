/**
 * A third-party container, written against `lightsched/kit` only: every task is kept as a JSON string in a `Map`,
 * as a key-value store would keep it, so it shows what a persistent backend has to do (check that JSON carries
 * each item and output, encode and decode every declared field, hand out copies, apply the reclaim rule). It
 * scans all tasks for each claim: a sketch, not a fast store. `test/examples/custom-container.test.ts` runs the
 * kit's container contract suite on it through `lightsched/testing`, and checks its encoding against the
 * declared record fields.
 */
import {
	assertJsonOutput,
	assertStorableTask,
	copyTask,
	DuplicateKeyError,
	DuplicateTaskError,
	emptyCounts,
	InvalidStateError,
	isFinalStatus,
	isSameClaim,
	LeaseExpiredError,
	SchedulerClosedError,
	TASK_FIELD_NAMES,
	toTaskError,
	type ClaimGuard,
	type ContainerSignal,
	type RenewResult,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched/kit';

/** The stored form of a record: one JSON string with every declared field (`TASK_FIELD_NAMES`). */
export function encodeRecord(record: Readonly<TaskRecord>): string {
	const fields: Record<string, unknown> = {};
	for (const name of TASK_FIELD_NAMES) fields[name] = record[name];
	return JSON.stringify(fields);
}

/** A record back from its stored form (a fresh object: changing it changes nothing stored). */
export function decodeRecord(text: string): TaskRecord {
	return JSON.parse(text) as TaskRecord;
}

export class JsonMapContainer implements TaskContainer {
	/** Only one process sees the map: no lease renewal or reclaim by schedulers needed. */
	readonly shared = false;
	/** Encoded records by id, in arrival order (a re-run is deleted and set again, so it moves to the end). */
	readonly #rows = new Map<string, string>();
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	#seq = 0;
	#closed = false;

	async add(tasks: readonly TaskRecord[]): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		// Every check before anything is stored: all or nothing.
		const seen = new Set<string>();
		const keys = new Map<string, string>();
		tasks.forEach((task, index) => {
			assertStorableTask(task, index);
			if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			seen.add(task.id);
			const existing = this.#read(task.id);
			if (existing !== null && !isFinalStatus(existing.status)) throw new DuplicateTaskError(task.id);
			// A deduplication key is held by a waiting or running task (a scan here; an index in a real store).
			if (task.key === null) return;
			const other = keys.get(task.key);
			if (other !== undefined) throw new DuplicateKeyError(task.key, other);
			keys.set(task.key, task.id);
			const holder = this.#all().find((t) => t.key === task.key && !isFinalStatus(t.status));
			if (holder !== undefined) throw new DuplicateKeyError(task.key, holder.id);
		});
		for (const task of tasks) {
			task.seq = ++this.#seq;
			this.#rows.delete(task.id);
			this.#write({ ...copyTask(task), status: 'waiting' });
		}
		if (tasks.length > 0) this.#signal({ type: 'wake' });
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		const due = this.#all()
			.filter((task) => task.status === 'waiting' && task.runAt <= now)
			.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
			.slice(0, Math.max(0, max));
		for (const task of due) {
			Object.assign(task, {
				status: 'running',
				owner,
				leaseUntil: now + leaseMs,
				startedAt: now,
				updatedAt: now,
				attempts: task.attempts + 1,
			});
			this.#write(task);
		}
		return due;
	}

	async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		const task = this.#read(id);
		if (task === null || task.status !== from || (owner !== undefined && task.owner !== owner)) return null;
		// Only the claim named, never a later claim of the task (a hand-back read before it was claimed again).
		if (claim !== undefined && !isSameClaim(task, claim)) return null;
		// An output JSON would change fails the attempt (InvalidOutputError), before anything is stored.
		if (patch.output !== undefined) assertJsonOutput(patch.output, 'output');
		Object.assign(task, patch, { status: to, updatedAt: Date.now() });
		this.#write(task);
		if (to === 'waiting') this.#signal({ type: 'wake' });
		return task;
	}

	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		const lost: string[] = [];
		const stopRequested: string[] = [];
		for (const id of ids) {
			const task = this.#read(id);
			if (task === null || task.owner !== owner || (task.status !== 'running' && task.status !== 'exporting')) {
				lost.push(id);
				continue;
			}
			task.leaseUntil = now + leaseMs;
			this.#write(task);
			if (task.stopRequested) stopRequested.push(id);
		}
		return { lost, stopRequested };
	}

	/** The reclaim rule, as `TaskContainer.reclaimExpired` states it. */
	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		const moved: TaskRecord[] = [];
		for (const task of this.#all()) {
			if (task.status !== 'running' && task.status !== 'exporting') continue;
			if (task.leaseUntil === null || task.leaseUntil >= now) continue;
			Object.assign(task, { owner: null, leaseUntil: null, updatedAt: now });
			if (task.stopRequested) Object.assign(task, { status: 'stopped', finishedAt: now });
			else if (task.attempts < task.maxAttempts) Object.assign(task, { status: 'waiting', runAt: now });
			else
				Object.assign(task, {
					status: 'failed',
					finishedAt: now,
					error: toTaskError(new LeaseExpiredError(task.id)),
				});
			this.#write(task);
			moved.push(task);
		}
		if (moved.some((task) => task.status === 'waiting')) this.#signal({ type: 'wake' });
		return moved;
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		const task = this.#read(id);
		if (task === null || (task.status !== 'running' && task.status !== 'exporting')) return null;
		task.stopRequested = true;
		this.#write(task);
		this.#signal({ type: 'stop', id });
		return task;
	}

	async nextDueAt(now: number): Promise<number | null> {
		let next: number | null = null;
		for (const task of this.#all()) {
			if (task.status === 'waiting' && task.runAt > now && (next === null || task.runAt < next))
				next = task.runAt;
		}
		return next;
	}

	async get(id: string): Promise<TaskRecord | null> {
		return this.#read(id);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		const { offset = 0, limit = 100, order = 'asc' } = query;
		const statuses: readonly TaskStatus[] | null =
			query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : query.status;
		const matching = this.#all()
			.filter((task) => statuses === null || statuses.includes(task.status))
			.sort((a, b) => (order === 'asc' ? a.seq - b.seq : b.seq - a.seq));
		const tasks = matching.slice(offset, offset + Math.max(0, limit));
		// Counting is free here, so `total` stays exact even when the query says `exactTotal: false`.
		return { tasks, total: matching.length, more: offset + tasks.length < matching.length };
	}

	async counts(): Promise<TaskCounts> {
		const counts = emptyCounts();
		for (const task of this.#all()) counts[task.status]++;
		return counts;
	}

	async remove(id: string): Promise<boolean> {
		const task = this.#read(id);
		if (task === null) return false;
		if (!isFinalStatus(task.status))
			throw new InvalidStateError(`Task \`${id}\` is ${task.status}: stop it before removing it`);
		this.#rows.delete(id);
		return true;
	}

	watch(listener: (signal: ContainerSignal) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	async close(): Promise<void> {
		this.#closed = true;
	}

	#read(id: string): TaskRecord | null {
		const text = this.#rows.get(id);
		return text === undefined ? null : decodeRecord(text);
	}

	#write(task: TaskRecord): void {
		this.#rows.set(task.id, encodeRecord(task));
	}

	#all(): TaskRecord[] {
		return [...this.#rows.values()].map(decodeRecord);
	}

	#signal(signal: ContainerSignal): void {
		for (const listener of this.#listeners) listener(signal);
	}
}
