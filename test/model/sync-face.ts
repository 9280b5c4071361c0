/**
 * A memory container driven through its synchronous face (`container.sync`) the way the scheduler drives it on its
 * hot path: `add`, `claim` and `transition` go through `sync`, and a transition is given the record object the
 * last claim of that task returned (a copy linked to the stored record), falling back to a plain `{ ...record }` with the
 * id. Results are copied before they are handed out, as the scheduler copies them. Every other method is the
 * container's own. An add of ids never stored before, none twice, says so (`fresh`, as the scheduler does for ids it
 * generates): the container then skips its look-up by id, and the model checks that nothing else changes.
 */
import { copyTask, type TaskContainer, type TaskPatch, type TaskRecord, type TaskStatus } from 'lightsched/kit';
import type { MemoryContainer } from '../../containers/memory/memory-container.js';

export function viaSyncFace(container: MemoryContainer): TaskContainer {
	const sync = container.sync;
	/** The record each task's last claim returned, as the scheduler keeps it for the attempt. */
	const claimed = new Map<string, TaskRecord>();
	/** Every id an add stored. */
	const stored = new Set<string>();
	const face: TaskContainer = {
		shared: container.shared,
		add: async (tasks) => {
			const fresh =
				new Set(tasks.map((task) => task.id)).size === tasks.length &&
				!tasks.some((task) => stored.has(task.id));
			sync.add(tasks, fresh);
			for (const task of tasks) stored.add(task.id);
		},
		claim: async (max, owner, leaseMs, now) => {
			const records = sync.claim(max, owner, leaseMs, now);
			for (const record of records) claimed.set(record.id, record);
			return records.map((record) => copyTask(record));
		},
		transition: async (id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch, owner?: string) => {
			const held = claimed.get(id);
			const moved = sync.transition(held ?? ({ id } as TaskRecord), from, to, patch, owner);
			return moved === null ? null : copyTask(moved);
		},
		renew: (owner, ids, leaseMs, now) => container.renew(owner, ids, leaseMs, now),
		reclaimExpired: (now) => container.reclaimExpired(now),
		requestStop: (id) => container.requestStop(id),
		nextDueAt: (now) => container.nextDueAt(now),
		get: (id) => container.get(id),
		list: (query) => container.list(query),
		counts: () => container.counts(),
		remove: (id) => container.remove(id),
		close: () => container.close(),
	};
	return face;
}
