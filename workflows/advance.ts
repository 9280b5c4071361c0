/**
 * Advancing a run: a pure function from the stored run, its definition and the status of its steps' tasks to
 * the next run record and the effects to apply once that record is stored (tasks to add, tasks to stop, events).
 * It is idempotent: planning again from the same inputs changes nothing, and the effects it asks for are safe to
 * repeat (a task is added only when absent; stopping a stopped task does nothing). So any process may advance any
 * run at any time, and a crash between the write and its effects is repaired by the next advance.
 */
import type { TaskError, TaskStatus } from 'lightsched';
import { isFinalRunStatus, type RunRecord, type StepState } from '../src/workflow-store.js';
import type { CheckedDefinition } from './definition.js';
import type { StepEventName } from './events.js';
import { evaluateGates } from './gates.js';
import { anyStep, dependenciesDone, DONE_BITS, STATUS_BITS, stepStatuses } from './step-statuses.js';
import { cloneJson, runTop, stepTop } from './record-copy.js';
import { stepTaskId } from './step-task.js';
import { holdsTemplates, renderTemplates } from './template.js';
import { toTaskError } from 'lightsched/kit';

/** What the engine read of a step's task: `null` when the task does not exist. */
export interface TaskView {
	/** The task's status. */
	readonly status: TaskStatus;
	/** Its output. */
	readonly output: unknown;
	/** Its last error. */
	readonly error: TaskError | null;
	/** Its attempts. */
	readonly attempts: number;
}

/** A step task to add (when absent) once the run record is stored. */
export interface Dispatch {
	/** The step. */
	readonly stepId: string;
	/** The task id (derived from run, step and generation). */
	readonly taskId: string;
	/** The step's generation. */
	readonly generation: number;
	/** The rendered params. */
	readonly params: Record<string, unknown>;
	/** The outputs of the steps it depends on. */
	readonly inputs: Record<string, unknown>;
	/** The step's checkpoint as this record holds it (`null` for none): its task's first attempt gets it. */
	readonly saved: unknown;
	/**
	 * A new generation, which this write alone moved the step to: its task cannot exist yet, so it is added
	 * without looking first. A re-dispatch (`false`) looks first, so a finished task is never added again.
	 */
	readonly fresh: boolean;
}

/** The outcome of planning. */
export interface Plan {
	/** The next record (a new object; the input is not changed). */
	readonly run: RunRecord;
	/** Whether it differs from the stored one (if not, nothing needs writing). */
	readonly changed: boolean;
	/** Tasks to add when absent. */
	readonly dispatch: Dispatch[];
	/** Task ids to stop. */
	readonly stop: string[];
	/** Step events to emit once stored. */
	readonly events: { name: StepEventName; stepId: string }[];
}

/** What planning needs besides the run. */
export interface PlanOptions {
	/** How long a dispatched step's task may be missing before the step is dispatched again (its adder may have died), in milliseconds. */
	readonly dispatchGraceMs: number;
	/** Whether the definition has an `onFinished` callback in this process (else a final run is marked notified at once). */
	readonly hasCallback: boolean;
}

export { cloneJson, copyRun } from './record-copy.js';

/**
 * A copy of `stored` to change by copy-on-write: its own top level and `steps` map, every step still `stored`'s
 * until `ownStep` gives it a copy of its own (whose fields the caller then sets; their values, such as `trace`,
 * are replaced, never changed in place). What is not changed stays shared with `stored`, which is not changed.
 */
function changeable(stored: RunRecord): RunRecord {
	const run = runTop(stored);
	run.steps = { ...stored.steps };
	return run;
}

/** The step `stepId` of `run` (a `changeable` copy of `stored`), copied first unless it is already `run`'s own. */
function ownStep(run: RunRecord, stored: RunRecord, stepId: string): StepState {
	const step = run.steps[stepId] as StepState;
	if (step !== stored.steps[stepId]) return step;
	const copy = stepTop(step);
	// A step id `__proto__` (a valid name) would set the prototype when assigned.
	if (stepId !== '__proto__') run.steps[stepId] = copy;
	else
		Object.defineProperty(run.steps, stepId, {
			value: copy,
			enumerable: true,
			writable: true,
			configurable: true,
		});
	return copy;
}

/** A fresh step state. */
export function newStepState(): StepState {
	return {
		status: 'waiting',
		generation: 0,
		attempts: 0,
		output: null,
		error: null,
		checkpoint: null,
		trace: [],
		startedAt: null,
		finishedAt: null,
		continued: false,
		handBack: false,
	};
}

