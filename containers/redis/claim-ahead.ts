/**
 * Claim-ahead: when a busy scheduler's task reaches a final status, the transition script also claims the next
 * due task for the same owner, in the same round trip, and the container holds it here until the scheduler's next
 * `claim` (which follows at once: the finished task freed a slot). This refills a slot with one round trip per
 * task instead of two (finish, then claim), and lets the scheduler's work and Redis's overlap.
 *
 * Only for owners whose last claim came back full (a backlog); a held task that is not taken within a quarter of
 * its lease (at most 250 ms) is handed back to waiting, its attempt not counted, so a paused or closing scheduler
 * never sits on tasks.
 */
import type { TaskRecord } from 'lightsched';

interface Held {
	readonly task: TaskRecord;
	readonly deadline: number;
	/** Handed over by an add (idle-push.ts), not claimed ahead by a transition. */
	readonly pushed: boolean;
}

const MAX_HOLD_MS = 250;

export class ClaimAheadBuffer {
	/** Owners with a backlog, and their lease length. */
	readonly #hungry = new Map<string, number>();
	readonly #held = new Map<string, Held[]>();
	readonly #handBack: (task: TaskRecord, owner: string) => Promise<unknown>;
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(handBack: (task: TaskRecord, owner: string) => Promise<unknown>) {
		this.#handBack = handBack;
	}

	/** The lease to claim ahead with for `owner`, or `undefined` when its last claim found no backlog. */
	leaseFor(owner: string): number | undefined {
		return this.#hungry.get(owner);
	}

	/** Remember whether `owner`'s claim came back full (a backlog: claim ahead for it). */
	noteClaim(owner: string, leaseMs: number, max: number, got: number): void {
		if (got >= max) this.#hungry.set(owner, leaseMs);
		else this.#hungry.delete(owner);
	}

	/** Whether `id` is held for `owner` (claimed ahead, not yet taken). */
	holds(owner: string, id: string): boolean {
		return this.#held.get(owner)?.some((held) => held.task.id === id) ?? false;
	}

	/** Whether any task held for `owner` was handed over by an add (idle-push.ts). */
	hasPushed(owner: string): boolean {
		return this.#held.get(owner)?.some((held) => held.pushed) ?? false;
	}

	hold(owner: string, tasks: readonly TaskRecord[], leaseMs: number, pushed = false): void {
		const deadline = Date.now() + Math.min(MAX_HOLD_MS, Math.floor(leaseMs / 4));
		let list = this.#held.get(owner);
		if (list === undefined) {
			list = [];
			this.#held.set(owner, list);
		}
		for (const task of tasks) list.push({ task, deadline, pushed });
		this.#schedule();
	}

	/** Up to `max` held tasks of `owner` (oldest first); stale ones are handed back instead. */
	take(owner: string, max: number): TaskRecord[] {
		const list = this.#held.get(owner);
		if (list === undefined || list.length === 0) return [];
		const now = Date.now();
		const out: TaskRecord[] = [];
		while (list.length > 0 && out.length < max) {
			const held = list.shift() as Held;
			if (held.deadline > now) out.push(held.task);
			else void this.#handBack(held.task, owner);
		}
		if (list.length === 0) this.#held.delete(owner);
		return out;
	}

	/** Hand back a task taken from here that its owner will not get after all (its claim failed). */
	handBackNow(task: TaskRecord, owner: string): Promise<unknown> {
		return this.#handBack(task, owner);
	}

	/** Hand back everything held (on close). */
	async drain(): Promise<void> {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#hungry.clear();
		const all = [...this.#held.entries()].flatMap(([owner, list]) =>
			list.map((held) => this.#handBack(held.task, owner)),
		);
		this.#held.clear();
		await Promise.all(all);
	}

	#schedule(): void {
		if (this.#timer !== undefined) return;
		let earliest = Number.POSITIVE_INFINITY;
		for (const list of this.#held.values()) for (const held of list) earliest = Math.min(earliest, held.deadline);
		if (earliest === Number.POSITIVE_INFINITY) return;
		this.#timer = setTimeout(
			() => {
				this.#timer = undefined;
				const now = Date.now();
				for (const [owner, list] of this.#held) {
					const keep = list.filter((held) => held.deadline > now);
					for (const held of list) if (held.deadline <= now) void this.#handBack(held.task, owner);
					if (keep.length === 0) this.#held.delete(owner);
					else this.#held.set(owner, keep);
				}
				this.#schedule();
			},
			Math.max(1, earliest - Date.now()),
		);
		this.#timer.unref?.();
	}
}
