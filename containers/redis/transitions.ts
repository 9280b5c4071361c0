/**
 * The Redis container's transitions: each a compare-and-set sent in a batch with the others of the same tick (one
 * `transition` script call, see transition-batch.ts and transition-script.ts), answered with just the script's `now`
 * when the stored version is the one this container knows (the record is rebuilt here, see known-records.ts), and
 * carrying the tasks the script claimed ahead for busy owners.
 *
 * Claim-ahead: when a busy scheduler's task reaches a final status, the transition script also claims the next due
 * task for the same owner, in the same round trip, and the container holds it until the scheduler's next `claim`
 * (which follows at once: the finished task freed a slot). This refills a slot with one round trip per task instead
 * of two (finish, then claim). Only for owners whose last claim came back full (a backlog); holding, the hold time
 * and handing back what is not taken in time are the core's rule (`HeldTasks`, shared with the SQL container);
 * tasks handed over by an add to an idle claimer (idle-push.ts) are held the same way, marked `pushed`.
 */
import {
	type ClaimGuard,
	ContainerError,
	isFinalStatus,
	jsonOutputError,
	type HeldTasks,
	type TaskPatch,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched/kit';
import { decodeRecord, encodeBatch, encodePatch, RECORD_FIELDS, storedValues, unpackClaimed } from './codec.js';
import {
	appliedTo,
	KnownRecords,
	recordAfter,
	versionOf,
	type Holder,
	type Known,
	type StoredValues,
} from './known-records.js';
import { isWellFormed } from './options.js';
import type { ClockedScript } from './scripts.js';
import { TransitionBatch } from './transition-batch.js';
import { SUCCESS_SKIPS_ERROR, SUCCESS_SKIPS_OUTPUT, TRANSITION, TRANSITION_HEAD } from './transition-script.js';

/**
 * The most transitions in one script call, and the most such calls awaiting their reply. Small batches several at
 * a time keep Redis busy while this process still finishes the rest of a burst (one batch of 100 would leave each
 * side idle while the other works); measured at concurrency 100: 25 and 4 beat 10 or 50, and 1 or 2 in flight.
 */
const MAX_BATCH = 25;
const MAX_IN_FLIGHT = 4;
/** The lease a held task is judged by when its owner's claims stopped coming back full meanwhile (see claim-ahead.ts). */
export const DEFAULT_AHEAD_LEASE_MS = 1000;

const SEQ = RECORD_FIELDS.indexOf('seq');
const VERSION = RECORD_FIELDS.indexOf('v');
const ERROR = RECORD_FIELDS.indexOf('error');
const OUTPUT = RECORD_FIELDS.indexOf('output');

/** A transition's entry of the script's reply once read (see #send). */
type Reply = StoredValues | string | Refused | null;

/** A transition refused on a task still active: who holds it now (see `KnownRecords.refused`). */
class Refused {
	constructor(readonly holder: Holder) {}
}

/**
 * One transition as queued for a batch: its arguments (TRANSITION_HEAD values, then the patch pairs), and, for the
 * usual end of a task (running to succeeded with the success patch, see transition-script.ts), its short form, sent
 * instead when the batch's head has the same owner and claim-ahead lease.
 */
interface Queued {
	readonly item: string[];
	readonly success?: readonly string[];
}

/** What the transitions need of their container. */
export interface TransitionParts {
	/** Runs a script (bounded, see call-guard.ts). */
	run(script: ClockedScript, args: readonly string[]): Promise<unknown>;
	/** The tasks claimed ahead, held for their owners. */
	readonly ahead: HeldTasks;
	/** Whether a finished task may claim its owner's next one in the same call (no global or rate limit, open). */
	mayClaimAhead(): boolean;
	/** A call given up on: its claims ahead may have been applied and never reached this container. */
	lostCall(): void;
	/** Whether the container closed (a transition's result then waits for the held tasks to be handed back). */
	closed(): boolean;
	/** Names the container and server in error messages. */
	where(): string;
}

export class RedisTransitions {
	readonly #parts: TransitionParts;
	/** Makes each transition's token unique: this instance, then a counter. */
	readonly #instance: string;
	#calls = 0;
	/** The stored form of the tasks this container claimed and runs, so transitions need not send it back. */
	readonly known = new KnownRecords();
	/** Transitions issued in the same tick, sent as one script call. */
	readonly batch: TransitionBatch<Queued>;

	constructor(parts: TransitionParts, instance: string) {
		this.#parts = parts;
		this.#instance = instance;
		this.batch = new TransitionBatch<Queued>((items) => this.#send(items), {
			maxItems: MAX_BATCH,
			maxInFlight: MAX_IN_FLIGHT,
		});
	}

	/**
	 * See `TaskContainer.transition` (`claim`: see `ClaimGuard`). With `version` (`<seq>:<v>`, as a renewal read it)
	 * the move applies only to that stored version: a hand-back of the claim read then, never of a later claim of the
	 * same task (orphans.ts).
	 */
	transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		version?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		// A busy owner's finished task: claim its next task in the same round trip (see the top of this file).
		const aheadMs =
			owner !== undefined && isFinalStatus(to) && this.#parts.mayClaimAhead()
				? this.#parts.ahead.leaseFor(owner)
				: undefined;
		const flags =
			(owner === undefined ? 0 : 1) |
			(aheadMs === undefined ? 0 : 2) |
			(version === undefined ? 0 : 4) |
			(claim === undefined ? 0 : 8);
		const aheadLease = aheadMs === undefined ? '' : String(aheadMs);
		// An output JSON would change fails the attempt (InvalidOutputError) instead of being stored changed.
		const invalid = patch.output === undefined ? null : jsonOutputError(patch.output);
		if (invalid !== null) return Promise.reject(invalid);
		// No stored task has such an id or owner (add and claim refuse them); sent, U+FFFD would name another.
		if (!isWellFormed(id) || (owner !== undefined && !isWellFormed(owner))) return Promise.resolve(null);
		const known = this.known.get(id);
		// The transition's head (TRANSITION_HEAD values), then the patch pairs, in one array.
		let item: string[];
		const head = [
			id,
			from,
			to,
			String(flags),
			owner ?? '',
			String(++this.#calls),
			aheadLease,
			version ?? versionOf(known),
		];
		// A guarded move (flag 8): the claim's attempts and startedAt follow the head, before the patch pairs.
		if (claim !== undefined)
			head.push(String(claim.attempts), claim.startedAt === null ? '' : String(claim.startedAt));
		try {
			item = encodePatch(patch, id, head);
		} catch (error) {
			return Promise.reject(error);
		}
		const success =
			from === 'running' &&
			to === 'succeeded' &&
			version === undefined &&
			claim === undefined &&
			owner !== undefined
				? successForm(item, known)
				: undefined;
		const queued: Queued = success === undefined ? { item } : { item, success };
		const pairs = claim === undefined ? TRANSITION_HEAD : TRANSITION_HEAD + 2;
		// A plain promise chain, not an async function: this runs once per finished task.
		return this.batch
			.submit(queued)
			.then((reply) => this.#transitioned(id, to, item, pairs, known, reply as Reply));
	}

	/** A task a claim returned: decoded, and remembered. */
	claimed(packed: string, owner: string): TaskRecord {
		const values = unpackClaimed(packed, owner);
		const record = decodeRecord(values);
		this.known.remember(values, record);
		return record;
	}

	#transitioned(
		id: string,
		to: TaskStatus,
		item: readonly string[],
		pairs: number,
		known: Known | undefined,
		stored: Reply,
	): TaskRecord | null | Promise<TaskRecord> {
		if (stored === null || stored instanceof Refused) {
			this.known.refused(id, stored?.holder, known);
			return null;
		}
		const active = to === 'running' || to === 'exporting';
		let record: TaskRecord;
		if (typeof stored === 'string' && known !== undefined) {
			// Just the script's `now`: the stored version was the one we know, so the record is ours to rebuild.
			record = recordAfter(known, to, stored, item, pairs, !active);
			if (active) this.known.remember(appliedTo(known.values, to, stored, item, pairs), record);
		} else {
			const values = storedValues(stored);
			record = decodeRecord(values);
			if (active) this.known.remember(values, record);
		}
		if (!active) this.known.ended(id, known);
		if (this.#parts.closed()) return this.#parts.ahead.drain().then(() => record);
		return record;
	}

	/** One `transition` script call for a batch of transitions; per-transition failures come back as Error entries. */
	async #send(queued: readonly Queued[]): Promise<readonly unknown[]> {
		const { ahead } = this.#parts;
		// The head's owner and claim-ahead lease: those of the first usual success (see transition-script.ts).
		const first = queued.find((q) => q.success !== undefined)?.item;
		const owner = first?.[4] ?? '';
		const lease = first?.[6] ?? '';
		const items = queued.map((q) =>
			q.success !== undefined && q.item[4] === owner && q.item[6] === lease ? q.success : q.item,
		);
		let reply: unknown;
		try {
			reply = await this.#parts.run(TRANSITION, [
				encodeBatch([String(Date.now()), this.#instance, owner, lease, ...items]),
			]);
		} catch (error) {
			// Given up on (or failed): applied or not, its claims ahead (if any) never reached this container.
			this.#parts.lostCall();
			throw error;
		}
		const [replies, claimed, now] = JSON.parse(reply as string) as [
			unknown[],
			[string, string[] | object][],
			string,
		];
		// The tasks claimed ahead are held before the transitions resolve: the slots they freed are refilled from them.
		for (const [owner, packed] of Array.isArray(claimed) ? claimed : []) {
			if (!Array.isArray(packed)) continue;
			ahead.hold(
				owner,
				packed.map((text: string) => this.claimed(text, owner)),
				ahead.leaseFor(owner) ?? DEFAULT_AHEAD_LEASE_MS,
			);
		}
		// Each transition's entry: null (lost), Refused (lost on a task still active), the script's now (the version
		// we know), or the stored values.
		return replies.map((entry) => {
			if (entry === false) return null;
			if (entry === true) return now;
			if (Array.isArray(entry)) return entry[0] as unknown;
			const { held, seq } = entry as { held?: unknown; seq?: unknown };
			if (typeof held === 'string') return new Refused({ owner: held, seq: String(seq) });
			const message = String((entry as { err?: unknown }).err);
			return new ContainerError(`${this.#parts.where()}: transition failed: ${message}`, {
				cause: new Error(message),
			});
		});
	}
}

