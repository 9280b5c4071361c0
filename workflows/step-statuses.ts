/**
 * What the planner asks of a run's steps' statuses (advance.ts), without an array, closure or copy made per call:
 * whether a step's dependencies are done, whether any step is in a status, and the set of statuses the steps are in
 * as bits. A step id is looked up as the run's own property only (a step may be named `__proto__`).
 */
import type { RunRecord, StepState, StepStatus } from '../src/workflow-store.js';

/** Whether a step in this status lets the steps depending on it start (and counts as done for the run). */
function doneForDependents(status: StepStatus | undefined): boolean {
	return status === 'succeeded' || status === 'skipped';
}

/** Whether every step of `dependsOn` is done for its dependents (no array, closure or copy made per call). */
export function dependenciesDone(run: RunRecord, dependsOn: readonly string[] | undefined): boolean {
	if (dependsOn === undefined) return true;
	for (let i = 0; i < dependsOn.length; i++)
		if (!doneForDependents(ownStep(run, dependsOn[i] as string)?.status)) return false;
	return true;
}

/** The run's own step `stepId` (never an inherited property), or `undefined`. */
function ownStep(run: RunRecord, stepId: string): StepState | undefined {
	return Object.prototype.hasOwnProperty.call(run.steps, stepId) ? run.steps[stepId] : undefined;
}

/** Whether a step of the run is in `status` (or in `other`). */
export function anyStep(run: RunRecord, status: StepStatus, other?: StepStatus): boolean {
	for (const stepId in run.steps) {
		const stepStatus = (run.steps[stepId] as StepState).status;
		if (stepStatus === status || stepStatus === other) return true;
	}
	return false;
}

/** One bit per step status, for the set of statuses a run's steps are in (`stepStatuses`). */
export const STATUS_BITS: Readonly<Record<StepStatus, number>> = {
	waiting: 1,
	running: 2,
	succeeded: 4,
	failed: 8,
	skipped: 16,
	blocked: 32,
	stopped: 64,
};
export const DONE_BITS = STATUS_BITS.succeeded | STATUS_BITS.skipped;
/** A status no step should be in: never done. */
const UNKNOWN_BIT = 128;

/** The statuses the run's steps are in, as `STATUS_BITS` (a set made of nothing). */
export function stepStatuses(run: RunRecord): number {
	let bits = 0;
	for (const stepId in run.steps) bits |= STATUS_BITS[(run.steps[stepId] as StepState).status] ?? UNKNOWN_BIT;
	return bits;
}
