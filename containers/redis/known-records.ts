/**
 * The stored form (RECORD_FIELDS values) of the tasks this container claimed and still runs, each at a version:
 * every script that writes a task hash bumps its `v` field (add sets it to 0). A transition sends the version it
 * knows (`<seq>:<v>`, seq telling a re-added task apart); when the stored one is the same, nothing but this
 * container's own writes happened since, so the script answers with just its `now` instead of the whole record and
 * the record is rebuilt here, exactly as the script would (the patch's stored values over the known ones). When
 * the versions differ (a renewal, a stop request, another process), the script sends the whole record.
 *
 * This saves Redis reading and sending twenty fields per finished task, and this process decoding them.
 */
import { RECORD_FIELDS } from './codec.js';

export type StoredValues = (string | null)[];

const POSITION = new Map<string, number>(RECORD_FIELDS.map((field, i) => [field, i]));
const STATUS = RECORD_FIELDS.indexOf('status');
const UPDATED_AT = RECORD_FIELDS.indexOf('updatedAt');
const SEQ = RECORD_FIELDS.indexOf('seq');
const VERSION = RECORD_FIELDS.indexOf('v');
/** A bound for containers used without a scheduler (claims never followed by a transition). */
const MAX_KNOWN = 100_000;

export class KnownRecords {
	readonly #known = new Map<string, StoredValues>();

	get size(): number {
		return this.#known.size;
	}

	/** Remember a task as a claim (or a transition to running) returned it. */
	remember(values: StoredValues): void {
		const id = values[0];
		if (typeof id !== 'string') return;
		if (this.#known.size >= MAX_KNOWN && !this.#known.has(id)) {
			const oldest = this.#known.keys().next();
			if (oldest.done !== true) this.#known.delete(oldest.value);
		}
		this.#known.set(id, values);
	}

	forget(id: string): void {
		this.#known.delete(id);
	}

	/** What this container knows of `id` (the values to send the version of, and to rebuild the record from). */
	get(id: string): StoredValues | undefined {
		return this.#known.get(id);
	}
}

/** The version a transition sends for the known values: `<seq>:<v>`, or '' when unknown. */
export function versionOf(known: StoredValues | undefined): string {
	return known === undefined ? '' : `${known[SEQ] ?? ''}:${known[VERSION] ?? ''}`;
}

/**
 * The stored values after a transition the script applied to the version this container knew: the known values,
 * then the new status, `updatedAt`, version and the patch pairs (stored form), as the script writes them.
 */
export function appliedTo(known: StoredValues, to: string, now: string, pairs: readonly string[]): StoredValues {
	const values = known.slice();
	values[STATUS] = to;
	values[UPDATED_AT] = now;
	values[VERSION] = String(Number(known[VERSION] ?? 0) + 1);
	for (let i = 0; i < pairs.length; i += 2) {
		const at = POSITION.get(pairs[i] as string);
		if (at !== undefined) values[at] = pairs[i + 1] as string;
	}
	return values;
}
