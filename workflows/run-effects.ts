/**
 * The effects of an advance that need nothing of the advancer's own state: the final ends of step tasks stored
 * before their dispatch, a step failed because its task could not be made, step tasks stopped, and the
 * definition's callback for a final run (see advancer.ts).
 */
import { isFinalStatus, TaskNotFoundError, toTaskError } from 'lightsched/kit';
import { isFinalRunStatus, type RunRecord } from '../src/workflow-store.js';
import { cloneJson, copyRun, type Dispatch } from './advance.js';
import type { AdvancerParts, KnownTask } from './advancer.js';
import type { CheckedDefinition } from './definition.js';
import { WorkflowError } from './errors.js';
import type { KnownRuns } from './known-runs.js';
import { runTop } from './record-copy.js';
import { seal } from './sealed.js';

/** How many compare-and-set rounds a write tries before it gives up (another process keeps winning). */
export const MAX_ROUNDS = 50;

/** The final ends of the dispatched steps' tasks stored before their dispatch, by step id. */
export async function endedAlready(
	scheduler: AdvancerParts['scheduler'],
	existing: readonly Dispatch[],
): Promise<Map<string, KnownTask>> {
	const ended = new Map<string, KnownTask>();
	for (const dispatch of existing) {
		const task = await scheduler.get(dispatch.taskId);
		if (task === null || !isFinalStatus(task.status)) continue;
		const { status, output, error, attempts } = task;
		ended.set(dispatch.stepId, { generation: dispatch.generation, view: { status, output, error, attempts } });
	}
	return ended;
}

/**
 * Fail (or skip, with `skipOnFailed`) a running step of this generation whose task could not be made, in a
 * compare-and-set loop; `known` forgets the run (the record it remembered is no longer the stored one).
 */
export async function failStep(
	parts: AdvancerParts,
	known: KnownRuns,
	at: { readonly runId: string; readonly stepId: string; readonly generation: number },
	error: unknown,
): Promise<void> {
	const { store } = parts;
	const { runId, stepId, generation } = at;
	for (let round = 0; round < MAX_ROUNDS; round++) {
		const run = await store.get(runId);
		const step = run?.steps[stepId];
		if (run === null || step === undefined || step.status !== 'running' || step.generation !== generation) return;
		const definition = await parts.definitionFor(run);
		const skip = definition.steps.get(stepId)?.skipOnFailed === true;
		Object.assign(step, {
			status: skip ? 'skipped' : 'failed',
			error: toTaskError(error),
			finishedAt: Date.now(),
		});
		const written = await store.update(run);
		if (written === null) continue;
		known.forget(runId);
		parts.emit(skip ? 'step:skipped' : 'step:failed', {
			run: copyRun(written),
			stepId,
			step: cloneJson(written.steps[stepId]!),
		});
		return;
	}
}

/** Stop the step tasks of `ids` (one already gone is no error). */
export async function stopTasks(scheduler: AdvancerParts['scheduler'], ids: readonly string[]): Promise<void> {
	await Promise.all(
		ids.map(async (id) => {
			try {
				await scheduler.stop(id);
			} catch (error) {
				if (!(error instanceof TaskNotFoundError)) throw error;
			}
		}),
	);
}

/** Whether `notifyFinished` may have anything to do (a final run not notified of its status, with a callback). */
export function mayNotify(run: RunRecord, definition: CheckedDefinition): boolean {
	return isFinalRunStatus(run.status) && run.notified !== run.status && definition.onFinished !== undefined;
}

/**
 * Whether `current` is still the final status `called` was: the same status reached at the same time. A run
 * retried and made final again meanwhile (another status, or the same one again) is not: its own call is to come,
 * from the process that made it final or, after the grace, from any other.
 */
function sameFinal(current: RunRecord, called: RunRecord): boolean {
	return current.status === called.status && current.finishedAt === called.finishedAt;
}

/**
 * Call the definition's callback for a final run not yet notified of its status: at once when this process made
 * the run final, else once the grace has passed (the process that made it final may have died before calling).
 * Then record the status as notified (a crash in between calls it again: at least once), only while the stored
 * run is still at the final status it was called with: a status it was not called with is never recorded.
 */
export async function notifyFinished(
	parts: AdvancerParts,
	run: RunRecord,
	definition: CheckedDefinition,
	madeFinal: boolean,
): Promise<RunRecord> {
	const { onFinished } = definition;
	if (!mayNotify(run, definition) || onFinished === undefined) return run;
	if (!madeFinal && Date.now() - run.updatedAt < parts.dispatchGraceMs) return run;
	try {
		await onFinished(copyRun(run));
	} catch (error) {
		parts.emit(
			'error',
			new WorkflowError(
				`The onFinished callback of workflow \`${run.definition}\` threw for run \`${run.id}\``,
				'ERR_RUN_STATE',
				{ cause: error },
			),
		);
	}
	let current: RunRecord | null = run;
	for (let round = 0; round < MAX_ROUNDS && current !== null; round++) {
		if (current.notified === current.status || !sameFinal(current, run)) return current;
		// Top-level fields only: the rest stays shared with `current` (records are not changed once written).
		const next = runTop(current);
		next.notified = current.status;
		next.updatedAt = Date.now();
		next.open = Object.values(next.steps).some((step) => step.status === 'running');
		const written = await parts.store.update(seal(next));
		if (written !== null) return written;
		current = await parts.store.get(run.id);
	}
	return current ?? run;
}
