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
 * over by lower-priority due tasks, for at most `STALE_MS` and the tasks of one claim ahead.
 *
 * A claim ahead (claim-ahead.ts) waits while a known delayed task is due (`knownDue`), and the owner's next claim goes
 * to the database and promotes first. When only `STALE_MS` have passed (`needed` but not `knownDue`), on PostgreSQL
 * it does not wait: its statement reads the earliest delayed run_at too (statements.ts `delayedNote`, as
 * `claimNoting` does), and `noted` counts that as the periodic look when none is due, or makes the next claim promote
 * when one is. Waiting there broke a busy owner's run of claims ahead every `STALE_MS` for nothing (a promotion, then
 * claims of a few tasks each, until a claim came back full again): 18 % of a one-process drain's transactions on
 * PostgreSQL with no delayed task at all (docs/benchmarks.md, 7 Dec 2026).
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

	/** Whether a delayed task known to this process is due at `now` (a claim must promote first; `needed` too). */
	knownDue(now: number): boolean {
		return now >= this.#dueAt;
	}

	/**
	 * A claim ahead's statement that started at `wall` (this process's clock) read the earliest delayed run_at:
	 * `next` (null: none), due now or not. Not due: the look `STALE_MS` asks for was made. Due: the next claim promotes.
	 * It only ever brings the known due time earlier, so a task this process wrote meanwhile (`wrote`) keeps its own.
	 */
	noted(wall: number, next: number | null, due: boolean): void {
		if (due) {
			this.#dueAt = -Infinity;
			return;
		}
		if (wall > this.#lastWall) this.#lastWall = wall;
		if (next !== null && next < this.#dueAt) this.#dueAt = next;
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
