/**
 * A run's advance that failed on an outage (the store or the container out of reach, a connection cut) is tried
 * again soon instead of at the next periodic sweep: after 25 ms, doubling on each failure in a row up to `maxMs`
 * (the sweep's period), each delay jittered down by up to half so that the runs of one outage do not come back
 * together. One timer per run: a run already waiting for its retry is not scheduled again, and a retry that
 * succeeds ends the run's series. Errors that would fail again (a refused write, a bad definition, a closed
 * scheduler) are left to the sweep. `close()` cancels every timer. Of a series, the first failure is reported (an
 * `error` event), then only those of retries made at the longest delay: at most one per `maxMs` per run, as the
 * sweep's were, not one per retry.
 */
import { ContainerError } from 'lightsched';

/** The first retry's delay. */
const FIRST_MS = 25;

/** The errors of Node's sockets that say the server was out of reach or the connection was lost. */
const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** Whether `error` is an outage's: a container's or store's failure (`ContainerError`), or a lost connection. */
export function isOutage(error: unknown): boolean {
	if (error instanceof ContainerError) return true;
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** The delay before retry number `attempt` (0 for the first) of a series, at most `maxMs`, before its jitter. */
function fullDelay(attempt: number, maxMs: number): number {
	return Math.min(maxMs, FIRST_MS * 2 ** Math.min(attempt, 30));
}

/** The delay before retry number `attempt` (0 for the first) of a series, at most `maxMs`, jittered. */
export function retryDelay(attempt: number, maxMs: number, random: () => number = Math.random): number {
	return Math.round(fullDelay(attempt, maxMs) * (0.5 + random() / 2));
}

/** The retries of failed advances, per run (see the file's comment). */
export class AdvanceRetry {
	readonly #maxMs: number;
	readonly #advance: (runId: string) => Promise<unknown>;
	/** Per run waiting for a retry: its timer. */
	readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
	/** Per run in a series of failures: the retries made so far. */
	readonly #attempts = new Map<string, number>();
	#closed = false;

	/** `advance`: advances the run (never rejects; a failure comes back through `failed`). */
	constructor(options: { maxMs: number; advance: (runId: string) => Promise<unknown> }) {
		this.#maxMs = options.maxMs;
		this.#advance = options.advance;
	}

	/**
	 * The advance of `runId` failed with `error`: schedule a retry if it is an outage's and none is waiting. Returns
	 * whether to report the failure (see the file's comment).
	 */
	failed(runId: string, error: unknown): boolean {
		if (this.#closed || this.#timers.has(runId) || !isOutage(error)) return true;
		const retried = this.#attempts.get(runId);
		const attempt = retried ?? 0;
		this.#attempts.set(runId, attempt + 1);
		const timer = setTimeout(
			() => {
				this.#timers.delete(runId);
				void this.#advance(runId).then(() => {
					// Failed again: `failed` scheduled the next retry before this. Else the series is over.
					if (!this.#timers.has(runId)) this.#attempts.delete(runId);
				});
			},
			retryDelay(attempt, this.#maxMs),
		);
		timer.unref?.();
		this.#timers.set(runId, timer);
		return retried === undefined || fullDelay(retried - 1, this.#maxMs) >= this.#maxMs;
	}

	/** How many runs wait for a retry. */
	get waiting(): number {
		return this.#timers.size;
	}

	/** Cancel every retry. */
	close(): void {
		this.#closed = true;
		for (const timer of this.#timers.values()) clearTimeout(timer);
		this.#timers.clear();
		this.#attempts.clear();
	}
}
