/**
 * The stored form (RECORD_FIELDS values) of the tasks this container claimed and still runs, each at a version:
 * every script that writes a task hash bumps its `v` field (add sets it to 0). A transition sends the version it
 * knows (`<seq>:<v>`, seq telling a re-added task apart); when the stored one is the same, nothing but this
 * container's own writes happened since, so the script answers with just its `now` instead of the whole record and
 * the record is rebuilt here, exactly as the script would (the patch's stored values over the known ones). When
 * the versions differ (a renewal, a stop request, another process), the script sends the whole record.
 *
 * This saves Redis reading and sending twenty fields per finished task, and this process decoding them: the
 * decoded record is kept beside the stored values (a private copy: the one a claim hands out is the caller's to
 * change), and the transition's result is that record with the patch's stored values decoded over it.
 */
import { copyTask, type TaskRecord } from 'lightsched/kit';
import { decodeField, RECORD_FIELDS } from './codec.js';

export type StoredValues = (string | null)[];

/** A task as this container last stored it: its stored values, and the record they decode to. */
export interface Known {
	readonly values: StoredValues;
	readonly record: TaskRecord;
}

/** Who the server holds an active task for, as a refused transition reports it: the stored owner and seq. */
export interface Holder {
	readonly owner: string;
	readonly seq: string;
}

const POSITION = new Map<string, number>(RECORD_FIELDS.map((field, i) => [field, i]));
const STATUS = RECORD_FIELDS.indexOf('status');
const UPDATED_AT = RECORD_FIELDS.indexOf('updatedAt');
const SEQ = RECORD_FIELDS.indexOf('seq');
const VERSION = RECORD_FIELDS.indexOf('v');
/** A bound for containers used without a scheduler (claims never followed by a transition). */
const MAX_KNOWN = 100_000;

export class KnownRecords {
	readonly #known = new Map<string, Known>();
	#evicted = false;

	get size(): number {
		return this.#known.size;
	}

	/** Whether a record was ever dropped for room (then `owns` may miss a task this container did claim). */
	get evicted(): boolean {
		return this.#evicted;
	}

	/** Whether this container claimed `id` for `owner` (and handed it out or holds it) and still knows it. */
	owns(owner: string, id: string): boolean {
		return this.#known.get(id)?.record.owner === owner;
	}

	/** Remember a task as a claim (or a transition to running) returned it: its stored values and a copy of its record. */
	remember(values: StoredValues, record: TaskRecord): void {
		const id = record.id;
		if (this.#known.size >= MAX_KNOWN && !this.#known.has(id)) {
			const oldest = this.#known.keys().next();
			if (oldest.done !== true) this.#known.delete(oldest.value);
			this.#evicted = true;
		}
		this.#known.set(id, { values, record: copyTask(record) });
	}

	/**
	 * A renewal by `owner` found `id` no longer its: forget it, unless this container knows it as another owner's
	 * (a renewal naming a task it does not hold says nothing of the claim this container handed out).
	 */
	lostBy(owner: string, id: string): void {
		if (this.owns(owner, id)) this.#known.delete(id);
	}

	/**
	 * A transition of `id` was refused (the compare-and-set lost): forget it, unless the server still holds the
	 * claim this container knows (`holder`: the stored owner and seq of a task still active, from the script). The
	 * refusal of a late report of another owner, or of a move from a status the task is not in, leaves that claim
	 * standing: the task is still handed out, and a renewal of its owner that leaves it out reports it as `unknown`.
	 * `sent`: what was known of `id` when the transition was sent (see `ended`).
	 */
	refused(id: string, holder: Holder | undefined, sent: Known | undefined): void {
		const known = this.#known.get(id);
		if (known === undefined || known !== sent) return;
		if (holder === undefined || holder.owner !== known.record.owner || holder.seq !== known.values[SEQ])
			this.#known.delete(id);
	}

	/**
	 * A transition of `id` sent when `sent` was known moved it out of running: forget it, unless a record was
	 * remembered since (the task claimed again, ahead of a transition or by a claim, while the transition, such as an
	 * orphan's hand-back, was on its way): that is the task handed out now, and forgotten, the next orphan check would
	 * hand it back while it runs. The same holds for a refusal (`refused`).
	 */
	ended(id: string, sent: Known | undefined): void {
		if (this.#known.get(id) === sent) this.#known.delete(id);
	}

	/** What this container knows of `id` (the values to send the version of, and to rebuild the record from). */
	get(id: string): Known | undefined {
		return this.#known.get(id);
	}
}

/** The version a transition sends for the known values: `<seq>:<v>`, or '' when unknown. */
export function versionOf(known: Known | undefined): string {
	return known === undefined ? '' : `${known.values[SEQ] ?? ''}:${known.values[VERSION] ?? ''}`;
}

/**
 * The stored values after a transition the script applied to the version this container knew: the known values,
 * then the new status, `updatedAt`, version and the patch pairs (stored form), as the script writes them.
 */
export function appliedTo(
	known: StoredValues,
	to: string,
	now: string,
	pairs: readonly string[],
	start = 0,
): StoredValues {
	const values = known.slice();
	values[STATUS] = to;
	values[UPDATED_AT] = now;
	values[VERSION] = String(Number(known[VERSION] ?? 0) + 1);
	for (let i = start; i < pairs.length; i += 2) {
		const at = POSITION.get(pairs[i] as string);
		if (at !== undefined) values[at] = pairs[i + 1] as string;
	}
	return values;
}

/**
 * The record after a transition the script applied to the version this container knew, decoded: the known record
 * with the new status, `updatedAt` and each patch pair's stored value decoded (so a value reads back as it would
 * from Redis: JSON round-tripped, `undefined` as null). A copy, unless `last` (the task is forgotten after this
 * transition, so its private record can be the result itself). The pairs start at `start`.
 */
export function recordAfter(
	known: Known,
	to: TaskRecord['status'],
	now: string,
	pairs: readonly string[],
	start: number,
	last: boolean,
): TaskRecord {
	const record = (last ? known.record : copyTask(known.record)) as unknown as Record<string, unknown>;
	record['status'] = to;
	record['updatedAt'] = Number(now);
	for (let i = start; i < pairs.length; i += 2) {
		const field = pairs[i] as string;
		if (POSITION.has(field)) record[field] = decodeField(field, pairs[i + 1] as string);
	}
	return record as unknown as TaskRecord;
}
