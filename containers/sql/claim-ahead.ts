/**
 * Claim-ahead (PostgreSQL; SQLite in the same statement on `sqlite3`, statements.ts `claimAheadRows`, and in the same
 * transaction on better-sqlite3): when a busy scheduler's tasks reach a final status, the statement that stores those
 * transitions also claims as many due tasks for the same owner (transitions.ts, statements.ts `claimAhead`), and the
 * container holds them here until the scheduler's next `claim`, which follows at once (the finished tasks freed
 * their slots) and is answered from here without a round trip. A slot is then refilled with one statement per
 * batch of finished tasks instead of two (store, then claim). The claim is the same compare-and-set claim as
 * `claim`'s (`FOR UPDATE SKIP LOCKED`, due tasks in priority order, the pause honoured), made on the database's
 * clock and with the lease of the owner's last claim.
 *
 * Only for owners whose last claim came back full (a backlog), and not while a promotion of delayed tasks may be
 * due (the scheduler's next claim then goes to the database and promotes first). A held task that is not taken
 * within a quarter of its lease (at most 250 ms) is handed back to waiting, its attempt not counted, so a paused or
 * closing scheduler never sits on tasks; `close` hands back all of them. A held task's lease is never renewed: it
 * is taken or handed back long before it lapses. A renewal does not report held tasks as `unknown`. A statement
 * whose reply was lost leaves its claimed-ahead tasks leased to an owner that never heard of them: its renewals
 * report them as `unknown`, and it hands them back, as after a claim whose reply was lost.
 *
 * The same design as the Redis container's (containers/redis/transitions.ts); holding, the hold time and handing
 * back are the core's rule for both (`HeldTasks`).
 */
import type { TaskRecord } from 'lightsched';
import { HeldTasks } from 'lightsched/kit';
import { byClaimOrder, numOrNull, rowToRecord } from './rows.js';
import type { Statement } from './statements.js';
import type { AheadHook, TransitionRequest } from './transitions.js';

const FINAL = new Set(['succeeded', 'failed', 'stopped']);
const ACTIVE = new Set(['running', 'exporting']);

/** Containers whose claim-ahead is off (tests that state the contract's moves only, see test/model). */
export const claimAheadOff = new WeakSet<object>();

export class ClaimAheadBuffer extends HeldTasks {
	/** Each owner's lease length as of its last claim. */
	readonly #leases = new Map<string, number>();

	/**
	 * A claim of up to `max` tasks for `owner`: the tasks held for it first, then `rest` (the claim statement) for
	 * what they leave; notes whether the claim came back full. When `rest` fails, the held tasks taken are handed
	 * back and the owner is not claimed ahead for until a claim comes back full again.
	 */
	async claim(
		owner: string,
		max: number,
		leaseMs: number,
		rest: (n: number) => Promise<TaskRecord[]>,
	): Promise<TaskRecord[]> {
		const held = this.take(owner, max);
		if (held.length === max) return held.sort(byClaimOrder);
		let claimed: TaskRecord[];
		try {
			claimed = await rest(max - held.length);
		} catch (error) {
			this.forget(owner);
			void this.handBackNow(held, owner);
			throw error;
		}
		this.noteClaim(owner, leaseMs, max, held.length + claimed.length);
		return held.concat(claimed).sort(byClaimOrder);
	}

	/**
	 * The transition batcher's hook: a claim ahead for the owner `want` picks, unless `off` (closed, or claim-ahead
	 * turned off) or `promotion` says to wait for a promotion of delayed tasks (the owner's next claim then goes to the
	 * database and promotes first). When it says `note`, the statement also reads the earliest delayed run_at
	 * (`note`), handed to `noted` with the time the statement was planned (promotion.ts). `statement` and `note` build
	 * their SQL at the time given (the caller's clock).
	 */
	hook(parts: {
		readonly statement: (owner: string, leaseMs: number, max: number, now: number) => Statement;
		readonly off: () => boolean;
		readonly promotion: (now: number) => 'none' | 'note' | 'wait';
		readonly note: ((now: number) => Statement) | null;
		readonly noted: (wall: number, next: number | null, due: boolean) => void;
	}): AheadHook {
		return {
			plan: (batch) => {
				if (parts.off()) return null;
				const want = this.want(batch);
				const now = Date.now();
				if (want === null) return null;
				const promotion = parts.promotion(now);
				if (promotion === 'wait' || (promotion === 'note' && parts.note === null)) return null;
				const statement = parts.statement(want.owner, want.leaseMs, want.count, now);
				if (promotion === 'none' || parts.note === null) return { owner: want.owner, ...statement, note: null };
				const read = (rows: readonly Record<string, unknown>[]): void => {
					// Every row carries the look; none (nothing finished, nothing claimed): not made, looked at again.
					const row = rows[0];
					if (row !== undefined && 'delayed_due' in row)
						parts.noted(now, numOrNull(row['delayed_next']), row['delayed_due'] === true);
				};
				return { owner: want.owner, ...statement, note: { ...parts.note(now), read } };
			},
			claimed: (owner, rows) => {
				const tasks = rows.map(rowToRecord);
				// Turned off (closed) meanwhile: nobody will take them.
				if (parts.off()) void this.handBackNow(tasks, owner);
				else this.hold(owner, tasks, this.#leases.get(owner) ?? 0);
			},
		};
	}

	/**
	 * The claim to fold into a statement of `batch`: for the owner with the most tasks moving from running or
	 * exporting to a final status (each frees a slot its scheduler refills at once), when its last claim came back
	 * full, as many tasks as that; or null.
	 */
	want(batch: readonly TransitionRequest[]): { owner: string; count: number; leaseMs: number } | null {
		if (!this.backlogged) return null;
		const freed = new Map<string, number>();
		for (const t of batch) {
			if (
				t.owner === undefined ||
				this.leaseFor(t.owner) === undefined ||
				!FINAL.has(t.to) ||
				!ACTIVE.has(t.from)
			)
				continue;
			freed.set(t.owner, (freed.get(t.owner) ?? 0) + 1);
		}
		let best: { owner: string; count: number; leaseMs: number } | null = null;
		for (const [owner, count] of freed)
			if (best === null || count > best.count) best = { owner, count, leaseMs: this.leaseFor(owner) as number };
		return best;
	}

	/** As the core's, and remember `owner`'s lease (what tasks claimed ahead for it are held by). */
	override noteClaim(owner: string, leaseMs: number, max: number, got: number): void {
		this.#leases.set(owner, leaseMs);
		super.noteClaim(owner, leaseMs, max, got);
	}

	/** Hand back everything held, and claim ahead no more (on close). */
	override async drain(): Promise<void> {
		this.#leases.clear();
		await super.drain();
	}
}
