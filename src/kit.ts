/**
 * `lightsched/kit`: what a container or actuator author needs beyond the application's surface (`lightsched`).
 *
 * - Record helpers: build a task record as the scheduler does (`createTaskRecord`), copy one (`copyTask`), the
 *   statuses (`TASK_STATUSES`, `FINAL_STATUSES`, `isFinalStatus`, `isTaskStatus`) and zero counts (`emptyCounts`).
 * - The state machine's moves: the patch of each legal move (`handBackPatch`, `retryPatch`, `failPatch`,
 *   `stopPatch`, `successPatch`, `exportPatch`), so a container writes the same fields as the scheduler, and the
 *   reclaim rule (`reclaimMove`) for a container that reclaims in code.
 * - The record's fields, declared once (`TASK_FIELDS`): check a backend's encoding against it in a test.
 * - Validation with the kit's error messages: JSON items and outputs (`assertJsonItem`, `assertJsonOutput`,
 *   `assertStorableTask`), well-formed text (`assertWellFormed`), misspelt options (`rejectUnknownOptions`) and
 *   `describeValue` for "expected …, got …" messages.
 * - The error family, `toError` and `toTaskError` (the stored form of a failure), and `backoffDelay`.
 * - `HeldTasks`: tasks claimed ahead for an owner, held until its next claim and handed back when not taken in time;
 *   `TailBuffer`: the last bytes of a stream within a limit (an actuator's captured output).
 *
 * The contracts themselves (`TaskContainer`, `TaskActuator`) and the task types are exported from `lightsched`
 * and again here, so a plug-in can take all it needs from one place. The contract suites that check a container
 * or an actuator are in `lightsched/testing`.
 * @module
 */
export type {
	ActuatorContext,
	ActuatorResult,
	ActuatorStart,
	ActuatorStatus,
	CallbackReceiver,
	ClaimGuard,
	ContainerSignal,
	PartReporter,
	Persistencer,
	RenewResult,
	SyncContainerOperations,
	TaskActuator,
	TaskContainer,
} from './contracts.js';
export {
	ActuatorError,
	CallbackError,
	ContainerError,
	DuplicateKeyError,
	DuplicateTaskError,
	InvalidStateError,
	InvalidOutputError,
	InvalidTaskError,
	LeaseExpiredError,
	NonRetryableError,
	PersistError,
	SchedulerClosedError,
	SchedulerError,
	TaskNotFoundError,
	TaskStoppedError,
	TaskTimeoutError,
	describeValue,
	toError,
	toTaskError,
	type InvalidValueOptions,
	type SchedulerErrorCode,
	type SchedulerErrorOptions,
} from './errors.js';
export { HeldTasks, MAX_HOLD_MS } from './held-tasks.js';
export { TailBuffer } from './tail-buffer.js';
export { LeaseLostError } from './lease-lost-error.js';
export { PartialAddError } from './partial-add-error.js';
export type { RepeatRecord } from './repeat-record.js';
export { backoffDelay, DEFAULT_BACKOFF, type Backoff, type BackoffFunction, type BackoffOptions } from './retry.js';
export { createTaskRecord, MAX_ID_LENGTH } from './new-task.js';
export { MAX_TIMER_MS } from './timer-limit.js';
export {
	canInsertInTransaction,
	insertInTransaction,
	taskRelease,
	withTaskRelease,
	type TaskRelease,
	type TransactionalInsert,
} from './task-release.js';
export type { ReleasedRun, ReleasingUpdate, ReleasingWorkflowStore } from './workflow-store.js';
export { containerWorkflowStore, defaultWorkflowStore, type WorkflowStoreSource } from './workflow-store.js';
export {
	assertJsonItem,
	assertJsonOutput,
	assertStorableTask,
	assertWellFormed,
	assertWellFormedId,
	findJsonProblem,
	isWellFormedText,
	jsonOutputError,
	JSON_EXPECTED,
	WELL_FORMED_EXPECTED,
	type JsonProblem,
} from './json-check.js';
export { assertCleanQuery, cleanSelects, ownRuleExpired } from './clean-rule.js';
export { logWindow, type LogWindow } from './log-window.js';
export { closestName, rejectUnknownOptions } from './option-names.js';
export {
	exportPatch,
	failPatch,
	handBackPatch,
	isSameClaim,
	OWNER_MOVES,
	reclaimMove,
	retryPatch,
	stopPatch,
	successPatch,
	type ActiveStatus,
	type ReclaimMove,
} from './task-moves.js';
export {
	PATCH_FIELD_NAMES,
	TASK_FIELD_NAMES,
	TASK_FIELDS,
	taskField,
	type TaskField,
	type TaskFieldKind,
} from './task-fields.js';
export {
	copyTask,
	emptyCounts,
	FINAL_STATUSES,
	isFinalStatus,
	isTaskStatus,
	ownRetention,
	TASK_STATUSES,
	type CleanQuery,
	type FinalStatus,
	type NewTask,
	type TaskCounts,
	type TaskLogPage,
	type TaskLogQuery,
	type TaskError,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskRetention,
	type TaskStatus,
} from './task.js';
export {
	CHANGE_RETENTION_MS,
	changeTypeOf,
	FOLLOW_WINDOW_MS,
	isFinalChange,
	TASK_CHANGE_TYPES,
	type TaskChange,
	type TaskChangePage,
	type TaskChangeQuery,
	type TaskChangeType,
} from './task-change.js';
