/**
 * Tasks a container claimed for an owner before its scheduler asked (claim-ahead on a transition, a hand-off to an
 * idle claimer), held until that owner's next `claim` takes them. A held task not taken within a quarter of its
 * lease (at most `MAX_HOLD_MS`) is handed back to waiting by the container's `handBack` (its attempt not counted),
 * so a paused or closing scheduler never sits on tasks; `drain` hands back all of them (on close). A task being
 * handed back is still held (`holds`, `ids`) until its hand-back settled: the server holds it as running for the
 * owner meanwhile, and a renewal that reads it then must not report it as `unknown` (its owner would hand it back
 * too, and by then it may have been claimed ahead for that owner again and be held here: see `#return`). It also
 * keeps which owners to claim ahead for: those whose last claim came back full (a backlog), with their lease. The rules
 * are the same on every shared container, so they live here once (the Redis and SQL containers' claim-ahead).
 */
import type { TaskRecord } from './task.js';

/** The longest a task claimed ahead is held for its owner's next claim. */
export const MAX_HOLD_MS = 250;

interface Held {
	readonly task: TaskRecord;
	readonly deadline: number;
	/** Handed over by an add (the Redis container's hand-off to idle claimers), not claimed ahead. */
	readonly pushed: boolean;
}

/** Tasks claimed ahead per owner, each with the time by which its owner must take it (see the module's comment). */
export class HeldTasks {
	readonly #held = new Map<string, Held[]>();
	/** Owners with a backlog (their last claim came back full), and their lease length. */
	readonly #hungry = new Map<string, number>();
	/** Tasks whose hand-back is on its way, per owner: id → how many hand-backs of it are. */
	readonly #returning = new Map<string, Map<string, number>>();
	readonly #handBack: (task: TaskRecord, owner: string) => Promise<unknown>;
	#timer: ReturnType<typeof setTimeout> | undefined;

	/** `handBack` returns a task to waiting, its attempt not counted, only under the claim `task` holds (`ClaimGuard`). */
	constructor(handBack: (task: TaskRecord, owner: string) => Promise<unknown>) {
		this.#handBack = handBack;
	}

	/** The lease to claim ahead with for `owner`, or `undefined` when its last claim found no backlog. */
	leaseFor(owner: string): number | undefined {
		return this.#hungry.get(owner);
	}

	/** Whether any owner has a backlog (is claimed ahead for). */
	get backlogged(): boolean {
		return this.#hungry.size > 0;
	}

	/** Remember whether `owner`'s claim of `max` came back full (`got`): a backlog, to claim ahead for. */
	noteClaim(owner: string, leaseMs: number, max: number, got: number): void {
		if (got >= max) this.#hungry.set(owner, leaseMs);
		else this.#hungry.delete(owner);
	}

	/** Stop claiming ahead for `owner` (its claims failed) until a claim of its comes back full again. */
	forget(owner: string): void {
		this.#hungry.delete(owner);
	}

	/** Hold `tasks` for `owner`, for a quarter of `leaseMs` at most (and `MAX_HOLD_MS`). */
	hold(owner: string, tasks: readonly TaskRecord[], leaseMs: number, pushed = false): void {
		if (tasks.length === 0) return;
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
			else void this.#return(held.task, owner);
		}
		if (list.length === 0) this.#held.delete(owner);
		return out;
	}

	/** The ids held for `owner`, those being handed back included. */
	ids(owner: string): Set<string> {
		const ids = new Set((this.#held.get(owner) ?? []).map((held) => held.task.id));
		for (const id of this.#returning.get(owner)?.keys() ?? []) ids.add(id);
		return ids;
	}

	/** Whether `id` is held for `owner`, or being handed back. */
	holds(owner: string, id: string): boolean {
		return (
			(this.#held.get(owner)?.some((held) => held.task.id === id) ?? false) ||
			this.#returning.get(owner)?.has(id) === true
		);
	}

	/** Whether any task held for `owner` was handed over by an add rather than claimed ahead. */
	hasPushed(owner: string): boolean {
		return this.#held.get(owner)?.some((held) => held.pushed) ?? false;
	}

	/** Hand back tasks taken from here that their owner will not get after all (its claim failed). */
	handBackNow(tasks: readonly TaskRecord[], owner: string): Promise<unknown> {
		return Promise.all(tasks.map((task) => this.#return(task, owner)));
	}

	/** Hand back everything held, and claim ahead for nobody (on close). */
	async drain(): Promise<void> {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#hungry.clear();
		const all = [...this.#held.entries()].flatMap(([owner, list]) =>
			list.map((held) => this.#return(held.task, owner)),
		);
		this.#held.clear();
		await Promise.all(all);
	}

	/**
	 * Hand `task` back for `owner`, held (`holds`) until that settles, however it does. Until then the server may
	 * hold it as running for the owner, so a renewal can read it there; reported as `unknown`, its owner would hand
	 * it back as well, under its claim fence, reading it and moving it. A transition batch that claims ahead, or an
	 * add that hands over, is no claim of the owner's: once this hand-back applied, one may claim the task for the
	 * same owner again and hold it here, and the owner's hand-back, had it compared the owner only, would move that
	 * claim back to waiting, while its next claim takes it from here and runs it, and a claim of the waiting task
	 * runs it a second time. Both hand-backs name the claim they move (`ClaimGuard`), so the later claim stays; held
	 * meanwhile, the task costs its owner no needless read and write either.
	 */
	#return(task: TaskRecord, owner: string): Promise<unknown> {
		let ids = this.#returning.get(owner);
		if (ids === undefined) {
			ids = new Map();
			this.#returning.set(owner, ids);
		}
		ids.set(task.id, (ids.get(task.id) ?? 0) + 1);
		const settled = (): void => {
			const left = (ids.get(task.id) ?? 1) - 1;
			if (left > 0) ids.set(task.id, left);
			else ids.delete(task.id);
			if (ids.size === 0 && this.#returning.get(owner) === ids) this.#returning.delete(owner);
		};
		let back: Promise<unknown>;
		try {
			back = this.#handBack(task, owner);
		} catch (error) {
			back = Promise.reject(error);
		}
		back.then(settled, settled);
		return back;
	}

	/** A timer for the earliest deadline, handing back what lapsed (unref'd: it never keeps a process alive). */
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
					for (const held of list) if (held.deadline <= now) void this.#return(held.task, owner);
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
