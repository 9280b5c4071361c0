/**
 * The scheduler's queue-wide operations over the container's optional ones (see `TaskContainer.setPaused`,
 * `clean`): the container's method or a clear error, and the `retention` option's background pass.
 */
import type { TaskContainer } from './contracts.js';
import { ContainerError, SchedulerClosedError } from './errors.js';
import { cleanFinished, type CleanOptions } from './retention.js';
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
export function cleanTasks(core: SchedulerCore, options: CleanOptions, background: boolean): Promise<number> {
	const { container, persistencer } = core.options;
	return cleanFinished(container, persistencer, options, (status, ids) =>
		core.reporter.emit('tasks:cleaned', { status, ids, background }),
	);
}

/** One background retention pass: failures are reported once per outage of the container, never thrown. */
export async function cleanInBackground(core: SchedulerCore, options: CleanOptions): Promise<void> {
	const calledAt = Date.now();
	try {
		await cleanTasks(core, options, true);
		core.containerHealth.ok(calledAt);
	} catch (error) {
		reportFailure(core, 'container', 'cleaning finished tasks', error, calledAt);
	}
}
