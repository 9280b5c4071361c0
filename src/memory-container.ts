/**
 * The in-memory state machine both memory containers share; they differ only in the order in which due
 * waiting tasks come out (`WaitingOrder`). Records handed out are copies: callers cannot change stored state.
 */
import { BinaryHeap } from './binary-heap.js';
import type { ContainerSignal, RenewResult, SyncContainerOperations, TaskContainer } from './contracts.js';
import { Deque } from './deque.js';
import { describeValue, DuplicateTaskError, InvalidStateError, LeaseExpiredError, SchedulerClosedError, toTaskError } from './errors.js';
import {
	emptyCounts,
	isFinalStatus,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
} from './task.js';

/**
 * One stored task. `place` says which structure holds it, so stale entries are skipped when they come out;
 * `gone` marks a slot no longer stored (replaced by a re-run, removed or forgotten), so skipping a stale entry
 * needs no look-up by id.
 */
export interface MemorySlot {
	rec: TaskRecord;
	place: 'none' | 'queue' | 'delayed' | 'gone';
}

/** The order due waiting tasks come out in. Entries may be stale; the container skips them. */
export interface WaitingOrder {
	readonly size: number;
	push(slot: MemorySlot): void;
	shift(): MemorySlot | undefined;
	clear(): void;
}

const copy = (rec: TaskRecord): TaskRecord => ({ ...rec });

/** The default of `MemoryContainerOptions.keepFinished`. */
export const DEFAULT_KEEP_FINISHED = 10_000;

export interface MemoryContainerOptions {
	/**
	 * How many finished tasks (succeeded, failed, stopped) stay readable with `get` and `list`; past that the
	 * oldest finished are forgotten, so a long-running process does not grow without bound. `Infinity` keeps all.
	 * @default 10000
	 */
	readonly keepFinished?: number;
}

export abstract class MemoryContainer implements TaskContainer {
	readonly shared = false;
	readonly #slots = new Map<string, MemorySlot>();
	readonly #waiting: WaitingOrder;
	readonly #delayed = new BinaryHeap<MemorySlot>((a, b) => a.rec.runAt < b.rec.runAt);
	/** Slots in `running` or `exporting`: what leases cover. */
	readonly #active = new Set<MemorySlot>();
	readonly #counts: TaskCounts = emptyCounts();
	readonly #listeners = new Set<(signal: ContainerSignal) => void>();
	#seq = 0;
	#closed = false;
	/** Finished slots in the order they finished; the oldest are forgotten past `keepFinished`. */
	readonly #finishedOrder = new Deque<MemorySlot>();
	readonly #keepFinished: number;

	/** The same operations without promises; the scheduler's hot path uses them. */
	readonly sync: SyncContainerOperations = {
		add: (tasks) => this.#add(tasks),
		claim: (max, owner, leaseMs, now) => this.#claim(max, owner, leaseMs, now, false),
		transition: (id, from, to, patch, owner) => this.#transition(id, from, to, patch, owner, false),
	};

	protected constructor(waiting: WaitingOrder, options: MemoryContainerOptions = {}) {
		this.#waiting = waiting;
		const keep = options.keepFinished ?? DEFAULT_KEEP_FINISHED;
		if (keep !== Number.POSITIVE_INFINITY && (!Number.isInteger(keep) || keep < 0)) {
			throw new TypeError(`Expected \`keepFinished\` to be an integer >= 0 or Infinity, got ${describeValue(keep)}`);
		}
		this.#keepFinished = keep;
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
	): Promise<TaskRecord | null> {
		return this.#transition(id, from, to, patch, owner);
	}

	#add(tasks: readonly TaskRecord[]): void {
		if (this.#closed) throw new SchedulerClosedError('container');
		const seen = tasks.length > 1 ? new Set<string>() : null;
		for (const task of tasks) {
			const existing = this.#slots.get(task.id);
			if (seen?.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			if (existing && !isFinalStatus(existing.rec.status)) throw new DuplicateTaskError(task.id);
			seen?.add(task.id);
		}
		const now = Date.now();
		for (const task of tasks) {
			const existing = this.#slots.get(task.id);
			if (existing) this.#forget(existing);
			// The records are handed over (see `TaskContainer.add`): kept as they are, not copied.
			const rec = task;
			rec.status = 'waiting';
			rec.seq = ++this.#seq;
			const slot: MemorySlot = { rec, place: 'none' };
			this.#slots.set(task.id, slot);
			this.#count('waiting', 1);
			this.#enqueue(slot, now);
		}
		if (tasks.length > 0) this.#signal({ type: 'wake' });
	}

	#claim(max: number, owner: string, leaseMs: number, now: number, copied = true): TaskRecord[] {
		if (this.#closed) return [];
		this.#promoteDue(now);
		const claimed: TaskRecord[] = [];
		while (claimed.length < max) {
			const slot = this.#waiting.shift();
			if (slot === undefined) break;
			if (slot.place !== 'queue') continue;
			slot.place = 'none';
			if (slot.rec.status !== 'waiting') continue;
			const rec = slot.rec;
			this.#setStatus(slot, 'running');
			rec.owner = owner;
			rec.leaseUntil = now + leaseMs;
			rec.startedAt = now;
			rec.updatedAt = now;
			rec.attempts++;
			claimed.push(copied ? copy(rec) : rec);
		}
		return claimed;
	}

	#transition(id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch, owner?: string, copied = true): TaskRecord | null {
		const slot = this.#slots.get(id);
		if (slot === undefined || slot.rec.status !== from) return null;
		if (owner !== undefined && slot.rec.owner !== owner) return null;
		const rec = slot.rec;
		Object.assign(rec, patch);
		rec.updatedAt = Date.now();
		if (to !== from) {
			this.#setStatus(slot, to);
			if (to === 'waiting') {
				this.#enqueue(slot, rec.updatedAt);
				this.#signal({ type: 'wake' });
			}
		}
		return copied ? copy(rec) : rec;
	}

	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		const lost: string[] = [];
		const stopRequested: string[] = [];
		for (const id of ids) {
			const rec = this.#slots.get(id)?.rec;
			if (rec === undefined || rec.owner !== owner || (rec.status !== 'running' && rec.status !== 'exporting')) {
				lost.push(id);
				continue;
			}
			rec.leaseUntil = now + leaseMs;
			if (rec.stopRequested) stopRequested.push(id);
		}
		return { lost, stopRequested };
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		const moved: TaskRecord[] = [];
		for (const slot of [...this.#active]) {
			const rec = slot.rec;
			if (rec.leaseUntil === null || rec.leaseUntil >= now) continue;
			rec.owner = null;
			rec.leaseUntil = null;
			rec.updatedAt = now;
			if (rec.stopRequested) {
				rec.finishedAt = now;
				this.#setStatus(slot, 'stopped');
			} else if (rec.attempts < rec.maxAttempts) {
				rec.runAt = now;
				this.#setStatus(slot, 'waiting');
				this.#enqueue(slot, now);
			} else {
				rec.error = toTaskError(new LeaseExpiredError(rec.id));
				rec.finishedAt = now;
				this.#setStatus(slot, 'failed');
			}
			moved.push(copy(rec));
		}
		if (moved.some((rec) => rec.status === 'waiting')) this.#signal({ type: 'wake' });
		return moved;
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		const slot = this.#slots.get(id);
		if (slot === undefined || (slot.rec.status !== 'running' && slot.rec.status !== 'exporting')) return null;
		slot.rec.stopRequested = true;
		this.#signal({ type: 'stop', id });
		return copy(slot.rec);
	}

