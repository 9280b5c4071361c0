/**
 * A container's output as task log lines: each stream (stdout, stderr) is decoded as UTF-8 (a character split
 * between two chunks is kept whole) and split at `\n` (a `\r` before it is dropped). A partial last line waits for
 * the next chunk, or for `end()`. A line longer than `MAX_DOCKER_LOG_LINE` characters is cut there and marked with
 * `…` (the prefix of a stderr line counts); the rest of it, up to its `\n`, is skipped, so a container that never writes a newline costs bounded memory.
 * Lines of stderr are marked with the `STDERR_PREFIX`.
 */
import { StringDecoder } from 'node:string_decoder';

/** The longest line forwarded, in characters (the scheduler's own bound on a log line). */
export const MAX_DOCKER_LOG_LINE = 8_192;

/** What a line of the container's stderr starts with in the task's log. */
export const STDERR_PREFIX = '[stderr] ';

/** One stream's splitter. */
class StreamLines {
	readonly #decoder = new StringDecoder('utf8');
	readonly #prefix: string;
	/** The longest line kept of this stream, its prefix aside. */
	readonly #max: number;
	readonly #emit: (line: string) => void;
	#pending = '';
	/** The pending line was cut: skip until its end. */
	#cut = false;

	constructor(prefix: string, emit: (line: string) => void) {
		this.#prefix = prefix;
		this.#max = MAX_DOCKER_LOG_LINE - prefix.length;
		this.#emit = emit;
	}

	write(chunk: Buffer): void {
		this.#take(this.#decoder.write(chunk));
	}

	end(): void {
		this.#take(this.#decoder.end());
		if (this.#pending.length > 0 || this.#cut) this.#line(this.#pending);
		this.#pending = '';
		this.#cut = false;
	}

	#take(text: string): void {
		let start = 0;
		for (;;) {
			const newline = text.indexOf('\n', start);
			const piece = text.slice(start, newline === -1 ? text.length : newline);
			if (!this.#cut) {
				this.#pending += piece;
				if (this.#pending.length > this.#max) {
					this.#pending = this.#pending.slice(0, this.#max);
					this.#cut = true;
				}
			}
			if (newline === -1) return;
			this.#line(this.#pending.endsWith('\r') && !this.#cut ? this.#pending.slice(0, -1) : this.#pending);
			this.#pending = '';
			this.#cut = false;
			start = newline + 1;
		}
	}

	#line(text: string): void {
		this.#emit(this.#prefix + (this.#cut ? `${text.slice(0, this.#max - 1)}…` : text));
	}
}

/** Splits a container's stdout and stderr into log lines, in the order the engine hands out their bytes. */
export class LogLines {
	readonly stdout: StreamLines;
	readonly stderr: StreamLines;

	constructor(emit: (line: string) => void) {
		this.stdout = new StreamLines('', emit);
		this.stderr = new StreamLines(STDERR_PREFIX, emit);
	}

	/** The partial last lines, as lines: the container's output ended. */
	end(): void {
		this.stdout.end();
		this.stderr.end();
	}
}
