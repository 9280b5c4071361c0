/**
 * Reading a command's output: `ProgressLines` picks progress lines out of stdout (the core's `TailBuffer` keeps
 * the last bytes of each stream, as it does for the Docker actuator's log tail).
 */

/** Lines longer than this are never progress lines (and are not buffered whole). */
export const MAX_PROGRESS_LINE_BYTES = 4096;

/**
 * Finds the lines of stdout that start with `prefix` (`::progress 42`) and hands on what follows it: parsed as
 * JSON when it is JSON (`42`, `{"done":3,"of":10}`), else the trimmed text. Other lines are ignored here (they are
 * in the stdout tail like every line).
 */
export class ProgressLines {
	readonly #prefix: Buffer;
	readonly #report: (progress: unknown) => void;
	/** The start of the current line, while it may still be a progress line. */
	#line: Buffer[] = [];
	#lineBytes = 0;
	/** The current line is too long or does not start with the prefix: skip to its end. */
	#skipping = false;

	constructor(prefix: string, report: (progress: unknown) => void) {
		this.#prefix = Buffer.from(prefix, 'utf8');
		this.#report = report;
	}

	write(chunk: Buffer): void {
		let from = 0;
		while (from < chunk.length) {
			const newline = chunk.indexOf(0x0a, from);
			const end = newline === -1 ? chunk.length : newline;
			if (!this.#skipping) {
				const part = chunk.subarray(from, end);
				this.#lineBytes += part.length;
				if (this.#lineBytes > MAX_PROGRESS_LINE_BYTES) this.#drop();
				else {
					this.#line.push(part);
					// Decide as soon as the prefix can be compared, so ordinary lines are not buffered.
					if (this.#lineBytes >= this.#prefix.length && !this.#startsWithPrefix()) this.#drop();
				}
			}
			if (newline === -1) return;
			this.#endLine();
			from = newline + 1;
		}
	}

	/** The output ended: a last line without a newline counts too. */
	end(): void {
		this.#endLine();
	}

	#startsWithPrefix(): boolean {
		const head = this.#line.length === 1 ? (this.#line[0] as Buffer) : Buffer.concat(this.#line, this.#lineBytes);
		this.#line = [head];
		return head.subarray(0, this.#prefix.length).equals(this.#prefix);
	}

	#drop(): void {
		this.#skipping = true;
		this.#line = [];
	}

	#endLine(): void {
		const whole = !this.#skipping && this.#lineBytes >= this.#prefix.length && this.#startsWithPrefix();
		const line = whole ? (this.#line[0] as Buffer) : undefined;
		this.#line = [];
		this.#lineBytes = 0;
		this.#skipping = false;
		if (line === undefined) return;
		const text = line.subarray(this.#prefix.length).toString('utf8').replace(/\r$/, '').trim();
		if (text.length === 0) return;
		let progress: unknown = text;
		try {
			progress = JSON.parse(text) as unknown;
		} catch {
			// Not JSON: the text itself is the progress.
		}
		this.#report(progress);
	}
}
