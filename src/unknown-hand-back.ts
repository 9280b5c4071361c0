/**
 * Handing back the tasks a renewal found held for this scheduler though it does not hold them (`RenewResult.unknown`):
 * a claim applied on the container whose reply never came. The scheduler never started them, so each goes back to
 * waiting uncounted. Three rules keep that from costing an attempt or running a task twice:
 * - A task whose work ran here is never handed back (an attempt listed, or an outcome that could not be stored:
 *   `ranUnstored`): only the reclaim, counting the attempt, moves it.
 * - The read and the move happen under a claim fence (`ClaimLoop.fence`): no claim of this scheduler is in flight
 *   between the read and the move, so a task read as held for us is one no reply of ours will bring: a later claim
 *   that took it again is either answered (its attempt is listed: left alone) or lost (handed back, rightly).
 * - The move names the claim read (`ClaimGuard`: its attempts and startedAt), so it moves that claim only. The fence
 *   holds this scheduler's claims, not the container's own: between the read and the move, a hand-back of the
 *   claim read (the container's, given up on in an outage and applied late) and a claim the container makes for
 *   this owner (a claim ahead, an add's hand-off, held for its next `claim`) may land, and a move comparing status
 *   and owner only would hand that new claim back while the container holds it: this scheduler would run it, and
 *   another one the waiting task too.
 * - A hand-back that fails is retried (bounded, with backoff), and the task's lease is renewed meanwhile; when the
 *   retries give up, renewals go on until one finds the task again (a new round begins) or finds it gone.
 */
import type { TaskContainer } from './contracts.js';
import type { TaskRecord } from './task.js';

export interface UnknownHandBackHost {
	readonly container: TaskContainer;
	/** This scheduler's owner name. */
	readonly owner: string;
	/** Whether this scheduler holds an attempt of `id` (running, or its outcome being stored). */
	holds(id: string): boolean;
	/** Whether `id`'s work ran here and its outcome could not be stored. */
	ranUnstored(id: string): boolean;
	/** Hold claims off until the returned function is called (resolves once no claim is in flight). */
	fence(): Promise<() => void>;
	/** running → waiting, uncounted, only under the claim `task` was read with (the writer's bounded retries included). */
	handBack(task: TaskRecord): Promise<TaskRecord | null>;
	/** Renew leases (now that tasks are held), and stop renewing once none are. */
	renewing(): void;
	idle(): void;
	/** Keep renewing until a renewal has looked for unknown tasks again. */
	recheck(): void;
	/** A hand-back round failed (reported once per outage) or gave up for good. */
	failed(id: string, error: unknown, final: boolean): void;
	closed(): boolean;
}

/** Rounds of read-and-move per task before leaving it to the next renewal that finds it. */
const ROUNDS = 6;
/** Wait before round n + 1: 100 ms × 2ⁿ⁻¹, at most 2 s. */
const delayMs = (round: number): number => Math.min(2_000, 100 * 2 ** (round - 1));

export class UnknownHandBack {
	readonly #host: UnknownHandBackHost;
	/** Tasks being handed back: their leases are renewed until done. */
	readonly #pending = new Set<string>();

	constructor(host: UnknownHandBackHost) {
		this.#host = host;
	}

	/** Ids being handed back now. */
	ids(): Iterable<string> {
		return this.#pending;
	}

	get size(): number {
		return this.#pending.size;
	}

	/** A renewal that no claim of ours overlapped found these tasks held for us unknown: hand back those we never ran. */
	found(ids: readonly string[]): void {
		const host = this.#host;
		for (const id of ids) {
			if (this.#pending.has(id) || host.holds(id) || host.ranUnstored(id) || host.closed()) continue;
			this.#pending.add(id);
			host.renewing();
			void this.#handBack(id);
		}
	}

	async #handBack(id: string): Promise<void> {
		const host = this.#host;
		try {
			for (let round = 1; round <= ROUNDS; round++) {
				if (host.closed()) return;
				const release = await host.fence();
				try {
					if (host.closed() || host.holds(id) || host.ranUnstored(id)) return;
					const task = await host.container.get(id);
					// Handed back already (a write whose reply was lost), finished, or taken over elsewhere: nothing to do.
					if (task === null || task.status !== 'running' || task.owner !== host.owner) return;
					if (host.holds(id) || host.ranUnstored(id)) return;
					await host.handBack(task);
					return;
				} catch (error) {
					host.failed(id, error, round === ROUNDS);
				} finally {
					release();
				}
				if (round < ROUNDS) await new Promise((resolve) => setTimeout(resolve, delayMs(round)));
			}
			host.recheck();
		} finally {
			this.#pending.delete(id);
			if (this.#pending.size === 0) host.idle();
		}
	}
}
