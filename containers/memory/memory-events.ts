/**
 * The in-memory containers' change log (`readChanges`): changes recorded synchronously in the step that makes them,
 * only while a follower read within the follow window. Cursors are sequence numbers; a change made while nobody
 * followed takes a number too (it is not stored), so a follower whose cursor is older than it is told of the gap.
 */
import {
	CHANGE_RETENTION_MS,
	copyTask,
	FOLLOW_WINDOW_MS,
	isFinalChange,
	type TaskChange,
	type TaskChangePage,
	type TaskChangeQuery,
	type TaskChangeType,
	type TaskRecord,
} from 'lightsched/kit';

/** The most changes kept, whatever their age. */
const MAX_KEPT = 100_000;

interface Entry {
	readonly seq: number;
	readonly change: TaskChange;
}

export class MemoryChangeLog {
	#entries: Entry[] = [];
	#head = 0;
	#seq = 0;
	/** The newest sequence number that was not kept (skipped while nobody followed, or trimmed); 0 for none. */
	#lost = 0;
	/** Until when changes are recorded (a follower read within the window); 0 while nobody follows. */
	#followedUntil = 0;
	readonly #waiters = new Set<() => void>();

	/** Record a change of `rec` (its fields as they are now), if someone follows. */
	record(rec: TaskRecord, type: TaskChangeType | null): void {
		if (type === null) return;
		if (this.#followedUntil === 0) {
			this.#lost = ++this.#seq;
			return;
		}
		const now = Date.now();
		if (now > this.#followedUntil) {
			this.#followedUntil = 0;
			this.#lost = ++this.#seq;
			return;
		}
		const seq = ++this.#seq;
		const change: { -readonly [K in keyof TaskChange]: TaskChange[K] } = {
			cursor: String(seq),
			id: rec.id,
			type,
			at: rec.updatedAt,
			attempts: rec.attempts,
		};
		if (type === 'succeeded') change.output = rec.output;
		else if (type === 'failed' || type === 'retrying') change.error = rec.error;
		else if (type === 'progress') change.progress = rec.progress;
		if (isFinalChange(type)) change.record = copyTask(rec);
		this.#entries.push({ seq, change });
		this.#trim(now);
		if (this.#waiters.size > 0) for (const wake of [...this.#waiters]) wake();
	}

	async read(query: TaskChangeQuery): Promise<TaskChangePage> {
		this.#followedUntil = Date.now() + FOLLOW_WINDOW_MS;
		if (query.after === null) return { changes: [], next: String(this.#seq), gap: false };
		let after = Number(query.after);
		if (!Number.isSafeInteger(after) || after < 0) {
			throw new TypeError(`Expected \`after\` to be a cursor this container handed out, got ${query.after}`);
		}
		// A cursor from the future (another container's, or one from before a restart): everything kept is new.
		const fromElsewhere = after > this.#seq;
		if (fromElsewhere) after = 0;
		if (query.waitMs > 0 && this.#seq <= after && query.signal?.aborted !== true) await this.#wait(query);
		const gap = fromElsewhere || after < this.#lost;
		const changes: TaskChange[] = [];
		for (let i = this.#indexAfter(after); i < this.#entries.length && changes.length < query.limit; i++) {
			changes.push((this.#entries[i] as Entry).change);
		}
		const last = changes.at(-1);
		return {
			changes,
			next: last?.cursor ?? String(fromElsewhere || gap ? Math.max(after, this.#lost) : after),
			gap,
		};
	}

	#wait(query: TaskChangeQuery): Promise<void> {
		return new Promise((resolve) => {
			const done = (): void => {
				clearTimeout(timer);
				this.#waiters.delete(done);
				query.signal?.removeEventListener('abort', done);
				resolve();
			};
			const timer = setTimeout(done, query.waitMs);
			this.#waiters.add(done);
			query.signal?.addEventListener('abort', done, { once: true });
		});
	}

	/** The index of the first kept entry after sequence number `after`. */
	#indexAfter(after: number): number {
		let lo = this.#head;
		let hi = this.#entries.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if ((this.#entries[mid] as Entry).seq <= after) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	}

	#trim(now: number): void {
		const entries = this.#entries;
		while (
			this.#head < entries.length &&
			(entries.length - this.#head > MAX_KEPT ||
				(entries[this.#head] as Entry).change.at < now - CHANGE_RETENTION_MS)
		) {
			this.#lost = Math.max(this.#lost, (entries[this.#head] as Entry).seq);
			this.#head++;
		}
		if (this.#head >= 1024 && this.#head * 2 >= entries.length) {
			this.#entries = entries.slice(this.#head);
			this.#head = 0;
		}
	}

	/** Wake every waiting reader (at close). */
	close(): void {
		for (const wake of [...this.#waiters]) wake();
	}
}
