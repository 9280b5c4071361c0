/**
 * `lightsched`: what an application needs. The `Scheduler`, the contracts' types (`TaskContainer`,
 * `TaskActuator`, `Persistencer`, …), the error family, the task types, the events and the options.
 * Containers and actuators are in their own subpaths (`lightsched/containers/*`, `lightsched/actuators/*`);
 * what a container or actuator author needs beyond this is in `lightsched/kit`, and the contract suites that
 * check one are in `lightsched/testing`.
 * @module
 */
export { Scheduler, type CloseOptions } from './scheduler.js';
export type { AddOptions } from './add-existing.js';
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
	type InvalidValueOptions,
	type SchedulerErrorCode,
	type SchedulerErrorOptions,
} from './errors.js';
export type {
	LoopBlockedEvent,
	OutagePart,
	PartDownEvent,
	PartUpEvent,
	PartWarningEvent,
	SchedulerEvents,
	TaskEvent,
	TasksCleanedEvent,
} from './events.js';
export { LeaseLostError } from './lease-lost-error.js';
export { PartialAddError } from './partial-add-error.js';
export { TaskEvents, type TaskChangeGap, type TaskEventsEvents, type TaskEventsOptions } from './task-events.js';
export type { TaskChange, TaskChangePage, TaskChangeQuery, TaskChangeType } from './task-change.js';
export { WaitTimeoutError, type WaitForOptions } from './wait-for.js';
export type { RepeatRecord } from './repeat-record.js';
export type { ResolvedSchedulerOptions, SchedulerOptions } from './options.js';
export type { RateLimit } from './rate-limit.js';
export type { RepeatInfo, RepeatOptions } from './repeat-spec.js';
export type { CleanOptions, RetentionOptions, RetentionRule } from './retention.js';
export type { Backoff, BackoffFunction, BackoffOptions } from './retry.js';
export type {
	CleanQuery,
	FinalStatus,
	NewTask,
	TaskCounts,
	TaskLogPage,
	TaskLogQuery,
	TaskError,
	TaskPage,
	TaskPatch,
	TaskQuery,
	TaskRecord,
	TaskRetention,
	TaskStatus,
} from './task.js';
export {
	ADD_SPAN_NAME,
	ATTEMPT_SPAN_NAME,
	formatTrace,
	parseTrace,
	TRACER_NAME,
	TRACER_VERSION,
	type AttemptSpanOutcome,
} from './tracing.js';
