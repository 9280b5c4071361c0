/**
 * A run's stored body, for the stores that keep a run as one JSON text (SQL; Redis, in its run hash's `body`): the
 * record as JSON with each step's fields at their defaults (a fresh step's, `newStepState`) left out, and filled
 * back when read. A 10-step chain's whole record is about 2.2 KB and its compact body a third of that, and a body
 * is serialised, sent and stored at every step end: `JSON.stringify`, the driver's copy and the database's write
 * all scale with it (on PostgreSQL a row over ~2 KB is also compressed out of line, TOAST, at every write). A body
 * stored whole reads the same.
 */
import type { RunRecord, StepState } from '../src/workflow-store.js';
import { newStepState } from './advance.js';
import { setOwn } from './json-reuse.js';

/**
 * `step` without its fields at `newStepState`'s values. Each field tested by name: a loop over the step's keys took
 * a third longer (a 10-step run, 5.0-5.5 against 3.6-4.4 µs), and a test holds this list to `StepState`'s fields.
 */
export function compactStep(step: StepState): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	if (step.status !== 'waiting') out.status = step.status;
	if (step.generation !== 0) out.generation = step.generation;
	if (step.attempts !== 0) out.attempts = step.attempts;
	if (step.output !== null) out.output = step.output;
	if (step.error !== null) out.error = step.error;
	if (step.checkpoint !== null) out.checkpoint = step.checkpoint;
	if (step.trace.length !== 0) out.trace = step.trace;
	if (step.startedAt !== null) out.startedAt = step.startedAt;
	if (step.finishedAt !== null) out.finishedAt = step.finishedAt;
	if (step.continued) out.continued = true;
	if (step.handBack) out.handBack = true;
	return out;
}

/** The body stored for `run` (its `rev` is stored beside it, and left out here). */
export function encodeRunBody(run: RunRecord): string {
	const steps: Record<string, unknown> = {};
	for (const stepId in run.steps) setOwn(steps, stepId, compactStep(run.steps[stepId] as StepState));
	return JSON.stringify({ ...run, steps, rev: undefined });
}

/** The run a stored body holds (compact or whole), with `rev`. */
export function decodeRunBody(body: string, rev: number): RunRecord {
	const run = JSON.parse(body) as RunRecord;
	for (const stepId in run.steps) {
		const step = run.steps[stepId] as unknown as Record<string, unknown>;
		const fresh = newStepState() as unknown as Record<string, unknown>;
		for (const key in fresh) if (!Object.prototype.hasOwnProperty.call(step, key)) step[key] = fresh[key];
	}
	run.rev = rev;
	return run;
}
