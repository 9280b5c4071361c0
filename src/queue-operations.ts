/**
 * The scheduler's queue-wide operations over the container's optional ones (see `TaskContainer.setPaused`,
 * `clean`): the container's method or a clear error, and the `retention` option's background pass.
 */
import type { TaskContainer } from './contracts.js';
import type { FinalStatus } from './task.js';
import { ContainerError, SchedulerClosedError } from './errors.js';
import { cleanFinished, type CleanOptions, type CleanScope } from './retention.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';

/** The container's optional queue-wide pause method, or a clear error saying it has none. */
export function pauseOperation<K extends 'setPaused' | 'isPaused'>(
	core: SchedulerCore,
	name: K,
): NonNullable<TaskContainer[K]> {
	if (core.closed()) throw new SchedulerClosedError();
	const { container } = core.options;
	const method = container[name];
	if (typeof method !== 'function') {
		throw new ContainerError(
			`This container (${container.constructor.name}) has no \`${name}()\`: it cannot pause every scheduler; use pause() for this one`,
		);
	}
	return method.bind(container) as NonNullable<TaskContainer[K]>;
}

/** Delete finished tasks by `options`, reporting each batch as `tasks:cleaned`. */
export function cleanTasks(
	core: SchedulerCore,
	options: CleanOptions,
	background: boolean,
	scope: CleanScope = 'all',
): Promise<number> {
	const { container, persistencer } = core.options;
	return cleanFinished(
		container,
		persistencer,
		options,
		(status, ids) => core.reporter.emit('tasks:cleaned', { status, ids, background }),
		scope,
	);
}

/** One background retention pass: failures are reported once per outage of the container, never thrown. */
export async function cleanInBackground(core: SchedulerCore, options: CleanOptions, scope: CleanScope): Promise<void> {
	const calledAt = Date.now();
	try {
		await cleanTasks(core, options, true, scope);
		core.containerHealth.ok(calledAt);
	} catch (error) {
		reportFailure(core, 'container', 'cleaning finished tasks', error, calledAt);
	}
}

/**
 * Delete the tasks of `status` among `ids` whose own rule has lapsed (`ZeroRetentionDeleter`), with their persisted
 * outputs, reported as a background `tasks:cleaned`; a failure is reported once per outage, never thrown.
 */
export async function deleteExpired(core: SchedulerCore, status: FinalStatus, ids: readonly string[]): Promise<void> {
	const { container, persistencer } = core.options;
	const calledAt = Date.now();
	try {
		if (typeof container.clean !== 'function') return;
		const deleted = await container.clean({ status, limit: ids.length, expiredBy: Date.now(), ids });
		if (persistencer?.delete) for (const id of deleted) await persistencer.delete(id);
		if (deleted.length > 0) core.reporter.emit('tasks:cleaned', { status, ids: deleted, background: true });
		core.containerHealth.ok(calledAt);
	} catch (error) {
		reportFailure(core, 'container', 'deleting tasks kept 0 ms after finishing', error, calledAt);
	}
}
