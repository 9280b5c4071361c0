/**
 * When a claim first promotes the delayed tasks now due (schema 5: `delayed` = 1 keeps a waiting task that is not
 * yet due out of the claim index; see statements.ts `promote`). Promoting before every claim cost one statement
 * more per claim: about a third of SQLite's throughput on an empty queue (docs/benchmarks.md). So the container
 * promotes only when a delayed task may be due:
 *
 * - when the claim's clock reached the earliest `run_at` of a delayed task as of the last promotion (read just after
 *   it), or of one this process wrote since;
 * - at least every `STALE_MS` of this process's clock (delayed tasks other processes wrote, and clocks that differ);
 * - when a claim without promotion took fewer tasks than asked: it promotes and, if that promoted any, claims again.
 *   On PostgreSQL the claim statement also reads the earliest delayed run_at (statements.ts `claimNoting`): when none
 *   is due that counts as a promotion that found nothing (`promoted`), and no second statement is sent.
 *
 * So a delayed task this process wrote is promoted as soon as a claim's clock says it is due, and any claim that
 * finds too few due tasks promotes first; only while due tasks are plentiful can one another process wrote be passed
 * over by lower-priority due tasks, for at most `STALE_MS`.
 */

/** The longest a delayed task other processes wrote may wait, once due, for a promotion while claims are full. */
export const STALE_MS = 100;

export class PromotionClock {
	/** The earliest run_at of a delayed task known (claim clock); -Infinity: unknown, promote. */
	#dueAt = -Infinity;
	/** This process's clock at the start of the last promotion. */
	#lastWall = -Infinity;
	/** The earliest run_at written since the current promotion started. */
	#writtenSince = Infinity;

	/** Whether a claim judged at `now` must promote first. */
	needed(now: number): boolean {
		return now >= this.#dueAt || Date.now() - this.#lastWall >= STALE_MS;
	}

	/** This process wrote a waiting task due at `runAt` that may be delayed. */
	wrote(runAt: number): void {
		if (runAt < this.#dueAt) this.#dueAt = runAt;
		if (runAt < this.#writtenSince) this.#writtenSince = runAt;
	}

	/** A promotion starts; returns its start on this process's clock for `promoted`. */
	starting(): number {
		this.#writtenSince = Infinity;
		return Date.now();
	}

	/** The promotion that started at `wall` left `next` as the earliest delayed run_at (null: none). */
	promoted(wall: number, next: number | null): void {
		this.#lastWall = wall;
		this.#dueAt = Math.min(next ?? Infinity, this.#writtenSince);
	}
}