	async nextDueAt(now: number): Promise<number | null> {
		this.#promoteDue(now);
		for (;;) {
			const top = this.#delayed.peek();
			if (top === undefined) return null;
			if (top.place === 'delayed' && top.rec.status === 'waiting') {
				return top.rec.runAt;
			}
			this.#delayed.pop();
		}
	}

	async get(id: string): Promise<TaskRecord | null> {
		const slot = this.#slots.get(id);
		return slot === undefined ? null : copy(slot.rec);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		const { offset = 0, limit = 100, order = 'asc' } = query;
		const statuses = query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : query.status;
		const total =
			statuses === null ? this.#slots.size : statuses.reduce((sum, status) => sum + this.#counts[status], 0);
		const tasks: TaskRecord[] = [];
		if (limit <= 0 || offset >= total) return { tasks, total };
		const all = order === 'asc' ? this.#slots.values() : [...this.#slots.values()].reverse();
		let skipped = 0;
		for (const slot of all) {
			if (statuses !== null && !statuses.includes(slot.rec.status)) continue;
			if (skipped < offset) {
				skipped++;
				continue;
			}
			tasks.push(copy(slot.rec));
			if (tasks.length >= limit) break;
		}
		return { tasks, total };
	}

	async counts(): Promise<TaskCounts> {
		return { ...this.#counts };
	}

	async remove(id: string): Promise<boolean> {
		const slot = this.#slots.get(id);
		if (slot === undefined) return false;
		if (!isFinalStatus(slot.rec.status)) {
			throw new InvalidStateError(`Task \`${id}\` is ${slot.rec.status}: stop it before removing it`);
		}
		this.#forget(slot);
		return true;
	}

	watch(listener: (signal: ContainerSignal) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	async close(): Promise<void> {
		this.#closed = true;
	}

	#enqueue(slot: MemorySlot, now: number): void {
		if (slot.place !== 'none') return;
		if (slot.rec.runAt > now) {
			slot.place = 'delayed';
			this.#delayed.push(slot);
		} else {
			slot.place = 'queue';
			this.#waiting.push(slot);
		}
	}

	#promoteDue(now: number): void {
		for (;;) {
			const top = this.#delayed.peek();
			if (top === undefined || top.rec.runAt > now) return;
			this.#delayed.pop();
			if (top.place !== 'delayed') continue;
			top.place = 'none';
			if (top.rec.status === 'waiting') this.#enqueue(top, now);
		}
	}

	#setStatus(slot: MemorySlot, status: TaskStatus): void {
		const before = slot.rec.status;
		this.#count(before, -1);
		this.#count(status, 1);
		slot.rec.status = status;
		if (status === 'running' || status === 'exporting') this.#active.add(slot);
		else if (before === 'running' || before === 'exporting') this.#active.delete(slot);
		if (status === 'succeeded' || status === 'failed' || status === 'stopped') {
			this.#finishedOrder.push(slot);
			this.#forgetOldFinished();
		}
	}

	/** Keep at most `keepFinished` finished tasks: a long-running process must not grow without bound. */
	#forgetOldFinished(): void {
		const counts = this.#counts;
		while (counts.succeeded + counts.failed + counts.stopped > this.#keepFinished) {
			const oldest = this.#finishedOrder.shift();
			if (oldest === undefined) return;
			if (oldest.place === 'gone' || !isFinalStatus(oldest.rec.status)) continue;
			this.#forget(oldest);
		}
	}

	/** Drop a slot from the store; entries of it left in the queues are skipped when they come out. */
	#forget(slot: MemorySlot): void {
		this.#count(slot.rec.status, -1);
		this.#slots.delete(slot.rec.id);
		slot.place = 'gone';
	}

	#count(status: TaskStatus, delta: number): void {
		this.#counts[status] += delta;
	}

	#signal(signal: ContainerSignal): void {
		if (this.#listeners.size === 0) return;
		for (const listener of this.#listeners) listener(signal);
	}
}
