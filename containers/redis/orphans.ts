/**
 * Orphans: tasks the server holds as running for an owner although their claim never reached this container (a
 * claim, or a transition batch that claimed ahead, applied on the server while its reply was lost: ioredis sends
 * it again after reconnecting, and the second run claims other tasks; or the call was given up on, then applied).
 * Left alone, such a task sits leased to an owner that does not know it holds it until the lease lapses, and the
 * reclaim counts an attempt for work that never started.
 *
 * Every claim and transition batch goes over one connection, in order, so once a call's reply is in, every claim
 * and batch sent before it was answered or given up on; once those still in flight then have settled, every task
 * they claimed is known here. The container tells the tasks it handed out or holds
 * (`KnownRecords.owns`) from those it never saw: the latter are orphans for certain, and it hands them back at
 * once, uncounted (`handBackPatch`). The held tasks come from each renewal (`RenewResult.unknown`, whose rest, the
 * tasks handed out but not renewed, goes to the scheduler as the contract says), and from a check of every owner
 * this container claimed for after a reconnection or a failed claim or batch (so an owner with no work left, which
 * renews nothing, still gets its orphans handed back).
 */
import { handBackPatch } from 'lightsched/kit';

export interface OrphanHost {
	/** The tasks the server holds for `owner`, with their attempts and versions (the renew script with no ids). */
	held(owner: string): Promise<[string[], string[], string[]]>;
	/** Whether this container handed out or holds `id` for `owner`; `undefined` when it cannot tell. */
	knows(owner: string, id: string): boolean | undefined;
	/** Settles once every claim and transition batch in flight now was answered (and handled) or given up on. */
	inFlight(): Promise<unknown>;
	/** Move `id` running -> waiting for `owner` with `patch`, if still at `version` (a compare-and-set). */
	handBack(id: string, owner: string, patch: ReturnType<typeof handBackPatch>, version: string): Promise<unknown>;
	closed(): boolean;
}

export class OrphanWatch {
	readonly #host: OrphanHost;
	readonly #owners = new Set<string>();
	#checking = false;
	#again = false;

	constructor(host: OrphanHost) {
		this.#host = host;
	}

	/** `owner` claims through this container (checked after a reconnection). */
	noteOwner(owner: string): void {
		this.#owners.add(owner);
	}

	/**
	 * The tasks held for `owner` and not renewed by it (`ids`, `attempts`, `versions`: the renew script's unknown
	 * list, once `inFlight` settled after its reply): those this container never handed out are handed back here;
	 * returns the rest. A task read then may have ended since (so it is not known here now) and been claimed again
	 * by the same owner: the hand-back moves only the version read, never that later claim.
	 */
	sort(owner: string, ids: readonly string[], attempts: readonly string[], versions: readonly string[]): string[] {
		// Only an owner that claims through this container: another instance may be claiming for it.
		if (!this.#owners.has(owner)) return [...ids];
		const rest: string[] = [];
		ids.forEach((id, i) => {
			if (this.#host.knows(owner, id) === false) {
				const patch = handBackPatch({ attempts: Number(attempts[i] ?? 1) }, Date.now());
				void this.#host.handBack(id, owner, patch, versions[i] ?? '').catch(() => null);
			} else rest.push(id);
		});
		return rest;
	}

	/** Check every owner (after a reconnection, a failed claim or batch); coalesced, one check at a time. */
	check(): void {
		if (this.#host.closed() || this.#owners.size === 0) return;
		if (this.#checking) {
			this.#again = true;
			return;
		}
		this.#checking = true;
		void this.#checkAll().finally(() => {
			this.#checking = false;
			if (this.#again) {
				this.#again = false;
				this.check();
			}
		});
	}

	async #checkAll(): Promise<void> {
		for (const owner of [...this.#owners]) {
			if (this.#host.closed()) return;
			try {
				const [ids, attempts, versions] = await this.#host.held(owner);
				await this.#host.inFlight();
				this.sort(owner, ids, attempts, versions);
			} catch {
				// The server is down again: the next reconnection checks again.
			}
		}
	}
}
