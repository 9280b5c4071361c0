/**
 * `add` with `onDuplicateKey: 'existing'`: a task whose deduplication key a waiting or running task holds is not
 * added, and that task is handed back in its place. Each attempt is the container's own atomic add of what is
 * left, so the answer holds across processes: a task is either stored by this add or named as the holder.
 */
import type { TaskContainer } from './contracts.js';
import { describeValue, DuplicateKeyError } from './errors.js';
import { rejectUnknownOptions } from './option-names.js';
import { isFinalStatus, type TaskRecord } from './task.js';

/** What `Scheduler.add` takes besides the tasks. */
export interface AddOptions {
	/**
	 * What an add does with a task whose `key` a waiting or running task holds: `'reject'` refuses the whole add with
	 * `DuplicateKeyError`; `'existing'` adds the others and returns the holder in that task's place.
	 * @default 'reject'
	 */
	readonly onDuplicateKey?: 'reject' | 'existing';
}

/** Check `add`'s options; returns what to do with a held key. */
export function checkAddOptions(options: AddOptions): 'reject' | 'existing' {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(`Expected the add options to be an object, got ${describeValue(options)}`);
	}
	rejectUnknownOptions('add', options, ['onDuplicateKey']);
	const { onDuplicateKey = 'reject' } = options;
	if (onDuplicateKey !== 'reject' && onDuplicateKey !== 'existing') {
		throw new TypeError(
			`Expected \`onDuplicateKey\` to be 'reject' or 'existing', got ${describeValue(onDuplicateKey)}`,
		);
	}
	return onDuplicateKey;
}

/** Per task of the add: stored by it, the holder of its key returned instead, or the same as another task of it. */
export type AddOutcome =
	| { readonly kind: 'stored' }
	| { readonly kind: 'existing'; readonly task: TaskRecord }
	| { readonly kind: 'same-as'; readonly index: number };

/**
 * Store `records` with `store` (all or nothing per call), leaving out each one whose key is held and naming its
 * holder instead. Returns one outcome per record.
 */
export async function addOrExisting(
	records: readonly TaskRecord[],
	store: (records: TaskRecord[]) => Promise<void>,
	container: Pick<TaskContainer, 'get'>,
): Promise<AddOutcome[]> {
	const result: AddOutcome[] = records.map(() => ({ kind: 'stored' }));
	let left = records.map((record, index) => ({ record, index }));
	// Each round stores the rest, or takes one task out, or sees a holder finish (then the task goes in): bounded.
	for (let round = 0; round <= records.length * 2 + 2; round++) {
		try {
			if (left.length > 0) await store(left.map((entry) => entry.record));
			return result;
		} catch (error) {
			if (!(error instanceof DuplicateKeyError)) throw error;
			const entry = left.find((e) => e.record.key === error.key && e.record.id !== error.existingId);
			if (entry === undefined) throw error;
			const sibling = left.find((e) => e.record.id === error.existingId);
			if (sibling !== undefined) {
				// Two tasks of this add share the key: the later one gets the earlier.
				result[entry.index] = { kind: 'same-as', index: sibling.index };
				left = left.filter((e) => e !== entry);
				continue;
			}
			const holder = await container.get(error.existingId);
			if (holder !== null && !isFinalStatus(holder.status) && holder.key === error.key) {
				result[entry.index] = { kind: 'existing', task: holder };
				left = left.filter((e) => e !== entry);
			}
		}
	}
	throw new DuplicateKeyError(left[0]?.record.key ?? '', 'changing hands: add again');
}
