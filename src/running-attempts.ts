/**
 * The attempts a scheduler runs right now: an intrusive doubly linked list (O(1) add and delete, nothing
 * allocated per attempt; a `Map` that churns through one entry per task re-allocates its table every few
 * operations, and at concurrency 1 on every delete), with an index by task id only where look-ups are frequent
 * (shared containers: lease reports and claims by id). Without the index, `get` walks the list, which holds at
 * most `concurrency` attempts, and is used only by `stop`.
 */
import type { Attempt } from './attempt.js';

export class RunningAttempts {
	#head: Attempt | null = null;
	#size = 0;
	readonly #byId: Map<string, Attempt> | undefined;

	constructor(indexed: boolean) {
		this.#byId = indexed ? new Map() : undefined;
	}

	get size(): number {
		return this.#size;
	}

	add(attempt: Attempt): void {
		attempt.prev = null;
		attempt.next = this.#head;
		if (this.#head !== null) this.#head.prev = attempt;
		this.#head = attempt;
		attempt.listed = true;
		this.#size++;
		this.#byId?.set(attempt.task.id, attempt);
	}

	/** Remove `attempt` (a no-op when it is not listed). */
	delete(attempt: Attempt): void {
		if (!attempt.listed) return;
		attempt.listed = false;
		if (attempt.prev !== null) attempt.prev.next = attempt.next;
		else this.#head = attempt.next;
		if (attempt.next !== null) attempt.next.prev = attempt.prev;
		attempt.prev = null;
		attempt.next = null;
		this.#size--;
		if (this.#byId !== undefined && this.#byId.get(attempt.task.id) === attempt) this.#byId.delete(attempt.task.id);
	}

	get(id: string): Attempt | undefined {
		if (this.#byId !== undefined) return this.#byId.get(id);
		for (let at = this.#head; at !== null; at = at.next) if (at.task.id === id) return at;
		return undefined;
	}

	/** A snapshot: safe to iterate while attempts are added or deleted. */
	values(): Attempt[] {
		const all: Attempt[] = [];
		for (let at = this.#head; at !== null; at = at.next) all.push(at);
		return all;
	}
}
