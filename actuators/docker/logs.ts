/**
 * Reading a container's logs: the engine multiplexes stdout and stderr in one stream (8-byte frame headers
 * for containers without a TTY). `LogTail` demultiplexes it and keeps only the last `limit` bytes of each.
 */
import type { Readable } from 'node:stream';
import { TailBuffer } from 'lightsched/kit';
import type { LogLines } from './log-lines.js';

/** One message of the engine's multiplexed log: which stream, and its bytes. */
export interface LogFrame {
	readonly stream: 'stdout' | 'stderr';
	readonly data: Buffer;
}

/** How many of the last frames a `LogTail` remembers, to find what a follow stream missed (`missedFrames`). */
export const RECENT_FRAMES = 16;

/**
 * Splits the engine's multiplexed log stream into stdout and stderr tails, and hands each stream's bytes to
 * `lines` too when given (the task's log lines). Remembers its last `RECENT_FRAMES` frames.
 */
export class LogTail {
	readonly stdout: TailBuffer;
	readonly stderr: TailBuffer;
	/** The last frames written, oldest first. */
	readonly recent: LogFrame[] = [];
	readonly #lines: LogLines | undefined;
	#pending: Buffer = Buffer.alloc(0);
	/** Bytes left of the current frame, and which stream it belongs to. */
	#left = 0;
	#target: TailBuffer | null = null;
	/** The current frame's bytes so far. */
	#parts: Buffer[] = [];

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
				this.#take(part);
				this.#left -= part.length;
				data = data.subarray(part.length);
				if (this.#left === 0) this.#endFrame();
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
			if (this.#left === 0) this.#endFrame();
		}
	}

	/** One whole frame (from a separate read: see `missedFrames`). */
	writeFrame(frame: LogFrame): void {
		this.#target = frame.stream === 'stderr' ? this.stderr : this.stdout;
		this.#take(frame.data);
		this.#endFrame();
	}

	#take(part: Buffer): void {
		if (this.#target === null) return;
		this.#target.write(part);
		if (this.#lines !== undefined)
			(this.#target === this.stderr ? this.#lines.stderr : this.#lines.stdout).write(part);
		this.#parts.push(part);
	}

	#endFrame(): void {
		if (this.#target !== null) {
			const data = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
			this.recent.push({ stream: this.#target === this.stderr ? 'stderr' : 'stdout', data });
			if (this.recent.length > RECENT_FRAMES) this.recent.shift();
		}
		this.#parts = [];
	}

	/** Reads a whole multiplexed stream (one that ends, as `logs({ follow: true })` of an exited container). */
	static async read(stream: Readable, limit: number, lines?: LogLines): Promise<LogTail> {
		const tail = new LogTail(limit, lines);
		for await (const chunk of stream) tail.write(chunk as Buffer);
		return tail;
	}

	/** The frames of a whole multiplexed buffer (the answer of a `logs` call without `follow`). */
	static frames(buffer: Buffer): LogFrame[] {
		const tail = new LogTail(0);
		const frames: LogFrame[] = [];
		tail.write(buffer);
		// `recent` keeps only the last frames: the buffer is asked for with `tail: RECENT_FRAMES`.
		frames.push(...tail.recent);
		return frames;
	}
}

function sameFrame(a: LogFrame, b: LogFrame): boolean {
	return a.stream === b.stream && a.data.equals(b.data);
}

/**
 * What a follow stream that ended with the container missed at its end: the engine may close it before it wrote
 * the container's last message (a partial last line is written when the output closes). `seen` are the last
 * frames the stream gave, `last` the log's last frames read afterwards; the missed ones are those of `last` after
 * the longest overlap with the end of `seen`. At most a few are taken: no overlap near the end means the two
 * reads do not line up (lines made the same by chance), and nothing is added rather than lines twice.
 */
export function missedFrames(seen: readonly LogFrame[], last: readonly LogFrame[], most = 4): LogFrame[] {
	const n = Math.min(seen.length, last.length);
	for (let overlap = n; overlap >= 0 && last.length - overlap <= most; overlap--) {
		let match = true;
		for (let i = 0; i < overlap && match; i++)
			match = sameFrame(seen[seen.length - overlap + i] as LogFrame, last[i] as LogFrame);
		if (match) return last.slice(overlap);
	}
	return [];
}
