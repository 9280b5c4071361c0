/** The scheduler's repeat commands over the container's optional repeat storage (see `TaskContainer.putRepeat`). */
import type { TaskContainer } from './contracts.js';
import { ContainerError } from './errors.js';
import type { RepeatRecord } from './repeat-record.js';
import { checkRepeat, repeatInfo, sameSpec, tickAfter, type RepeatInfo, type RepeatOptions } from './repeat-spec.js';

type RepeatMethod = 'putRepeat' | 'getRepeat' | 'listRepeats' | 'removeRepeat' | 'advanceRepeat';

/** The container's repeat method, or a clear error saying it stores no repeats. */
export function repeatMethod<K extends RepeatMethod>(container: TaskContainer, name: K): NonNullable<TaskContainer[K]> {
	const method = container[name];
	if (typeof method !== 'function') {
		throw new ContainerError(
			`This container (${container.constructor.name}) has no \`${name}()\`: it cannot store repeating tasks`,
		);
	}
	return method.bind(container) as NonNullable<TaskContainer[K]>;
}

/** How many times in a row a declaration may find its repeat changed by others before it gives up. */
const PUT_ROUNDS = 20;

/**
 * Store a repeat. The same definition again keeps its next tick (so every process may declare its repeats at
 * start); a changed one replaces it and ticks next after now (or after the stored one's last tick, when this
 * process's clock is behind the one that ticked it). The write is a compare-and-set over what was read:
 * when another scheduler stored or ticked the repeat in between, it reads again (and usually finds its own
 * definition, stored by the other).
 */
export async function putRepeat<TItem>(
	container: TaskContainer,
	options: RepeatOptions<TItem>,
	maxAttempts: number,
): Promise<RepeatInfo<TItem>> {
	const spec = checkRepeat(options, maxAttempts);
	const get = repeatMethod(container, 'getRepeat');
	const put = repeatMethod(container, 'putRepeat');
	for (let round = 0; round < PUT_ROUNDS; round++) {
		const stored = await get(spec.key);
		if (stored !== null && sameSpec(stored.spec, spec)) return repeatInfo<TItem>(stored);
		const now = Date.now();
		// A changed definition ticks after the stored one's last write too: a tick's advance writes the time of the
		// advancer's clock (at or after the tick it added), so a process whose clock is behind cannot start the new
		// schedule at a tick the old one added already (same id: the finished task would be added and run again).
		// The write keeps that time when it is later than this clock's, for the next change to follow in turn.
		const after = Math.max(now, stored?.updatedAt ?? now);
		const record: RepeatRecord = {
			key: spec.key,
			spec,
			nextRunAt: tickAfter(spec, after),
			createdAt: stored?.createdAt ?? now,
			updatedAt: after,
		};
		if (await put(record, stored)) return repeatInfo<TItem>(record);
	}
	throw new ContainerError(
		`Repeat \`${spec.key}\` was changed by other schedulers ${PUT_ROUNDS} times while this one declared it; nothing stored`,
	);
}

export async function listRepeats<TItem>(container: TaskContainer): Promise<RepeatInfo<TItem>[]> {
	return (await repeatMethod(container, 'listRepeats')()).map((record) => repeatInfo<TItem>(record));
}
