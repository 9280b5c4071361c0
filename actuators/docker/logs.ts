/**
 * Reading a container's logs: the engine multiplexes stdout and stderr in one stream (8-byte frame headers
 * for containers without a TTY). `LogTail` demultiplexes it and keeps only the last `limit` bytes of each.
 */
import type { Readable } from 'node:stream';
import type { LogLines } from './log-lines.js';

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

/**
 * Splits the engine's multiplexed log stream into stdout and stderr tails, and hands each stream's bytes to
 * `lines` too when given (the task's log lines).
 */
export class LogTail {
	readonly stdout: TailBuffer;
	readonly stderr: TailBuffer;
	readonly #lines: LogLines | undefined;
	#pending: Buffer = Buffer.alloc(0);
	/** Bytes left of the current frame, and which stream it belongs to. */
	#left = 0;
	#target: TailBuffer | null = null;

	constructor(limit: number, lines?: LogLines) {
		this.stdout = new TailBuffer(limit);
		this.stderr = new TailBuffer(limit);
		this.#lines = lines;
	}

	write(chunk: Buffer): void {
		let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
		this.#pending = Buffer.alloc(0);
		while (data.length > 0) {
			if (this.#left > 0) {
				const part = data.subarray(0, this.#left);
				this.#target?.write(part);
				if (this.#lines !== undefined && this.#target !== null)
					(this.#target === this.stderr ? this.#lines.stderr : this.#lines.stdout).write(part);
				this.#left -= part.length;
				data = data.subarray(part.length);
				continue;
			}
			if (data.length < 8) {
				this.#pending = Buffer.from(data);
				return;
			}
			const kind = data[0];
			this.#target = kind === 2 ? this.stderr : kind === 1 || kind === 0 ? this.stdout : null;
			this.#left = data.readUInt32BE(4);
			data = data.subarray(8);
		}
	}

	/**
	 * Reads a whole multiplexed stream (one that ends, as `logs({ follow: true })` of an exited container); the
	 * partial last lines go to `lines` once it ended.
	 */
	static async read(stream: Readable, limit: number, lines?: LogLines): Promise<LogTail> {
		const tail = new LogTail(limit, lines);
		for await (const chunk of stream) tail.write(chunk as Buffer);
		lines?.end();
		return tail;
	}
}
