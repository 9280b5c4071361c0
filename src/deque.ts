/** A FIFO queue with O(1) push and shift (a growable ring buffer). */
export class Deque<T> {
	#items: (T | undefined)[] = new Array<T | undefined>(16);
	#head = 0;
	#size = 0;

	get size(): number {
		return this.#size;
	}

	push(item: T): void {
		if (this.#size === this.#items.length) this.#grow();
		this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
		this.#size++;
	}

	shift(): T | undefined {
		if (this.#size === 0) return undefined;
		const item = this.#items[this.#head];
		this.#items[this.#head] = undefined;
		this.#head = (this.#head + 1) & (this.#items.length - 1);
		this.#size--;
		return item;
	}

	peek(): T | undefined {
		return this.#size === 0 ? undefined : this.#items[this.#head];
	}

	clear(): void {
		this.#items = new Array<T | undefined>(16);
		this.#head = 0;
		this.#size = 0;
	}

	#grow(): void {
		const old = this.#items;
		const next = new Array<T | undefined>(old.length * 2);
		for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
		this.#items = next;
		this.#head = 0;
	}
}