/**
 * The short form of a running task's success (see transition-script.ts), or undefined when the patch is not the
 * usual one (exactly output, error null, finishedAt, owner and leaseUntil null). Marks the fields the version this
 * container knows already holds as written (error null, the same output): the script skips them when the stored
 * version is that one.
 */
function successForm(item: readonly string[], known: Known | undefined): readonly string[] | undefined {
	if (item.length !== TRANSITION_HEAD + 10) return undefined;
	let output: string | undefined;
	let finishedAt: string | undefined;
	let usual = 0;
	for (let i = TRANSITION_HEAD; i < item.length; i += 2) {
		const field = item[i];
		const value = item[i + 1] as string;
		if (field === 'output') output = value;
		else if (field === 'finishedAt') finishedAt = value;
		else if (
			(field === 'error' && value === 'null') ||
			((field === 'owner' || field === 'leaseUntil') && value === '')
		)
			usual++;
	}
	if (output === undefined || finishedAt === undefined || finishedAt === '' || usual !== 3) return undefined;
	const values = known?.values;
	const skips =
		(values?.[ERROR] === 'null' ? SUCCESS_SKIPS_ERROR : 0) |
		(values?.[OUTPUT] === output ? SUCCESS_SKIPS_OUTPUT : 0);
	return [
		item[0] as string,
		item[5] as string,
		values?.[SEQ] ?? '',
		values?.[VERSION] ?? '',
		finishedAt,
		output,
		String(skips),
	];
}
