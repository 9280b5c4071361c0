/**
 * The container's side of the hand-off to idle claimers (idle-push.ts), one per `RedisContainer`:
 *
 * - which of its owners a short claim registered as idle, with their lease (only those can be handed tasks);
 * - each task handed over held once, whether the add's reply or the channel brought it first: the first sighting
 *   is remembered (keyed by the packed task, unique per claim as it carries the version) until the other arrives;
 * - a hand-off message for a task the orphan check already handed back (the fence cannot cover a subscription
 *   being renewed) dropped, not run: such hand-backs are remembered for DISOWNED_MS, only while an owner is
 *   registered (with none, no message can come);
 * - when the channel goes down, every owner checked for lost hand-offs now and again once registrations lapsed;
 * - at close, its owners unregistered, so adds stop handing them tasks.
 */
import type { TaskRecord } from 'lightsched/kit';
import { claimedOwnerAt } from './codec.js';
import { IDLE_TTL_MS, takenBy } from './idle-push.js';

/** How long a task the orphan check handed back refuses a late hand-off message. */
const DISOWNED_MS = 10_000;

/** Which way a handed-over task reached this process. */
export type HandOffVia = 'reply' | 'message';

/** What the ledger asks of its container. */
export interface HandOffHooks {
	/** Decode a task claimed for `owner` (throws on a malformed one) and remember it as the container's. */
	decode(packed: string, owner: string): TaskRecord;
	/** Hold a handed-over task for `owner`'s next claim (transitions.ts, claim-ahead), judged by the lease it registered with. */
	hold(owner: string, record: TaskRecord, leaseMs: number | undefined): void;
	/** Check every owner for tasks held for it that never reached this container (orphans.ts). */
	checkOrphans(): void;
}

export class HandOffLedger {
	readonly #hooks: HandOffHooks;
	/** Owners registered as idle (a short claim), with their lease. */
	readonly #owners = new Map<string, number>();
	/** Tasks handed over that were seen once, by packed form, and which way. */
	readonly #seen = new Map<string, HandOffVia>();
	/** Tasks the orphan check handed back, and when (insertion order: oldest first). */
	readonly #disowned = new Map<string, number>();
	/** Adds sent and not yet answered: only they can bring a task the channel brought too. */
	#addsInFlight = 0;
	#downCheck: ReturnType<typeof setTimeout> | undefined;

	constructor(hooks: HandOffHooks) {
		this.#hooks = hooks;
	}

	/** Whether any owner is registered: only then can a hand-off reach this container. */
	get active(): boolean {
		return this.#owners.size > 0;
	}

	/** The registered owners (to unregister at close). */
	owners(): string[] {
		return [...this.#owners.keys()];
	}

	/** A claim registered `owner` as idle. */
	register(owner: string, leaseMs: number): void {
		this.#owners.set(owner, leaseMs);
	}

	/** The orphan check is handing `id` back: a late hand-off message for it must not run it. */
	disown(id: string): void {
		if (this.#owners.size === 0) return;
		const now = Date.now();
		this.#prune(now);
		this.#disowned.set(id, now);
	}

	/** Brackets an add's call: a hand-off message that arrives meanwhile may come in its reply too. */
	addSent(): void {
		this.#addsInFlight++;
	}

	addAnswered(): void {
		if (--this.#addsInFlight === 0) this.#forget('message');
	}

	/**
	 * A `take:` body from an add's reply or the channel: true when it was a task for one of the registered owners,
	 * now held for its next claim; false when it is not ours, was brought the other way already, was disowned, or
	 * is malformed (the orphan check hands those back).
	 */
	take(body: string, via: HandOffVia): boolean {
		const found = takenBy(body, this.#owners.keys());
		if (found === undefined) return false;
		const [owner, packed] = found;
		const id = packed.slice(claimedOwnerAt(packed) + owner.length + 1);
		this.#prune(Date.now());
		if (this.#disowned.has(id)) {
			// Handed back already, or to be checked again (the check hands it back if it is still held for us).
			this.#hooks.checkOrphans();
			return false;
		}
		const seen = this.#seen.get(packed);
		if (seen !== undefined && seen !== via) {
			this.#seen.delete(packed);
			return false;
		}
		// A reply's task comes by the channel too (unless it is down); a message's by a reply only if one of our adds
		// is in flight.
		if (via === 'reply' || this.#addsInFlight > 0) this.#seen.set(packed, via);
		let record: TaskRecord;
		try {
			record = this.#hooks.decode(packed, owner);
		} catch {
			return false;
		}
		this.#hooks.hold(owner, record, this.#owners.get(owner));
		return true;
	}

	/** The channel came back or went down: hand-offs sent meanwhile are lost, their tasks orphans (orphans.ts). */
	channelChanged(up: boolean, closed: boolean): void {
		// Messages of tasks an add's reply brought will not come now.
		if (!up) this.#forget('reply');
		if (this.#owners.size === 0) return;
		this.#hooks.checkOrphans();
		if (up || closed) return;
		// Adds may still hand tasks over until the registrations lapse: check again then.
		clearTimeout(this.#downCheck);
		this.#downCheck = setTimeout(() => this.#hooks.checkOrphans(), IDLE_TTL_MS + 100);
		this.#downCheck.unref?.();
	}

	/**
	 * Closing: adds stop handing tasks to this container's owners (`unregister` sends the registered ones), and those
	 * handed over before reach it (`fence`), to be handed back with the tasks claimed ahead. With the server
	 * unreachable (`reachable` false, or a call failing), they wait for their leases.
	 */
	async close(
		reachable: boolean,
		unregister: (owners: string[]) => Promise<unknown>,
		fence: () => Promise<void> | undefined,
	): Promise<void> {
		clearTimeout(this.#downCheck);
		if (!this.active || !reachable) return;
		try {
			await unregister(this.owners());
			await fence();
		} catch {
			// Unreachable now: as above.
		}
	}

	/** Forget the hand-backs older than DISOWNED_MS. */
	#prune(now: number): void {
		for (const [old, at] of this.#disowned) {
			if (now - at < DISOWNED_MS) break;
			this.#disowned.delete(old);
		}
	}

	#forget(via: HandOffVia): void {
		for (const [packed, seen] of this.#seen) if (seen === via) this.#seen.delete(packed);
	}
}
