/**
 * The scheduler's two timers: one sleeps until the earliest due time asked for (a retry's backoff, a scheduled
 * start), the other polls once after an interval (a shared container without a working wake-up channel, a failed
 * claim). Each runs at most once at a time; nothing spins.
 */
import { MAX_TIMER_MS } from './timer-limit.js';

export class WakeTimers {
	readonly #wake: () => void;
	readonly #pollIntervalMs: number;
	#dueTimer: ReturnType<typeof setTimeout> | undefined;
	#dueAt = Number.POSITIVE_INFINITY;
	#pollTimer: ReturnType<typeof setTimeout> | undefined;
	#stopped = false;

	constructor(wake: () => void, pollIntervalMs: number) {
		this.#wake = wake;
		this.#pollIntervalMs = pollIntervalMs;
	}

	/** Wake at `at` (milliseconds since the epoch), unless an earlier wake-up is already set. */
	at(at: number): void {
		if (this.#stopped || at >= this.#dueAt) return;
		clearTimeout(this.#dueTimer);
		this.#dueAt = at;
		// A time beyond what a timer holds wakes at the limit, and the scheduler asks again.
		this.#dueTimer = setTimeout(
			() => {
				this.#dueAt = Number.POSITIVE_INFINITY;
				this.#wake();
			},
			Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
		);
	}

	/** Wake once after the poll interval (however often asked before then). */
	poll(): void {
		if (this.#stopped || this.#pollTimer !== undefined) return;
		this.#pollTimer = setTimeout(() => {
			this.#pollTimer = undefined;
			this.#wake();
		}, this.#pollIntervalMs);
	}

	stop(): void {
		this.#stopped = true;
		clearTimeout(this.#dueTimer);
		clearTimeout(this.#pollTimer);
	}
}
