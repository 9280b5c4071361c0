/**
 * The advances that failed on an outage (`ContainerError`: a connection cut, no connection in time, a server
 * away), tried again together, for the whole process: each such run is remembered in one set and one timer kicks
 * them all, `FIRST_MS` after the first failure, instead of waiting for the sweep (`sweepMs`, and a sweep looks at
 * the open runs one after the other). While a round brings nothing through (the store still away) the delay
 * doubles up to `MAX_MS`; a round in which any run comes through sets it back. A failure is reported (an `error`
 * event) when it first happens, not again in each round. One timer, never one per run: retries per run, each with
 * its own backoff, hammered a pool that was reconnecting and made the runs slower than waiting for the sweep.
 */
import { ContainerError } from 'lightsched/kit';

/** The delay from a first failure to the round that tries again. */
const FIRST_MS = 100;
/** The longest delay between rounds while nothing comes through. */
const MAX_MS = 2_000;
/** The most runs remembered (a sweep's page); beyond that a failed run is left to the sweep. */
const MAX_RUNS = 1000;

/** Whether an advance's failure is an outage worth trying again soon (not a refusal, a bug or a closed scheduler). */
export function isOutage(error: unknown): boolean {
	return error instanceof ContainerError;
}

/** Failed advances, kicked again together by one timer. */
export class AdvanceRecovery {
	readonly #kick: (runId: string) => Promise<unknown>;
	readonly #runs = new Set<string>();
	#delay = FIRST_MS;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#closed = false;

	/** `kick`: advance the run again, never rejecting; one failing on an outage again calls `add` before it resolves. */
	constructor(kick: (runId: string) => Promise<unknown>) {
		this.#kick = kick;
	}

	/** The run's advance failed on an outage: kick it again in the next round. */
	add(runId: string): void {
		if (this.#closed || this.#runs.size >= MAX_RUNS) return;
		this.#runs.add(runId);
		if (this.#timer !== undefined) return;
		this.#timer = setTimeout(() => void this.#round(), this.#delay);
		this.#timer.unref?.();
	}

	/** Stop: no round starts after this. */
	close(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#runs.clear();
	}

	async #round(): Promise<void> {
		const runIds = [...this.#runs];
		this.#runs.clear();
		// Runs failing again during the round are added back; the timer is armed once the round is over.
		await Promise.all(runIds.map((runId) => this.#kick(runId)));
		this.#timer = undefined;
		if (this.#closed) return;
		const through = runIds.some((runId) => !this.#runs.has(runId));
		this.#delay = through ? FIRST_MS : Math.min(this.#delay * 2, MAX_MS);
		if (this.#runs.size === 0) return;
		this.#timer = setTimeout(() => void this.#round(), this.#delay);
		this.#timer.unref?.();
	}
}
