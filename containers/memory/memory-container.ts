/**
 * The in-memory state machine both memory containers share; they differ only in the order in which due
 * waiting tasks come out (`WaitingOrder`). Records handed out are copies (callers cannot change stored state):
 * `copyTask` on the async methods, a `ClaimedTask` (a copy linked to its stored record) on the synchronous face.
 */
import {
	assertCleanQuery,
	ownRetention,
	copyTask,
	DuplicateKeyError,
	DuplicateTaskError,
	emptyCounts,
	InvalidStateError,
	isFinalStatus,
	isSameClaim,
	reclaimMove,
	SchedulerClosedError,
	type ClaimGuard,
	type CleanQuery,
	type ContainerSignal,
	type RepeatRecord,
	type TaskLogPage,
	type TaskLogQuery,
	type RenewResult,
	type SyncContainerOperations,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
	changeTypeOf,
	type TaskChangePage,
	type TaskChangeQuery,
} from 'lightsched/kit';
import { Deque } from '../../src/deque.js';
import { MemoryChangeLog } from './memory-events.js';
import { ClaimedTask } from './claimed-task.js';
import { MemoryLogs } from './memory-logs.js';
import { MemoryRepeats } from './memory-repeats.js';
import { countStatus } from './status-counts.js';
import { applyPatch, StoredTask } from './stored-task.js';
import { TaskStore } from './task-store.js';
import { WaitingTasks, type WaitingOrder } from './waiting-tasks.js';
import { cleanSelection, expiredLeases, listPage } from './memory-queries.js';
import { DEFAULT_KEEP_FINISHED, keepFinishedOf, type MemoryContainerOptions } from './memory-options.js';

export type { WaitingOrder };
export { DEFAULT_KEEP_FINISHED, type MemoryContainerOptions };

export abstract class MemoryContainer implements TaskContainer {
	readonly shared = false;
	readonly #tasks = new TaskStore();
	readonly #waiting: WaitingTasks;
	readonly #counts: TaskCounts = emptyCounts();
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	#seq = 0;
	#closed = false;
	/** Queue-wide pause (`setPaused`): no claim takes anything while set. */
	#paused = false;
	readonly #repeats = new MemoryRepeats();
	readonly #logs = new MemoryLogs();
	/** Task changes, recorded while someone follows (`readChanges`). */
	readonly #changes = new MemoryChangeLog();
	/** The task holding each deduplication key (a finished holder no longer holds it). */
	readonly #keys = new Map<string, StoredTask>();
	/** Finished tasks in the order they finished; the oldest are forgotten past `keepFinished`. */
	readonly #finishedOrder = new Deque<StoredTask>();
	/** Finished tasks with their own retention rule for their status (`TaskRecord.retention`), in finishing order. */
	readonly #ownRules = new Set<StoredTask>();
	readonly #keepFinished: number;

