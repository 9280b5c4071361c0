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
	/** Which part failed: the container or the actuator. */
	readonly part: OutagePart;
	/** What failed first, e.g. `reclaiming expired leases`. */
	readonly operation: string;
	/** The first error of the outage. */
	readonly error: Error;
	/** When the outage started (ms since the epoch). */
	readonly since: number;
	/** Failed calls so far (1 when the outage starts). */
	readonly failures: number;
}

/** `container:up` / `actuator:up`: a part answers again after an outage. */
export interface PartUpEvent {
	/** Which part recovered. */
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
	/** When the call that started the outage was made. */
	readonly firstCallAt: number;
	failures: number;
	readonly operations: Set<string>;
}

export class OutageTracker {
	readonly #part: OutagePart;
	readonly #listener: OutageListener;
	#outage: Outage | null = null;
	/** When the call that ended the last outage was made: a call made before it that fails now is old news. */
	#recoveredByCallAt = Number.NEGATIVE_INFINITY;

	constructor(part: OutagePart, listener: OutageListener) {
		this.#part = part;
		this.#listener = listener;
	}

	/** Whether the part is failing now. */
	get down(): boolean {
		return this.#outage !== null;
	}

	/**
	 * A call made at `calledAt` failed. Returns true when this starts an outage (the caller reports it once). A call
	 * made during an outage that fails only after a later call succeeded does not start another.
	 */
	failed(operation: string, error: Error, calledAt: number = Date.now()): boolean {
		const outage = this.#outage;
		if (outage !== null) {
			outage.failures++;
			outage.operations.add(operation);
			return false;
		}
		if (calledAt < this.#recoveredByCallAt) return false;
		const since = Date.now();
		this.#outage = { since, firstCallAt: calledAt, failures: 1, operations: new Set([operation]) };
		this.#listener.down({ part: this.#part, operation, error, since, failures: 1 });
		return true;
	}

	/**
	 * A call made at `calledAt` succeeded: ends an outage, if there was one, unless the call was made before the
	 * call whose failure started it (its answer says nothing of the part now).
	 */
	ok(calledAt: number = Date.now()): void {
		const outage = this.#outage;
		if (outage === null || calledAt <= outage.firstCallAt) return;
		this.#outage = null;
		this.#recoveredByCallAt = calledAt;
		this.#listener.up({
			part: this.#part,
			since: outage.since,
			durationMs: Date.now() - outage.since,
			failures: outage.failures,
			operations: [...outage.operations],
		});
	}
}
