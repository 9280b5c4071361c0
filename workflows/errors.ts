/**
 * The workflow errors: `SchedulerError`s with their own stable codes. A bad definition is refused when it is
 * defined; a command on a run in the wrong state is refused with the run's status in the message.
 */
import { SchedulerError, type SchedulerErrorCode } from 'lightsched';

/** The codes of `SchedulerErrorCode` the workflow layer uses. */
export type WorkflowErrorCode = Extract<
	SchedulerErrorCode,
	| 'ERR_INVALID_DEFINITION'
	| 'ERR_RUN_NOT_FOUND'
	| 'ERR_DUPLICATE_RUN'
	| 'ERR_RUN_STATE'
	| 'ERR_RUN_DEADLINE'
	| 'ERR_TEMPLATE_MISSING_KEY'
	| 'ERR_STEP_STALE'
	| 'ERR_RUN_OUTCOME_UNKNOWN'
>;

/** The base of the workflow errors; `code` is one of `WorkflowErrorCode`. */
export class WorkflowError extends SchedulerError {
	override name = 'WorkflowError';

	constructor(message: string, code: WorkflowErrorCode, options: { cause?: unknown } = {}) {
		super(message, { ...options, code });
	}
}

/**
 * A definition is malformed: `definition`, `step` (when a step is at fault) and `field` name the place, as in
 * "Workflow `deploy` step `dns`: `dependsOn[0]` names an unknown step `mastrs`".
 */
export class WorkflowDefinitionError extends WorkflowError {
	override name = 'WorkflowDefinitionError';
	/** The definition's name (or `definitions[i]` when it has none). */
	readonly definition: string;
	/** The step at fault, when one is. */
	readonly step: string | undefined;
	/** The field at fault, as a path (`params.region`, `preCheck[0].when[1].op`). */
	readonly field: string;

	constructor(definition: string, step: string | undefined, field: string, problem: string) {
		super(
			`Workflow \`${definition}\`${step === undefined ? '' : ` step \`${step}\``}: \`${field}\` ${problem}`,
			'ERR_INVALID_DEFINITION',
		);
		this.definition = definition;
		this.step = step;
		this.field = field;
	}
}

/** No run has this id. */
export class RunNotFoundError extends WorkflowError {
	override name = 'RunNotFoundError';
	/** The run id. */
	readonly runId: string;

	constructor(runId: string) {
		super(`No workflow run with id \`${runId}\``, 'ERR_RUN_NOT_FOUND');
		this.runId = runId;
	}
}

/** A run with this id exists, or an unfinished run holds this unique business key. */
export class DuplicateRunError extends WorkflowError {
	override name = 'DuplicateRunError';
	/** The business key, when the key is the conflict. */
	readonly key: string | undefined;

	constructor(message: string, key?: string) {
		super(message, 'ERR_DUPLICATE_RUN');
		this.key = key;
	}
}

/**
 * `start` could not tell whether it stored its run: the connection was lost with the run's create on its way, and
 * the read-back failed too (the server still out of reach); or, on a `RedisContainer` with `waitForReplicas`, the
 * master stored it but too few replicas confirmed it in time, so a failover could lose it. The run may be stored,
 * and may be moved on by any process's sweep. Call `start` again with the same `id` (`runId`; a generated id too), definition, version, vars and
 * key, from the same `Workflows`: it resolves with the run this call stored, or stores it now; a `DuplicateRunError`
 * then means the id is another start's run. `cause` holds the read-back's failure.
 */
export class RunOutcomeUnknownError extends WorkflowError {
	override name = 'RunOutcomeUnknownError';
	/** The id of the run that may be stored. */
	readonly runId: string;

	constructor(
		runId: string,
		cause: unknown,
		why = 'the connection was lost while it was created and it could not be read back, so it may be stored',
	) {
		super(
			`Workflow run \`${runId}\`: ${why}: start it again with the same id (${(cause as Error)?.message ?? String(cause)})`,
			'ERR_RUN_OUTCOME_UNKNOWN',
			{ cause },
		);
		this.runId = runId;
	}
}

/** An operator command does not fit the run's (or the step's) status. */
export class RunStateError extends WorkflowError {
	override name = 'RunStateError';
	/** The run id. */
	readonly runId: string;

	constructor(runId: string, message: string) {
		super(`Workflow run \`${runId}\`: ${message}`, 'ERR_RUN_STATE');
		this.runId = runId;
	}
}

/** A template names a key that the run's vars or shared data do not hold: the step fails with this error. */
export class TemplateKeyError extends WorkflowError {
	override name = 'TemplateKeyError';

	constructor(step: string, field: string, path: string) {
		super(
			`Step \`${step}\`: \`${field}\` names \`{{${path}}}\`, which the run does not hold`,
			'ERR_TEMPLATE_MISSING_KEY',
		);
	}
}
