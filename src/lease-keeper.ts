/**
 * Leases on a shared container: renew this scheduler's running tasks every third of the lease while work runs,
 * and sweep expired leases (any scheduler's) every half lease, so a dead scheduler's tasks run again elsewhere; a
 * sweep first renews what this scheduler holds, and is skipped when that renewal fails.
 * No leader: every scheduler sweeps. One sweep in flight at a time: a container that answers slowly (or not at
 * all, until its client gives up) does not pile up sweeps that then all fail together. Renewals are not held back
 * by one in flight (a renewal stuck on a dead connection must not cost the leases); their failures, like every
 * background failure, are reported once per outage by the host.
 *
 * Lost claim replies. A claim applied by the container whose reply never came leaves tasks leased to this
 * scheduler that it does not know of. Each renewal learns them (`RenewResult.unknown`) and the host hands them
 * back uncounted. A claim of this scheduler that overlapped the renewal may have taken some of them, its reply
 * still to come: the hand-back sorts that out (it reads and moves each task under a claim fence, once no claim is
 * in flight, and leaves alone what a claim's reply brought). Setting `unknown` aside whenever a claim overlapped
 * was wrong: a busy scheduler always has one in flight, so a lost claim's tasks sat until their lease lapsed.
 * After a claim that rejected, renewals run even when no work runs, until one that no claim overlapped has
 * checked; and each sweep (every half lease) checks first, even with nothing held, for a claim the server applied
 * after its caller saw it fail. Renewals go on while the host holds any task (`heldIds`: work running, outcomes
 * still being stored, hand-backs still being retried).
 */
import type { TaskContainer } from './contracts.js';
import type { TaskRecord } from './task.js';

export interface LeaseKeeperHost {
	/** Ids of the tasks this scheduler holds now, whose leases are renewed (running, being stored, being handed back). */
	heldIds(): string[];
	/** A mark of the attempts started so far, taken when a renewal is sent and handed back with its `lost`. */
	mark(): number;
	/** The lease on `id` was lost (reclaimed or finished elsewhere), as of a renewal sent at `mark`. */
	lost(id: string, mark: number): void;
	/** Someone asked to stop `id`. */
	stopRequested(id: string): void;
	/** The sweep moved these tasks (to waiting, failed or stopped). */
	reclaimed(tasks: TaskRecord[]): void;
	/**
	 * The container holds these tasks for this scheduler, which does not hold them as of the renewal (a lost claim
	 * reply, an outcome that could not be stored, or a claim of this scheduler still in flight whose reply will
	 * bring them). Called after every renewal that succeeded, with `[]` when there are none.
	 */
	unknown(ids: string[]): void;
	/** How many claims this scheduler has made so far, and whether one is in flight: tells a renewal that overlapped one. */
	claims(): { readonly started: number; readonly inFlight: boolean };
	/** A container call failed (`operation` names it) or succeeded: outages are reported once, not per tick. */
	failed(operation: string, error: unknown, calledAt: number): void;
	ok(calledAt: number): void;
}

export class LeaseKeeper {
	readonly #container: TaskContainer;
	readonly #owner: string;
	readonly #leaseMs: number;
	readonly #host: LeaseKeeperHost;
	#renewTimer: ReturnType<typeof setInterval> | undefined;
	#sweepTimer: ReturnType<typeof setInterval> | undefined;
	#sweepInFlight = false;
	/** A claim rejected: its reply may have been lost with tasks in it. Cleared by a renewal that checked. */
	#claimInDoubt = false;
	#stopped = false;

	constructor(container: TaskContainer, owner: string, leaseMs: number, host: LeaseKeeperHost) {
		this.#container = container;
		this.#owner = owner;
		this.#leaseMs = leaseMs;
		this.#host = host;
	}

