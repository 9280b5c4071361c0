/**
 * The released write: with a store that shares a transaction with the scheduler's container (`withTaskRelease`:
 * SQL, or Redis on the container's connection), a run write that starts steps inserts their tasks in that same
 * write, through the scheduler's two halves of `add` (`taskRelease`). Where it cannot, the advancer writes the run
 * alone and adds the tasks after (advancer.ts).
 */
import {
	ContainerError,
	SchedulerClosedError,
	SchedulerError,
	taskRelease,
	withTaskRelease,
	type TaskRecord,
	type TaskRelease,
	type TaskRetention,
} from 'lightsched/kit';
import type { ReleasingUpdate, ReleasingWorkflowStore, RunRecord, WorkflowStore } from '../src/workflow-store.js';
import type { ItemBuilders, WorkflowActions } from './actions.js';
import type { Dispatch } from './advance.js';
import type { CheckedDefinition } from './definition.js';
import type { WorkflowsOptions } from './options.js';
import { stepTaskFor } from './step-dispatch.js';
import { stepTaskRetention } from './step-retention.js';

/** The scheduler's two halves of `add` and the store's run write that inserts the released step tasks with it. */
export interface ReleasedWrite {
	readonly tasks: TaskRelease;
	readonly update: ReleasingUpdate;
	/** The step tasks' own retention rule under the scheduler's option (step-retention.ts), made once. */
	readonly retention: TaskRetention | undefined;
}

/** The released write of `scheduler` and `store`, or `null` when they share no transaction (a write, then an add). */
export function releasedWrite(scheduler: WorkflowsOptions['scheduler'], store: WorkflowStore): ReleasedWrite | null {
	const tasks = (scheduler as { [taskRelease]?: () => TaskRelease })[taskRelease]?.();
	const update =
		tasks === undefined
			? null
			: ((store as Partial<ReleasingWorkflowStore>)[withTaskRelease]?.(tasks.container) ?? null);
	return tasks === undefined || update === null
		? null
		: { tasks, update, retention: stepTaskRetention(tasks.retention) };
}

/**
 * Write the run and insert its dispatched steps' tasks together (ids already stored are left). `null`: the
 * compare-and-set lost, nothing written. `undefined`: not done that way, nothing written (nothing dispatched, or a
 * step's task refused while being built or inserted): the caller writes the run alone and adds the tasks after,
 * which fails a refused step.
 */
export async function writeReleasing(
	release: ReleasedWrite,
	run: RunRecord,
	definition: CheckedDefinition,
	dispatch: readonly Dispatch[],
	actions: WorkflowActions | ItemBuilders,
): Promise<{ run: RunRecord; added: readonly TaskRecord[] } | null | undefined> {
	if (dispatch.length === 0) return undefined;
	let records: TaskRecord[];
	try {
		records = await release.tasks.prepare(
			dispatch.map((d) => stepTaskFor(run, definition, d, actions, release.retention)),
		);
	} catch {
		return undefined;
	}
	try {
		return await release.update(run, records);
	} catch (error) {
		// A task the container refused (rolled back with the run write): the path that fails the step.
		if (
			error instanceof SchedulerError &&
			!(error instanceof ContainerError) &&
			!(error instanceof SchedulerClosedError)
		)
			return undefined;
		throw error;
	}
}
