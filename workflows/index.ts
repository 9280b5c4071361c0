/**
 * `lightsched/workflows`: step chains and DAGs whose steps are tasks in a scheduler's container, on any
 * actuator. See docs/workflows.md.
 */
export {
	Workflows,
	type DefinedVersion,
	type ScheduleInfo,
	type ScheduleOptions,
	type StartOptions,
	type WaitOptions,
	type WorkflowsOptions,
} from './workflows.js';
export {
	workflowActions,
	TRACE_LIMITS,
	type ActionHandler,
	type TraceLimits,
	type ItemBuilders,
	type StepContext,
	type WorkflowActions,
} from './actions.js';
export type { StepDefinition, VarDefinition, WorkflowDefinition } from './definition.js';
export type { GateCondition, PreCheck } from './gates.js';
export { MemoryWorkflowStore } from './memory-store.js';
export { RunOperator, type RunOperatorOptions } from './operator-commands.js';
export type { CommandName, FailedRunQuery, RetryFailedOptions } from './commands.js';
export type { CleanRunsOptions, FinishedRunStatus, RunRetentionOptions, RunRetentionRule } from './run-retention.js';
export { parseStepTaskId, stepTaskId, type StepItem, type StepRef } from './step-task.js';
export type { RunEvent, RunStatusEvent, StepEvent, StepEventName, WorkflowEvents } from './events.js';
export {
	DuplicateRunError,
	RunNotFoundError,
	RunOutcomeUnknownError,
	RunStateError,
	TemplateKeyError,
	WorkflowDefinitionError,
	WorkflowError,
	type WorkflowErrorCode,
} from './errors.js';
export {
	isFinalRunStatus,
	RUN_STATUSES,
	type RunPage,
	type RunQuery,
	type RunRecord,
	type RunStatus,
	type StepState,
	type StepStatus,
	type StoredDefinition,
	type WorkflowStore,
} from '../src/workflow-store.js';
