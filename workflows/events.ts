/**
 * The typed events of `Workflows`. Each carries one payload object. They are emitted by the process that made
 * the change (the one whose write won), so a process sees the changes it made, not every change of a shared
 * store: `wait(runId)` and the definition's `onFinished` work across processes.
 */
import type { RunRecord, RunStatus, StepState } from '../src/workflow-store.js';

/** The payload of the `run:*` events. */
export interface RunEvent {
	/** The run after the change (a copy). */
	readonly run: RunRecord;
}

/** The payload of `run:status`. */
export interface RunStatusEvent extends RunEvent {
	/** The status before the change. */
	readonly from: RunStatus;
}

/** The payload of the `step:*` events. */
export interface StepEvent extends RunEvent {
	/** The step's id. */
	readonly stepId: string;
	/** The step after the change. */
	readonly step: StepState;
}

/** The events of `Workflows` and their payloads (`flows.on(name, listener)`). */
export interface WorkflowEvents {
	/** A run was created (`start`). */
	'run:created': [event: RunEvent];
	/** A run's status changed. */
	'run:status': [event: RunStatusEvent];
	/** A run reached a final status (`succeeded`, `failed` or `stopped`). */
	'run:finished': [event: RunEvent];
	/** A step's task was added. */
	'step:started': [event: StepEvent];
	/** A step succeeded. */
	'step:succeeded': [event: StepEvent];
	/** A step failed for good. */
	'step:failed': [event: StepEvent];
	/** A step was skipped (a pre-check, `skipOnFailed`, or `skip`). */
	'step:skipped': [event: StepEvent];
	/** A step was blocked by a pre-check; `continue` releases it. */
	'step:blocked': [event: StepEvent];
	/** A step was stopped. */
	'step:stopped': [event: StepEvent];
	/** Something failed outside a step's own work (the store, a callback, a sweep); the engine goes on. */
	error: [error: Error];
}

/** The names of the step events. */
export type StepEventName =
	'step:started' | 'step:succeeded' | 'step:failed' | 'step:skipped' | 'step:blocked' | 'step:stopped';
