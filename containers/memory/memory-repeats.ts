/** The in-memory containers' repeats: a map by key; a tick's compare-and-set and its add in one synchronous step. */
import type { RepeatRecord } from 'lightsched/kit';

const copy = (repeat: RepeatRecord): RepeatRecord => ({ ...repeat, spec: structuredClone(repeat.spec) });

export class MemoryRepeats {
	readonly #repeats = new Map<string, RepeatRecord>();

	/** Store `repeat` if the stored one is still `expected` (none when `null`); see `TaskContainer.putRepeat`. */
	put(repeat: RepeatRecord, expected: RepeatRecord | null): boolean {
		const stored = this.#repeats.get(repeat.key);
		const current =
			expected === null
				? stored === undefined
				: stored !== undefined &&
					stored.nextRunAt === expected.nextRunAt &&
					stored.updatedAt === expected.updatedAt;
		if (!current) return false;
		this.#repeats.set(repeat.key, { ...copy(repeat), createdAt: stored?.createdAt ?? repeat.createdAt });
		return true;
	}

	get(key: string): RepeatRecord | null {
		const repeat = this.#repeats.get(key);
		return repeat === undefined ? null : copy(repeat);
	}

	list(): RepeatRecord[] {
		return [...this.#repeats.values()].map(copy).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
	}

	remove(key: string): boolean {
		return this.#repeats.delete(key);
	}

	/** If `key`'s next tick is `expected`: run `add` (which throws, changing nothing, on a duplicate), then move it. */
	advance(key: string, expected: number, next: number | null, add: () => void): boolean {
		const repeat = this.#repeats.get(key);
		if (repeat === undefined || repeat.nextRunAt !== expected) return false;
		add();
		this.#repeats.set(key, { ...repeat, nextRunAt: next, updatedAt: Date.now() });
		return true;
	}
}
