/**
 * A FIFO queue with amortised O(1) push and shift: an array read from a moving head, compacted once the
 * consumed part is at least half of it. (Arrays pre-sized with `new Array(n)` turn slow past 100,000 slots
 * in V8, so the array only ever grows by `push`.)
 */
export class Deque<T> {
	#items: (T | undefined)[] = [];
	#head = 0;

	/** How many items are queued. */
	get size(): number {
		return this.#items.length - this.#head;
	}

	/** Add an item at the back. */
	push(item: T): void {
		this.#items.push(item);
	}

	/** Take the item at the front, or `undefined` when empty. */
	shift(): T | undefined {
		if (this.#head >= this.#items.length) return undefined;
		const item = this.#items[this.#head];
		this.#items[this.#head] = undefined;
		this.#head++;
		if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
			this.#items = this.#items.slice(this.#head);
			this.#head = 0;
		}
		return item;
	}

	/** The item at the front, left in place. */
	peek(): T | undefined {
		return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
	}

	/** Forget every item. */
	clear(): void {
		this.#items = [];
		this.#head = 0;
	}
}
