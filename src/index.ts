export { Scheduler, type CloseOptions } from './scheduler.js';
export type {
	ActuatorContext,
	ActuatorResult,
	ActuatorStart,
	ActuatorStatus,
	CallbackReceiver,
	ContainerSignal,
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
export type { LoopBlockedEvent, OutagePart, PartDownEvent, PartUpEvent, SchedulerEvents, TaskEvent } from './events.js';
export { LeaseLostError } from './lease-lost-error.js';
export { DEFAULTS, type ResolvedSchedulerOptions, type SchedulerOptions } from './options.js';
export { backoffDelay, DEFAULT_BACKOFF, type Backoff, type BackoffFunction, type BackoffOptions } from './retry.js';
export { assertJsonItem, createTaskRecord, MAX_ID_LENGTH } from './new-task.js';
export {
	assertJsonOutput,
	assertStorableTask,
	assertWellFormed,
	assertWellFormedId,
	findJsonProblem,
	isWellFormedText,
	jsonOutputError,
	type JsonProblem,
} from './json-check.js';
export { MemoryContainer, type WaitingOrder } from './memory-container.js';
export { StoredTask, type Place } from './stored-task.js';
export { BinaryHeap } from './binary-heap.js';
export { Deque } from './deque.js';
export {
	copyTask,
	emptyCounts,
	FINAL_STATUSES,
	isFinalStatus,
	isTaskStatus,
	TASK_STATUSES,
	type NewTask,
	type TaskCounts,
	type TaskError,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
} from './task.js';
