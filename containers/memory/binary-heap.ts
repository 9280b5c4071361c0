/** A binary min-heap: O(log n) push and pop, O(1) peek. `before(a, b)` says whether `a` comes out first. */
export class BinaryHeap<T> {
	readonly #items: T[] = [];
	readonly #before: (a: T, b: T) => boolean;

	constructor(before: (a: T, b: T) => boolean) {
		this.#before = before;
	}

	/** How many items the heap holds. */
	get size(): number {
		return this.#items.length;
	}

	/** The item that comes out first, left in place. */
	peek(): T | undefined {
		return this.#items[0];
	}

	/** Add an item. */
	push(item: T): void {
		const items = this.#items;
		let index = items.length;
		items.push(item);
		while (index > 0) {
			const parentIndex = (index - 1) >> 1;
			const parent = items[parentIndex] as T;
			if (!this.#before(item, parent)) break;
			items[index] = parent;
			index = parentIndex;
		}
		items[index] = item;
	}

	/** Take the item that comes out first, or `undefined` when empty. */
	pop(): T | undefined {
		const items = this.#items;
		const top = items[0];
		const last = items.pop();
		if (items.length === 0 || last === undefined) return top;
		const length = items.length;
		let index = 0;
		for (;;) {
			const left = 2 * index + 1;
			if (left >= length) break;
			const right = left + 1;
			let child = left;
			if (right < length && this.#before(items[right] as T, items[left] as T)) child = right;
			const candidate = items[child] as T;
			if (!this.#before(candidate, last)) break;
			items[index] = candidate;
			index = child;
		}
		items[index] = last;
		return top;
	}

	/** Forget every item. */
	clear(): void {
		this.#items.length = 0;
	}
}
