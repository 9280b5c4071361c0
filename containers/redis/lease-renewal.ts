/**
 * Lease renewal on Redis: one `renew` script extends an owner's leases and lists every task the server holds for
 * it. The held tasks the renewal leaves out are judged only behind a fence (`inFlight`): claims and transition
 * batches (which claim ahead) go over one connection, in order, so once every one in flight settled, and every task
 * handed over (idle-push.ts) reached this process, the tasks they claimed are known here. Those this container never
 * handed out are orphans, handed back at once by the orphan watch it keeps (orphans.ts); the rest go back to the
 * scheduler as `unknown`.
 */
import type { HeldTasks, RenewResult } from 'lightsched/kit';
import type { WakeChannel } from './channel.js';
import type { RedisClaims } from './claims.js';
import type { HandOffLedger } from './hand-off-ledger.js';
import { RENEW } from './lease-scripts.js';
import { isWellFormed } from './options.js';
import { OrphanWatch } from './orphans.js';
import type { ScriptRun } from './script-runner.js';
import type { RedisTransitions } from './transitions.js';

/** What renewing needs of the container. */
export interface RenewalParts {
	readonly run: ScriptRun;
	readonly ahead: HeldTasks;
	readonly transitions: RedisTransitions;
	readonly claiming: () => RedisClaims;
	readonly handOffs: HandOffLedger;
	readonly channel: () => WakeChannel | undefined;
	readonly commandTimeoutMs: number;
	readonly closed: () => boolean;
}

export class LeaseRenewal {
	readonly #parts: RenewalParts;
	/** Tasks held for an owner whose claim never reached this container: handed back (see orphans.ts). */
	readonly orphans: OrphanWatch;

	constructor(parts: RenewalParts) {
		this.#parts = parts;
		const { ahead, transitions, handOffs } = parts;
		this.orphans = new OrphanWatch({
			held: (owner) => this.held(owner),
			knows: (owner, id) =>
				ahead.holds(owner, id) || transitions.known.owns(owner, id)
					? true
					: transitions.known.evicted
						? undefined
						: false,
			inFlight: () => this.inFlight(),
			handBack: (id, owner, patch, version) => {
				// A hand-off of this task still on its way (the subscription was being renewed) must not run it now.
				handOffs.disown(id);
				return transitions.transition(id, 'running', 'waiting', patch, owner, version);
			},
			closed: parts.closed,
		});
	}

	/** See `RedisContainer.renew`. */
	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		if (!isWellFormed(owner)) return { lost: [...ids], stopRequested: [], unknown: [] };
		const { run, transitions, ahead } = this.#parts;
		const sendable = ids.filter(isWellFormed);
		const reply = (await run(RENEW, [owner, String(now), String(leaseMs), ...sendable])) as string[][];
		const [lost = [], stopRequested = [], held = [], attempts = [], versions = []] = reply;
		// Claims and transition batches (which claim ahead) sent before this renew were answered before it (one
		// connection, in order): once every one in flight now settled, the tasks they claimed are known here.
		await this.inFlight();
		for (const id of ids) if (!isWellFormed(id)) lost.push(id);
		for (const id of lost) transitions.known.lostBy(owner, id);
		// Not those held here for the owner, nor those being handed back from here (held-tasks.ts says why).
		const unknown = this.orphans.sort(owner, held, attempts, versions).filter((id) => !ahead.holds(owner, id));
		return { lost, stopRequested, unknown };
	}

	/** The tasks the server holds for `owner`, with their attempts and versions (the renew script with no ids). */
	async held(owner: string): Promise<[string[], string[], string[]]> {
		const reply = (await this.#parts.run(RENEW, [owner, String(Date.now()), '0'])) as string[][];
		return [reply[2] ?? [], reply[3] ?? [], reply[4] ?? []];
	}

	/**
	 * Settles once every claim and transition batch in flight now was answered (and handled) or given up on, and
	 * every task handed over (idle-push.ts) before now reached this process.
	 */
	inFlight(): Promise<unknown> {
		const { handOffs, claiming, transitions, commandTimeoutMs } = this.#parts;
		const fence = handOffs.active ? this.#parts.channel()?.fence(commandTimeoutMs) : undefined;
		const claims = claiming().calls;
		if (claims.size === 0 && fence === undefined) return transitions.batch.answered();
		return Promise.all([transitions.batch.answered(), fence, ...[...claims].map((call) => call.catch(() => null))]);
	}
}
