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

/**
 * Store a repeat. The same definition again keeps its next tick (so every process may declare its repeats at
 * start); a changed one replaces it and ticks next after now.
 */
export async function putRepeat<TItem>(
	container: TaskContainer,
	options: RepeatOptions<TItem>,
	maxAttempts: number,
): Promise<RepeatInfo<TItem>> {
	const spec = checkRepeat(options, maxAttempts);
	const stored = await repeatMethod(container, 'getRepeat')(spec.key);
	if (stored !== null && sameSpec(stored.spec, spec)) return repeatInfo<TItem>(stored);
	const now = Date.now();
	const record: RepeatRecord = {
		key: spec.key,
		spec,
		nextRunAt: tickAfter(spec, now),
		createdAt: stored?.createdAt ?? now,
		updatedAt: now,
	};
	await repeatMethod(container, 'putRepeat')(record);
	return repeatInfo<TItem>(record);
}

export async function listRepeats<TItem>(container: TaskContainer): Promise<RepeatInfo<TItem>[]> {
	return (await repeatMethod(container, 'listRepeats')()).map((record) => repeatInfo<TItem>(record));
}
