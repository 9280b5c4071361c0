/**
 * Claim-ahead: when a busy scheduler's task reaches a final status, the transition script also claims the next
 * due task for the same owner, in the same round trip, and the container holds it here until the scheduler's next
 * `claim` (which follows at once: the finished task freed a slot). This refills a slot with one round trip per
 * task instead of two (finish, then claim), and lets the scheduler's work and Redis's overlap.
 *
 * Only for owners whose last claim came back full (a backlog). Holding, the hold time and handing back what is not
 * taken in time are the core's rule (`HeldTasks`, shared with the SQL container); tasks handed over by an add to an
 * idle claimer (idle-push.ts) are held the same way, marked `pushed`.
 */
import { HeldTasks } from 'lightsched/kit';

export class ClaimAheadBuffer extends HeldTasks {
	/** Owners with a backlog, and their lease length. */
	readonly #hungry = new Map<string, number>();

	/** The lease to claim ahead with for `owner`, or `undefined` when its last claim found no backlog. */
	leaseFor(owner: string): number | undefined {
		return this.#hungry.get(owner);
	}

	/** Remember whether `owner`'s claim came back full (a backlog: claim ahead for it). */
	noteClaim(owner: string, leaseMs: number, max: number, got: number): void {
		if (got >= max) this.#hungry.set(owner, leaseMs);
		else this.#hungry.delete(owner);
	}

	/** Hand back everything held, and claim ahead no more (on close). */
	override async drain(): Promise<void> {
		this.#hungry.clear();
		await super.drain();
	}
}
