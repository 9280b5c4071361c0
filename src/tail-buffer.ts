/**
 * The last bytes of a stream, kept within a byte limit: the Docker actuator's log tail and the process actuator's
 * output keep a task's stdout and stderr with it (one rule for both; actuators do not import each other).
 */

/** The last `limit` bytes written to it; older bytes are dropped as new ones arrive. */
export class TailBuffer {
	readonly #limit: number;
	#chunks: Uint8Array[] = [];
	#size = 0;
	/** Bytes written in all, kept or not. */
	total = 0;

	constructor(limit: number) {
		this.#limit = limit;
	}

	/**
	 * Add `chunk` (a Buffer, or any byte array: typed without Node's `Buffer` so the published types need no
	 * `@types/node`) to the end, dropping the oldest bytes beyond the limit.
	 */
	write(chunk: Uint8Array): void {
		this.total += chunk.length;
		if (this.#limit === 0) return;
		if (chunk.length >= this.#limit) {
			this.#chunks = [chunk.subarray(chunk.length - this.#limit)];
			this.#size = this.#limit;
			return;
		}
		this.#chunks.push(chunk);
		this.#size += chunk.length;
		while (this.#size > this.#limit) {
			const first = this.#chunks[0] as Uint8Array;
			const excess = this.#size - this.#limit;
			if (first.length <= excess) {
				this.#chunks.shift();
				this.#size -= first.length;
			} else {
				this.#chunks[0] = first.subarray(excess);
				this.#size -= excess;
			}
		}
	}

	/** Whether bytes were dropped (more was written than the limit keeps). */
	get truncated(): boolean {
		return this.total > this.#size;
	}

	/** The kept bytes as UTF-8; a character cut by the limit at the start is dropped, not garbled. */
	toString(): string {
		const first = this.#chunks[0];
		const bytes =
			this.#chunks.length === 1 && first !== undefined
				? Buffer.from(first.buffer, first.byteOffset, first.byteLength)
				: Buffer.concat(this.#chunks, this.#size);
		let start = 0;
		if (this.truncated)
			while (start < bytes.length && start < 4 && ((bytes[start] as number) & 0xc0) === 0x80) start++;
		return bytes.toString('utf8', start);
	}
}
