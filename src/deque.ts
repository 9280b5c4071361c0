/**
 * A FIFO queue with amortised O(1) push and shift: an array read from a moving head, compacted once the
 * consumed part is at least half of it. (Arrays pre-sized with `new Array(n)` turn slow past 100,000 slots
 * in V8, so the array only ever grows by `push`.)
 */
export class Deque<T> {
	#items: (T | undefined)[] = [];
	#head = 0;

	get size(): number {
		return this.#items.length - this.#head;
	}

	push(item: T): void {
		this.#items.push(item);
	}

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

	peek(): T | undefined {
		return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
	}

	clear(): void {
		this.#items = [];
		this.#head = 0;
	}
}
