/**
 * An add the combined container's persistent part stored only in part (`PartialAddError`): the tasks it did store
 * go to memory too, so they run now and not only after the next restart's restore.
 */
import type { PartialAddError, TaskContainer, TaskRecord } from 'lightsched/kit';

/**
 * Puts in memory the tasks of `tasks` that the persistent part stored: `error.storedIds`, and those of its
 * `unsureIds` the persistent part holds, waiting, when asked (best effort: a server still out of reach leaves them
 * to the restore). Never throws: the caller rethrows `error`.
 */
export async function keepStored(
	memory: TaskContainer,
	persistent: TaskContainer,
	tasks: readonly TaskRecord[],
	error: PartialAddError,
): Promise<void> {
	const stored = new Set(error.storedIds);
	const kept = tasks.filter((task) => stored.has(task.id));
	const found = await Promise.all(error.unsureIds.map((id) => persistent.get(id).catch(() => null)));
	for (const task of found) if (task !== null && task.status === 'waiting') kept.push(task);
	if (kept.length > 0) await memory.add(kept).catch(() => undefined);
}
