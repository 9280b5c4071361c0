/**
 * How a step becomes a task: its task id (derived from the run id, the step id and the step's generation, so a
 * re-dispatch after a crash adds the same task and a retry adds a new one) and the item the actuator receives.
 */

/** Which run and step a step task belongs to. */
export interface StepRef {
	/** The run's id. */
	readonly runId: string;
	/** The step's id. */
	readonly stepId: string;
	/** The step's generation (one per dispatch after a retry). */
	readonly generation: number;
}

/**
 * The item of a step task run by `workflowActions` (the FunctionActuator): which step it is, the action, its
 * rendered params and the outputs of the steps it depends on.
 */
export interface StepItem {
	/** The step this task runs. */
	readonly workflow: StepRef & {
		/** The definition's name. */
		readonly definition: string;
		/** The definition's version. */
		readonly version: number;
	};
	/** The action's name. */
	readonly action: string;
	/** The step's params, templates rendered. */
	readonly params: Record<string, unknown>;
	/** The outputs of the steps this one depends on, by step id (`null` for a skipped step). */
	readonly inputs: Record<string, unknown>;
	/** The run's vars. */
	readonly vars: Record<string, unknown>;
	/**
	 * The step's checkpoint when its task was added (`null` for none). A first attempt gets it as `ctx.saved`
	 * without reading the run: nothing else can write the checkpoint of this generation before its task runs.
	 * Absent in items added before it existed (their step function reads the run).
	 */
	readonly saved?: unknown;
}

const PREFIX = 'wf:';

/** The task id of a step's generation: `wf:<runId>:<stepId>:<generation>`. */
export function stepTaskId(runId: string, stepId: string, generation: number): string {
	return `${PREFIX}${runId}:${stepId}:${generation}`;
}

/**
 * The step a task id names, or `null` for a task that is not a step. Step ids never hold `:`; a run id may (a
 * caller's id, a schedule's `schedule:<key>:<tick>`), so the step id and generation are read from the right.
 */
export function parseStepTaskId(taskId: string): StepRef | null {
	if (!taskId.startsWith(PREFIX)) return null;
	const last = taskId.lastIndexOf(':');
	const before = taskId.lastIndexOf(':', last - 1);
	if (before < PREFIX.length) return null;
	const runId = taskId.slice(PREFIX.length, before);
	const stepId = taskId.slice(before + 1, last);
	const generation = taskId.slice(last + 1);
	const n = Number(generation);
	if (runId === '' || stepId === '' || !Number.isSafeInteger(n) || n < 1) return null;
	return { runId, stepId, generation: n };
}