	/** The same operations without promises; the scheduler's hot path uses them. */
	readonly sync: SyncContainerOperations = {
		add: (tasks, fresh) => this.#add(tasks, fresh === true),
		claim: (max, owner, leaseMs, now) => this.#claim(max, owner, leaseMs, now, true),
		transition: (task, from, to, patch, owner) => {
			// A stored record that is not final is the one stored under its id (re-runs replace only final ones).
			const held = task instanceof ClaimedTask ? ClaimedTask.storedOf(task, this) : undefined;
			const rec =
				held !== undefined && held.status === from && !isFinalStatus(from) ? held : this.#tasks.get(task.id);
			if (rec === undefined) return null;
			// A finish is stamped by the caller's clock read just now (`finishedAt`): the same time is the record's last
			// change, with no second clock read (`Date.now()` costs 0.2 µs on some virtual machines).
			const { finishedAt } = patch;
			const moved = this.#move(
				rec,
				from,
				to,
				patch,
				owner,
				typeof finishedAt === 'number' && isFinalStatus(to) ? finishedAt : Date.now(),
			);
			if (moved === null) return null;
			if (moved !== held) return copyTask(moved);
			// The claimed copy of this very record: brought up to date, it is the caller's record of the result.
			ClaimedTask.refresh(task as ClaimedTask, moved);
			return task;
		},
	};

	protected constructor(waiting: WaitingOrder, options: MemoryContainerOptions = {}) {
		this.#waiting = new WaitingTasks(waiting);
		this.#keepFinished = keepFinishedOf(options);
	}

	async add(tasks: readonly TaskRecord[]): Promise<void> {
		this.#add(tasks);
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		return this.#claim(max, owner, leaseMs, now);
	}

	async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		const rec = this.#tasks.get(id);
		if (rec === undefined || (claim !== undefined && !isSameClaim(rec, claim))) return null;
		const moved = this.#move(rec, from, to, patch, owner, Date.now());
		return moved === null ? null : copyTask(moved);
	}

	/** @param fresh the caller generated every id for this add: none is stored, none to look up */
	#add(tasks: readonly TaskRecord[], fresh = false): void {
		if (this.#closed) throw new SchedulerClosedError('container');
		const only = tasks.length === 1 ? tasks[0] : undefined;
		let replaced: StoredTask | undefined;
		if (only !== undefined) {
			replaced = fresh ? undefined : this.#tasks.get(only.id);
			if (replaced !== undefined && !isFinalStatus(replaced.status)) throw new DuplicateTaskError(only.id);
			if (only.key !== null) this.#checkKey(only.key);
		} else {
			const seen = new Set<string>();
			const keys = new Map<string, string>();
			for (const task of tasks) {
				if (!fresh) {
					if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
					const existing = this.#tasks.get(task.id);
					if (existing !== undefined && !isFinalStatus(existing.status))
						throw new DuplicateTaskError(task.id);
					seen.add(task.id);
				}
				if (task.key === null) continue;
				const other = keys.get(task.key);
				if (other !== undefined) throw new DuplicateKeyError(task.key, other);
				this.#checkKey(task.key);
				keys.set(task.key, task.id);
			}
		}
		// A fresh add's records were made by the scheduler in this very call, by this clock: one due when made
		// (`runAt` at most `createdAt`, as every task added without a `runAt`) is due now, with no clock read
		// (`Date.now()` costs 0.2 µs on some virtual machines). Others may come from another clock (a restore).
		let now = fresh ? -1 : Date.now();
		for (const task of tasks) {
			const existing = only !== undefined || fresh ? replaced : this.#tasks.get(task.id);
			if (existing !== undefined) this.#forget(existing);
			// The container's own copy, in its storage class; the caller's record gets the arrival number too.
			const rec = new StoredTask(task);
			rec.status = 'waiting';
			rec.seq = task.seq = ++this.#seq;
			this.#tasks.add(rec);
			if (rec.key !== null) this.#keys.set(rec.key, rec);
			this.#counts.waiting++;
			if (now < 0 && rec.runAt <= rec.createdAt) this.#waiting.add(rec, rec.createdAt);
			else this.#waiting.add(rec, now < 0 ? (now = Date.now()) : now);
			this.#changes.record(rec, 'added');
		}
		if (tasks.length > 0) this.#signal({ type: 'wake' });
	}

	#claim(max: number, owner: string, leaseMs: number, now: number, linked = false): TaskRecord[] {
		if (this.#closed || this.#paused) return [];
		const waiting = this.#waiting;
		waiting.promoteDue(now);
		const claimed: TaskRecord[] = [];
		while (claimed.length < max) {
			const rec = waiting.next();
			if (rec === undefined) break;
			this.#setStatus(rec, 'running');
			rec.owner = owner;
			rec.leaseUntil = now + leaseMs;
			rec.startedAt = now;
			rec.updatedAt = now;
			rec.attempts++;
			this.#changes.record(rec, 'started');
			claimed.push(linked ? new ClaimedTask(rec, this) : copyTask(rec));
		}
		return claimed;
	}

	/** The compare-and-set on a stored record; returns the record itself. */
	#move(
		rec: StoredTask,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner: string | undefined,
		now: number,
	): StoredTask | null {
		if (rec.status !== from) return null;
		if (owner !== undefined && rec.owner !== owner) return null;
		const runAt = rec.runAt;
		applyPatch(rec, patch);
		rec.updatedAt = now;
		if (to !== from) this.#setStatus(rec, to);
		if (to === 'waiting' && (from !== 'waiting' || rec.runAt !== runAt)) {
			// Where it waits was chosen by its old due time: queue it again by the new one (the old entry is skipped).
			this.#waiting.requeue(rec, rec.updatedAt);
			this.#signal({ type: 'wake' });
		}
		this.#changes.record(rec, changeTypeOf(from, to, patch));
		return rec;
	}

	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		const lost: string[] = [];
		const stopRequested: string[] = [];
		for (const id of ids) {
			const rec = this.#tasks.get(id);
			if (rec === undefined || rec.owner !== owner || (rec.status !== 'running' && rec.status !== 'exporting')) {
				lost.push(id);
				continue;
			}
			rec.leaseUntil = now + leaseMs;
			if (rec.stopRequested) stopRequested.push(id);
		}
		return { lost, stopRequested };
	}

	/**
	 * Scans every stored task: schedulers never call this on an in-process container (it is not `shared`, so
	 * nothing else can hold its leases), and not tracking running tasks apart keeps the hot path short.
	 */
	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		const expired = expiredLeases(this.#tasks, now);
		const moved: TaskRecord[] = [];
		for (const rec of expired) {
			const { to, patch } = reclaimMove(rec, now);
			applyPatch(rec, patch);
			rec.updatedAt = now;
			this.#setStatus(rec, to);
			if (to === 'waiting') this.#waiting.add(rec, now);
			this.#changes.record(rec, rec.status === 'waiting' ? 'retrying' : (rec.status as 'failed' | 'stopped'));
			moved.push(copyTask(rec));
		}
		if (moved.some((rec) => rec.status === 'waiting')) this.#signal({ type: 'wake' });
		return moved;
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		const rec = this.#tasks.get(id);
		if (rec === undefined || (rec.status !== 'running' && rec.status !== 'exporting')) return null;
		rec.stopRequested = true;
		this.#signal({ type: 'stop', id });
		return copyTask(rec);
	}

	async nextDueAt(now: number): Promise<number | null> {
		return this.#paused ? null : this.#waiting.nextDueAt(now);
	}

	async get(id: string): Promise<TaskRecord | null> {
		const rec = this.#tasks.get(id);
		return rec === undefined ? null : copyTask(rec);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		return listPage(this.#tasks, this.#counts, query);
	}

	async counts(): Promise<TaskCounts> {
		return { ...this.#counts };
	}

	async remove(id: string): Promise<boolean> {
		const rec = this.#tasks.get(id);
		if (rec === undefined) return false;
		if (!isFinalStatus(rec.status)) {
			throw new InvalidStateError(`Task \`${id}\` is ${rec.status}: stop it before removing it`);
		}
		this.#forget(rec);
		return true;
	}

	async setPaused(paused: boolean): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		const resumed = this.#paused && !paused;
		this.#paused = paused;
		if (resumed) this.#signal({ type: 'wake' });
	}

	async isPaused(): Promise<boolean> {
		return this.#paused;
	}

	async clean(query: CleanQuery): Promise<string[]> {
		assertCleanQuery(query);
		const removed = cleanSelection(this.#tasks, this.#counts, this.#ownRules, query);
		for (const id of removed) this.#forget(this.#tasks.get(id) as StoredTask);
		return removed;
	}

	async appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		if (this.#tasks.get(id) !== undefined) this.#logs.append(id, lines, maxLines);
	}

	async getLogs(id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
		return this.#logs.page(id, query);
	}

	async putRepeat(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean> {
		if (this.#closed) throw new SchedulerClosedError('container');
		return this.#repeats.put(repeat, expected);
	}

	async getRepeat(key: string): Promise<RepeatRecord | null> {
		return this.#repeats.get(key);
	}

	async listRepeats(): Promise<RepeatRecord[]> {
		return this.#repeats.list();
	}

	async removeRepeat(key: string): Promise<boolean> {
		return this.#repeats.remove(key);
	}

	async advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		if (this.#closed) throw new SchedulerClosedError('container');
		return this.#repeats.advance(key, expected, next, () => {
			if (task !== null) this.#add([task]);
		});
	}

	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		return this.#changes.read(query);
	}

	watch(listener: (signal: ContainerSignal) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	async close(): Promise<void> {
		this.#closed = true;
		this.#changes.close();
	}

	#setStatus(rec: StoredTask, status: TaskStatus): void {
		const counts = this.#counts;
		countStatus(counts, rec.status, -1);
		countStatus(counts, status, 1);
		rec.status = status;
		if (rec.retention !== null) {
			if (ownRetention(rec, status) !== undefined) this.#ownRules.add(rec);
			else this.#ownRules.delete(rec);
		}
		if (status === 'succeeded' || status === 'failed' || status === 'stopped') {
			this.#finishedOrder.push(rec);
			this.#forgetOldFinished();
		}
	}

	/** Keep at most `keepFinished` finished tasks: a long-running process must not grow without bound. */
	#forgetOldFinished(): void {
		const counts = this.#counts;
		while (counts.succeeded + counts.failed + counts.stopped > this.#keepFinished) {
			const oldest = this.#finishedOrder.shift();
			if (oldest === undefined) return;
			if (StoredTask.placeOf(oldest) === 'gone' || !isFinalStatus(oldest.status)) continue;
			this.#forget(oldest);
		}
	}

	/** Refuse a key that a waiting or running task holds. */
	#checkKey(key: string): void {
		const holder = this.#keys.get(key);
		if (holder !== undefined && !isFinalStatus(holder.status) && StoredTask.placeOf(holder) !== 'gone') {
			throw new DuplicateKeyError(key, holder.id);
		}
	}

	/** Drop a record from the store; entries of it left in the queues are skipped when they come out. */
	#forget(rec: StoredTask): void {
		if (rec.key !== null && this.#keys.get(rec.key) === rec) this.#keys.delete(rec.key);
		this.#logs.delete(rec.id);
		if (this.#ownRules.size > 0) this.#ownRules.delete(rec);
		countStatus(this.#counts, rec.status, -1);
		this.#tasks.delete(rec);
	}

	#signal(signal: ContainerSignal): void {
		if (this.#listeners.size === 0) return;
		for (const listener of this.#listeners) listener(signal);
	}
}