/**
 * Plan the next state of `stored`. `tasks` holds a view for every step the caller looked up (those `running`). The
 * next record shares what it does not change with `stored` (copy-on-write: no deep copy of the run per step), so
 * neither may be changed in place afterwards; a task's output and error are copied in (the task's record is its
 * caller's).
 */
export function planAdvance(
	stored: RunRecord,
	definition: CheckedDefinition,
	tasks: ReadonlyMap<string, TaskView | null>,
	now: number,
	options: PlanOptions,
): Plan {
	const run = changeable(stored);
	const dispatch: Dispatch[] = [];
	const stop: string[] = [];
	const events: Plan['events'] = [];
	let changed = false;

	// 1. The deadline: the run fails; its running steps are stopped below.
	if (!isFinalRunStatus(run.status) && run.deadlineAt !== null && now >= run.deadlineAt) {
		run.status = 'failed';
		run.error = {
			code: 'ERR_RUN_DEADLINE',
			message: `Workflow run \`${run.id}\` passed its deadline (${new Date(run.deadlineAt).toISOString()})`,
		};
		run.finishedAt = now;
		changed = true;
	}

	// 2. The ends of step tasks.
	for (const stepId of definition.order) {
		if ((run.steps[stepId] as StepState).status !== 'running') continue;
		const view = tasks.get(stepId);
		if (view === undefined) continue;
		const step = ownStep(run, stored, stepId);
		const taskId = stepTaskId(run.id, stepId, step.generation);
		if (view === null) {
			// The task may still be on its way: the process that stored the dispatch adds it just after. Only once
			// the grace has passed is it taken to be lost (that process died), so a step task is never added after
			// its step was settled without it: a first attempt needs no run read to know it is not stale.
			const lost = step.startedAt === null || now - step.startedAt >= options.dispatchGraceMs;
			if (isFinalRunStatus(run.status) || (run.status === 'paused' && step.handBack)) {
				// Nothing to stop: the step ends stopped (or goes back to waiting for resume). Until the grace has
				// passed it stays running: a task added meanwhile is stopped by a later advance (the sweep's).
				if (!lost) continue;
				const back = run.status === 'paused';
				settleStopped(step, back, now);
				if (!back) events.push({ name: 'step:stopped', stepId });
				changed = true;
			} else if (lost) {
				// The process that stored the dispatch died before adding the task: dispatch it again (same task id).
				step.startedAt = now;
				const rendered = renderFor(run, definition, stepId);
				dispatch.push({
					stepId,
					taskId,
					generation: step.generation,
					params: rendered.params,
					inputs: rendered.inputs,
					saved: step.checkpoint ?? null,
					fresh: false,
				});
				changed = true;
			}
			continue;
		}
		if (view.status === 'succeeded') {
			step.status = 'succeeded';
			step.output = cloneJson(view.output ?? null);
			step.error = null;
			step.attempts = view.attempts;
			step.finishedAt = now;
			step.handBack = false;
			events.push({ name: 'step:succeeded', stepId });
			changed = true;
		} else if (view.status === 'failed') {
			const skip = definition.steps.get(stepId)?.skipOnFailed === true && !isFinalRunStatus(run.status);
			Object.assign(step, {
				status: skip ? 'skipped' : 'failed',
				error: cloneJson(view.error),
				attempts: view.attempts,
				finishedAt: now,
				handBack: false,
			});
			events.push({ name: skip ? 'step:skipped' : 'step:failed', stepId });
			changed = true;
		} else if (view.status === 'stopped') {
			step.attempts = view.attempts;
			// A step handed back (by `pause({ now: true })`, or by a command that reopened its run while its stop was on
			// its way) waits to run again unless the run has ended since: a `resume` or `retry` given before the stop
			// landed wins over it.
			const back = step.handBack && !isFinalRunStatus(run.status);
			settleStopped(step, back, now);
			if (!back) events.push({ name: 'step:stopped', stepId });
			changed = true;
		} else if (isFinalRunStatus(run.status) || (run.status === 'paused' && step.handBack)) {
			stop.push(taskId);
		}
	}

	// 3. Start what can start.
	if (run.status === 'waiting' || run.status === 'running' || run.status === 'blocked') {
		let progressed = !anyStep(run, 'failed', 'stopped');
		while (progressed) {
			progressed = false;
			for (const stepId of definition.order) {
				const waiting = run.steps[stepId] as StepState;
				if (waiting.status !== 'waiting') continue;
				const def = definition.steps.get(stepId);
				if (def === undefined) continue;
				if (!dependenciesDone(run, def.dependsOn)) continue;
				const gate =
					def.preCheck === undefined || def.preCheck.length === 0
						? null
						: evaluateGates(def.preCheck, { vars: run.vars, shared: run.shared }, waiting.continued);
				const step = ownStep(run, stored, stepId);
				if (gate !== null) {
					step.status = gate.act === 'skip' ? 'skipped' : 'blocked';
					if (gate.act === 'skip') step.finishedAt = now;
					events.push({ name: gate.act === 'skip' ? 'step:skipped' : 'step:blocked', stepId });
					changed = true;
					if (gate.act === 'skip') progressed = true;
					continue;
				}
				let rendered: { params: Record<string, unknown>; inputs: Record<string, unknown> };
				try {
					rendered = renderFor(run, definition, stepId);
				} catch (error) {
					const skip = def.skipOnFailed === true;
					Object.assign(step, {
						status: skip ? 'skipped' : 'failed',
						error: toTaskError(error),
						finishedAt: now,
					});
					events.push({ name: skip ? 'step:skipped' : 'step:failed', stepId });
					changed = true;
					if (!skip) break;
					progressed = true;
					continue;
				}
				step.generation += 1;
				step.status = 'running';
				step.attempts = 0;
				step.output = null;
				step.error = null;
				step.startedAt = now;
				step.finishedAt = null;
				step.handBack = false;
				dispatch.push({
					stepId,
					taskId: stepTaskId(run.id, stepId, step.generation),
					generation: step.generation,
					params: rendered.params,
					inputs: rendered.inputs,
					saved: step.checkpoint ?? null,
					fresh: true,
				});
				events.push({ name: 'step:started', stepId });
				changed = true;
			}
			if (anyStep(run, 'failed')) break;
		}
	}

	// 4. The run's status.
	const seen = stepStatuses(run);
	const anyRunning = (seen & STATUS_BITS.running) !== 0;
	if (!isFinalRunStatus(run.status) && run.status !== 'paused') {
		let next = run.status;
		if (anyRunning) next = 'running';
		else if ((seen & ~DONE_BITS) === 0) next = 'succeeded';
		else if ((seen & STATUS_BITS.failed) !== 0) next = 'failed';
		else if ((seen & STATUS_BITS.stopped) !== 0) next = 'stopped';
		else if ((seen & STATUS_BITS.blocked) !== 0) next = 'blocked';
		if (next !== run.status) {
			run.status = next;
			if (isFinalRunStatus(next)) {
				run.finishedAt = now;
				if (next === 'failed') {
					const failedId = definition.order.find((id) => run.steps[id]?.status === 'failed') as string;
					const error = run.steps[failedId]?.error;
					run.error = {
						code: error?.code ?? 'ERR_TASK_FAILED',
						message: `Step \`${failedId}\` failed: ${error?.message ?? 'unknown error'}`,
					};
				}
			}
			changed = true;
		}
	}
	// Without a callback in this process there is nothing to notify: the final write says so itself.
	if (isFinalRunStatus(run.status) && run.notified !== run.status && !options.hasCallback) {
		run.notified = run.status;
		changed = true;
	}
	const open = !isFinalRunStatus(run.status) || anyRunning || run.notified !== run.status;
	if (open !== run.open) {
		run.open = open;
		changed = true;
	}
	if (changed) run.updatedAt = now;
	return { run, changed, dispatch, stop, events };
}

function settleStopped(step: StepState, handBack: boolean, now: number): void {
	if (handBack) Object.assign(step, { status: 'waiting', handBack: false, startedAt: null });
	else Object.assign(step, { status: 'stopped', finishedAt: now, handBack: false });
}

function renderFor(
	run: RunRecord,
	definition: CheckedDefinition,
	stepId: string,
): { params: Record<string, unknown>; inputs: Record<string, unknown> } {
	const def = definition.steps.get(stepId);
	// Params without a template are the definition's own (the step's item copies them: step-dispatch.ts).
	const params =
		def?.params === undefined
			? {}
			: holdsTemplates(def.params)
				? (renderTemplates(def.params, { vars: run.vars, shared: run.shared }, stepId) as Record<
						string,
						unknown
					>)
				: (def.params as Record<string, unknown>);
	const inputs: Record<string, unknown> = {};
	for (const dep of def?.dependsOn ?? []) inputs[dep] = run.steps[dep]?.output ?? null;
	return { params, inputs };
}
