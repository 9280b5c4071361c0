/**
 * The Redis container's claims: tasks held for the owner first (claimed ahead in a transition's reply, or handed
 * over by an add: idle-push.ts), then one `claim` script call for the rest, which may register the owner as idle for
 * adds to hand tasks to. A claim given up on may still be applied: its tasks are then orphans (orphans.ts).
 */
import type { HeldTasks, TaskRecord } from 'lightsched/kit';
import type { WakeChannel } from './channel.js';
import type { HandOffLedger } from './hand-off-ledger.js';
import { isWellFormed } from './options.js';
import type { OrphanWatch } from './orphans.js';
import type { ScriptRun } from './script-runner.js';
import { CLAIM } from './scripts.js';
import type { RedisTransitions } from './transitions.js';

/** What the claims need of their container. */
export interface ClaimParts {
	readonly run: ScriptRun;
	readonly ahead: HeldTasks;
	readonly orphans: OrphanWatch;
	readonly handOffs: HandOffLedger;
	readonly transitions: RedisTransitions;
	/** The wake-up channel, once watched (a hand-off travels on it). */
	readonly channel: () => WakeChannel | undefined;
	readonly closed: () => boolean;
	/** The `handOff` option: short claims register their owner as idle (idle-push.ts). */
	readonly handOff: boolean;
	readonly globalConcurrency: number;
	/** The claim script's rate and group arguments (redis/rate-limit.ts, redis/group-limit.ts). */
	readonly rateArgs: readonly string[];
	/** Whether a rate or group limit is set: no claim-ahead, and the claim's reply starts with when to claim again. */
	readonly rateLimited: boolean;
	/** Whether the scripts judge by the server's clock (then `rateWakeAt` is on this process's clock at the reply). */
	readonly serverClock: boolean;
}

export class RedisClaims {
	readonly #parts: ClaimParts;
	/** Claims sent and not yet answered (see orphans.ts). */
	readonly calls = new Set<Promise<unknown>>();
	/**
	 * When the window of the last claim the rate limit cut short reopens, or when to claim again after one the
	 * group scan bound cut short (this process's clock), or null.
	 */
	rateWakeAt: number | null = null;

	constructor(parts: ClaimParts) {
		this.#parts = parts;
	}

	/** See `TaskContainer.claim`. */
	claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		const { ahead, orphans, handOffs, transitions, run } = this.#parts;
		if (this.#parts.closed() || max <= 0) return Promise.resolve([]);
		if (!isWellFormed(owner))
			return Promise.reject(
				new TypeError(
					`Expected \`owner\` to be well-formed Unicode (no lone surrogate), got ${JSON.stringify(owner)}`,
				),
			);
		// Tasks an add handed to this owner (idle-push.ts) start now, without a claim's round trip: nothing else was
		// waiting when they were handed over, and an add since then wakes us again.
		const pushed = ahead.hasPushed(owner);
		const held = ahead.take(owner, max);
		if (held.length === max || (pushed && held.length > 0)) return Promise.resolve(held);
		orphans.noteOwner(owner);
		// Only while the channel is up (a hand-off travels on it), and with no limit the claim script judges.
		const channel = this.#parts.channel();
		const register =
			this.#parts.handOff &&
			this.#parts.globalConcurrency === 0 &&
			!this.#parts.rateLimited &&
			channel?.up === true;
		if (register) handOffs.register(owner, leaseMs);
		const args = [
			String(max - held.length),
			owner,
			String(now),
			String(leaseMs),
			String(this.#parts.globalConcurrency),
			...this.#parts.rateArgs,
			register ? '1' : '0',
			register ? (channel?.live ?? '') : '',
		];
		const call = run(CLAIM, args).then(
			(reply) => {
				let packed = reply as string[];
				if (this.#parts.rateLimited) {
					const reopensInMs = Number(packed[0]);
					// On this process's clock, late rather than early by the round trip (+1 ms of rounding).
					this.rateWakeAt = !(reopensInMs >= 0)
						? null
						: (this.#parts.serverClock ? Date.now() : now) + reopensInMs + 1;
					packed = packed.slice(1);
				}
				const claimed = held.concat(packed.map((one) => transitions.claimed(one, owner)));
				ahead.noteClaim(owner, leaseMs, max, claimed.length);
				return claimed;
			},
			(error: unknown) => {
				// Given up on (or failed): it may still be applied, or have been; its tasks would be orphans.
				void ahead.handBackNow(held, owner);
				orphans.check();
				throw error;
			},
		);
		this.calls.add(call);
		const forget = (): void => void this.calls.delete(call);
		call.then(forget, forget);
		return call;
	}
}
