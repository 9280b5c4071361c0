/**
 * The last bytes of a stream, kept within a byte limit: the Docker actuator's log tail and the process actuator's
 * output keep a task's stdout and stderr with it (one rule for both; actuators do not import each other).
 */

/** The last `limit` bytes written to it; older bytes are dropped as new ones arrive. */
export class TailBuffer {
	readonly #limit: number;
	#chunks: Buffer[] = [];
	#size = 0;
	/** Bytes written in all, kept or not. */
	total = 0;

	constructor(limit: number) {
		this.#limit = limit;
	}

	/** Add `chunk` to the end, dropping the oldest bytes beyond the limit. */
	write(chunk: Buffer): void {
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
			const first = this.#chunks[0] as Buffer;
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
		let bytes = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#size);
		if (this.truncated) {
			let start = 0;
			while (start < bytes.length && start < 4 && ((bytes[start] as number) & 0xc0) === 0x80) start++;
			bytes = bytes.subarray(start);
		}
		return bytes.toString('utf8');
	}
}
