/** An async iterator of finished tasks that never drops one: it buffers until the consumer catches up. */
import { Deque } from './deque.js';
import type { TaskRecord } from './task.js';

export class FinishedStream<T = TaskRecord> implements AsyncIterableIterator<T> {
	readonly #buffer = new Deque<T>();
	#waiting: ((result: IteratorResult<T>) => void) | null = null;
	#ended = false;
	readonly #onReturn: (stream: FinishedStream<T>) => void;

	constructor(onReturn: (stream: FinishedStream<T>) => void) {
		this.#onReturn = onReturn;
	}

	/** How many finished tasks wait to be read. */
	get buffered(): number {
		return this.#buffer.size;
	}

	/** Hand a finished task to the consumer (or buffer it). */
	push(value: T): void {
		if (this.#ended) return;
		const waiting = this.#waiting;
		if (waiting !== null) {
			this.#waiting = null;
			waiting({ value, done: false });
		} else {
			this.#buffer.push(value);
		}
	}

	/** No more tasks will come: the consumer reads what is buffered, then the loop ends. */
	end(): void {
		this.#ended = true;
		const waiting = this.#waiting;
		if (waiting !== null && this.#buffer.size === 0) {
			this.#waiting = null;
			waiting({ value: undefined, done: true });
		}
	}

	next(): Promise<IteratorResult<T>> {
		if (this.#buffer.size > 0) return Promise.resolve({ value: this.#buffer.shift() as T, done: false });
		if (this.#ended) return Promise.resolve({ value: undefined, done: true });
		return new Promise((resolve) => {
			this.#waiting = resolve;
		});
	}

	return(): Promise<IteratorResult<T>> {
		this.#ended = true;
		this.#buffer.clear();
		this.#onReturn(this);
		const waiting = this.#waiting;
		this.#waiting = null;
		waiting?.({ value: undefined, done: true });
		return Promise.resolve({ value: undefined, done: true });
	}

	[Symbol.asyncIterator](): this {
		return this;
	}
}
