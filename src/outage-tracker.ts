/**
 * Outages of a part the scheduler calls in the background (the container: claims, lease renewals, reclaim sweeps,
 * due-time look-ups, progress and ref writes; the actuator: status polls). A part that keeps failing is reported
 * once when it starts failing (`<part>:down`, and one `error`), counted while it stays down, and reported again
 * when a call succeeds (`<part>:up`, with how long it was down and how many calls failed), not once per timer tick.
 */

/** The parts whose outages are tracked. */
export type OutagePart = 'container' | 'actuator';

/** `container:down` / `actuator:down`: a part started failing. */
export interface PartDownEvent {
	readonly part: OutagePart;
	/** What failed first, e.g. `reclaiming expired leases`. */
	readonly operation: string;
	readonly error: Error;
	/** When the outage started (ms since the epoch). */
	readonly since: number;
	/** Failed calls so far (1 when the outage starts). */
	readonly failures: number;
}

/** `container:up` / `actuator:up`: a part answers again after an outage. */
export interface PartUpEvent {
	readonly part: OutagePart;
	/** When the outage started (ms since the epoch). */
	readonly since: number;
	/** How long the part was down, in milliseconds. */
	readonly durationMs: number;
	/** How many calls failed during the outage. */
	readonly failures: number;
	/** The operations that failed during the outage, each named once. */
	readonly operations: readonly string[];
}

export interface OutageListener {
	down(event: PartDownEvent): void;
	up(event: PartUpEvent): void;
}

interface Outage {
	readonly since: number;
	failures: number;
	readonly operations: Set<string>;
}

export class OutageTracker {
	readonly #part: OutagePart;
	readonly #listener: OutageListener;
	#outage: Outage | null = null;

	constructor(part: OutagePart, listener: OutageListener) {
		this.#part = part;
		this.#listener = listener;
	}

	/** Whether the part is failing now. */
	get down(): boolean {
		return this.#outage !== null;
	}

	/** A call failed. Returns true when this starts an outage (the caller reports it once). */
	failed(operation: string, error: Error): boolean {
		const outage = this.#outage;
		if (outage !== null) {
			outage.failures++;
			outage.operations.add(operation);
			return false;
		}
		const since = Date.now();
		this.#outage = { since, failures: 1, operations: new Set([operation]) };
		this.#listener.down({ part: this.#part, operation, error, since, failures: 1 });
		return true;
	}

	/** A call succeeded: ends an outage, if there was one. */
	ok(): void {
		const outage = this.#outage;
		if (outage === null) return;
		this.#outage = null;
		this.#listener.up({
			part: this.#part,
			since: outage.since,
			durationMs: Date.now() - outage.since,
			failures: outage.failures,
			operations: [...outage.operations],
		});
	}
}
