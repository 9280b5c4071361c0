/**
 * The combined container's optional operations, over its two parts: the persistent part holds the truth (the
 * pause flag survives a restart there, and `clean` deletes there first), memory follows it.
 */
import {
	ContainerError,
	InvalidStateError,
	type CleanQuery,
	type TaskContainer,
	type TaskRecord,
} from 'lightsched/kit';

type Operation =
	| 'setPaused'
	| 'isPaused'
	| 'clean'
	| 'putRepeat'
	| 'getRepeat'
	| 'listRepeats'
	| 'removeRepeat'
	| 'advanceRepeat'
	| 'appendLogs'
	| 'getLogs'
	| 'readChanges';

/** The part's operation, or a clear error naming the part and what it lacks. */
export function operation<K extends Operation>(
	part: TaskContainer,
	role: string,
	name: K,
): NonNullable<TaskContainer[K]> {
	const method = part[name];
	if (typeof method !== 'function') {
		throw new ContainerError(
			`CombinedContainer: its ${role} container (${part.constructor.name}) has no \`${name}()\`, so the combination cannot offer it`,
		);
	}
	return method.bind(part) as NonNullable<TaskContainer[K]>;
}

/** Store the flag, then hold or free memory's claims (memory's resume wakes the scheduler). */
export async function setPausedBoth(memory: TaskContainer, persistent: TaskContainer, paused: boolean): Promise<void> {
	await operation(persistent, 'persistent', 'setPaused')(paused);
	await operation(memory, 'memory', 'setPaused')(paused);
}

/** At restore: memory takes the stored flag. */
export async function restorePaused(memory: TaskContainer, persistent: TaskContainer): Promise<void> {
	if (typeof persistent.isPaused !== 'function' || typeof memory.setPaused !== 'function') return;
	if (await persistent.isPaused()) await memory.setPaused(true);
}

/** Whether claims are held (memory's flag: it follows the stored one from restore on). */
export function isPausedMemory(memory: TaskContainer): Promise<boolean> {
	return operation(memory, 'memory', 'isPaused')();
}

/** Clean the persistent container, then drop the same tasks from memory (a re-added one there stays). */
export async function cleanBoth(
	memory: TaskContainer,
	persistent: TaskContainer,
	query: CleanQuery,
): Promise<string[]> {
	const ids = await operation(persistent, 'persistent', 'clean')(query);
	for (const id of ids) {
		try {
			await memory.remove(id);
		} catch (error) {
			// Added again since the persistent delete: that new task is not the one cleaned.
			if (!(error instanceof InvalidStateError)) throw error;
		}
	}
	return ids;
}

/** A tick: moved and added in the persistent container (atomically), then the task joins memory. */
export async function advanceBoth(
	memory: TaskContainer,
	persistent: TaskContainer,
	tick: { key: string; expected: number; next: number | null; task: TaskRecord | null },
): Promise<boolean> {
	const { key, expected, next, task } = tick;
	const moved = await operation(persistent, 'persistent', 'advanceRepeat')(key, expected, next, task);
	// As `add` does: the same records go to memory once stored.
	if (moved && task !== null) await memory.add([task]);
	return moved;
}