	/** How often leases are renewed while work runs: a third of the lease. */
	get renewIntervalMs(): number {
		return Math.max(30, Math.floor(this.#leaseMs / 3));
	}

	/** Start sweeping (now, then every half lease). */
	start(): void {
		this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(50, Math.floor(this.#leaseMs / 2)));
		this.#sweep();
	}

	/** Work runs: keep renewing until `idle()`. */
	renewing(): void {
		if (this.#stopped) return;
		this.#renewTimer ??= setInterval(() => void this.#renew(), this.renewIntervalMs);
	}

	/** Nothing may be held any more: stop renewing, unless a task is still held or a claim in doubt needs a check. */
	idle(): void {
		if (!this.#stopped && (this.#claimInDoubt || this.#host.heldIds().length > 0)) return;
		clearInterval(this.#renewTimer);
		this.#renewTimer = undefined;
	}

	/** A claim rejected, so its tasks may be held for us unknown: renew at once, and until a renewal has checked. */
	claimFailed(): void {
		if (this.#stopped) return;
		this.#claimInDoubt = true;
		this.renewing();
		void this.#renew();
	}

	/** Tasks may be held for us unknown (a hand-back gave up): keep renewing until a renewal has checked again. */
	recheck(): void {
		if (this.#stopped) return;
		this.#claimInDoubt = true;
		this.renewing();
	}

	stop(): void {
		this.#stopped = true;
		this.#claimInDoubt = false;
		this.idle();
		clearInterval(this.#sweepTimer);
		this.#sweepTimer = undefined;
	}

	/**
	 * Renew what this scheduler holds and learn what the container holds for it unknown; resolves `false` when the
	 * renewal failed (reported), else `true`. With nothing held it is sent only while a claim is in doubt, or when
	 * `check` (a sweep's).
	 */
	#renew(check = false): Promise<boolean> {
		if (this.#stopped) return Promise.resolve(true);
		const calledAt = Date.now();
		const ids = this.#host.heldIds();
		if (ids.length === 0 && !this.#claimInDoubt && !check) return Promise.resolve(true);
		const before = this.#host.claims();
		const mark = this.#host.mark();
		return this.#container.renew(this.#owner, ids, this.#leaseMs, calledAt).then(
			({ lost, stopRequested, unknown }) => {
				this.#host.ok(calledAt);
				for (const id of lost) this.#host.lost(id, mark);
				for (const id of stopRequested) this.#host.stopRequested(id);
				if (this.#stopped) return true;
				if (unknown !== undefined) this.#host.unknown(unknown);
				// A claim in flight during this renewal may have been applied after its read: only a renewal no claim
				// overlapped settles the doubt a failed claim left.
				const after = this.#host.claims();
				if (before.inFlight || after.inFlight || after.started !== before.started) return true;
				if (this.#claimInDoubt) {
					this.#claimInDoubt = false;
					this.idle();
				}
				return true;
			},
			(error: unknown) => {
				this.#host.failed('lease renewal', error, calledAt);
				return false;
			},
		);
	}

	/**
	 * Sweep expired leases, after renewing what this scheduler holds: a scheduler cut off from its container for
	 * longer than its lease must not reclaim its own tasks when the container answers again (their work may have
	 * finished, their outcome writes waiting to be retried). So a sweep runs only after a renewal of everything held
	 * has succeeded; when it fails, this sweep is skipped (other schedulers still sweep). That renewal is sent even
	 * with nothing held: it finds, within half a lease, tasks a claim left leased to this scheduler unknown after
	 * the renewals that followed it (a server that committed the claim after its caller saw the connection drop).
	 */
	#sweep(): void {
		if (this.#sweepInFlight || this.#stopped) return;
		this.#sweepInFlight = true;
		const renewed = this.#renew(true);
		void renewed.then((ok) => {
			if (!ok || this.#stopped) {
				this.#sweepInFlight = false;
				return;
			}
			const calledAt = Date.now();
			this.#container.reclaimExpired(calledAt).then(
				(moved) => {
					this.#sweepInFlight = false;
					this.#host.ok(calledAt);
					if (moved.length > 0) this.#host.reclaimed(moved);
				},
				(error: unknown) => {
					this.#sweepInFlight = false;
					this.#host.failed('reclaiming expired leases', error, calledAt);
				},
			);
		});
	}
}
