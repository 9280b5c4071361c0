/**
 * The error family. Every error the kit raises is a `SchedulerError` with a stable `code` and,
 * where another error caused it, a `cause`. Bad options are `TypeError`s (thrown at construction).
 */

/** Every code the kit itself uses. Errors thrown by user work keep their own `code` when they have one. */
export type SchedulerErrorCode =
	| 'ERR_TASK_TIMEOUT'
	| 'ERR_NON_RETRYABLE'
	| 'ERR_TASK_FAILED'
	| 'ERR_TASK_STOPPED'
	| 'ERR_TASK_NOT_FOUND'
	| 'ERR_DUPLICATE_TASK'
	| 'ERR_INVALID_TASK'
	| 'ERR_INVALID_STATE'
	| 'ERR_SCHEDULER_CLOSED'
	| 'ERR_CONTAINER'
	| 'ERR_ACTUATOR'
	| 'ERR_PERSIST'
	| 'ERR_CALLBACK'
	| 'ERR_LEASE_EXPIRED'
	| 'ERR_PROCESS_EXIT'
	| 'ERR_PROCESS_SPAWN';

export interface SchedulerErrorOptions {
	readonly code?: SchedulerErrorCode;
	readonly cause?: unknown;
}

/** The base of the family: a message, a stable `code` and an optional `cause`. */
export class SchedulerError extends Error {
	override name: string = 'SchedulerError';
	readonly code: SchedulerErrorCode;

	constructor(message: string, options: SchedulerErrorOptions = {}) {
		super(message, options.cause === undefined ? undefined : { cause: options.cause });
		this.code = options.code ?? 'ERR_TASK_FAILED';
	}
}

/** An attempt ran longer than its timeout; the work was stopped. Retried like any failure. */
export class TaskTimeoutError extends SchedulerError {
	override name = 'TaskTimeoutError';
	readonly timeoutMs: number;

	constructor(timeoutMs: number, options: { cause?: unknown } = {}) {
		super(`Task timed out after ${timeoutMs} ms`, { ...options, code: 'ERR_TASK_TIMEOUT' });
		this.timeoutMs = timeoutMs;
	}
}

/** Thrown by the work to fail the task at once, without further attempts. */
export class NonRetryableError extends SchedulerError {
	override name = 'NonRetryableError';

	constructor(message: string, options: { cause?: unknown } = {}) {
		super(message, { ...options, code: 'ERR_NON_RETRYABLE' });
	}
}

/** The reason an attempt's `AbortSignal` carries when the task is stopped. */
export class TaskStoppedError extends SchedulerError {
	override name = 'TaskStoppedError';

	constructor(id: string, reason = 'stopped') {
		super(`Task \`${id}\` was ${reason}`, { code: 'ERR_TASK_STOPPED' });
	}
}

/** No task has this id. */
export class TaskNotFoundError extends SchedulerError {
	override name = 'TaskNotFoundError';
	readonly id: string;

	constructor(id: string) {
		super(`No task with id \`${id}\``, { code: 'ERR_TASK_NOT_FOUND' });
		this.id = id;
	}
}

/** A task with this id is already waiting or running (a finished one may be added again). */
export class DuplicateTaskError extends SchedulerError {
	override name = 'DuplicateTaskError';
	readonly id: string;

	constructor(id: string, detail = 'is already waiting or running') {
		super(`A task with id \`${id}\` ${detail}`, { code: 'ERR_DUPLICATE_TASK' });
		this.id = id;
	}
}

/** A task given to `add` is malformed; `field` names what is wrong (`task.item`, `tasks[2].id`). Nothing was added. */
export class InvalidTaskError extends SchedulerError {
	override name = 'InvalidTaskError';
	readonly field: string;

	constructor(field: string, expected: string, got: unknown, options: { cause?: unknown } = {}) {
		super(`Expected \`${field}\` to be ${expected}, got ${describeValue(got)}`, {
			...options,
			code: 'ERR_INVALID_TASK',
		});
		this.field = field;
	}
}

/** The operation does not fit the task's status (for example removing a running task). */
export class InvalidStateError extends SchedulerError {
	override name = 'InvalidStateError';

	constructor(message: string) {
		super(message, { code: 'ERR_INVALID_STATE' });
	}
}

/** The scheduler (or a container) was closed. */
export class SchedulerClosedError extends SchedulerError {
	override name = 'SchedulerClosedError';

	constructor(what = 'scheduler') {
		super(`The ${what} is closed`, { code: 'ERR_SCHEDULER_CLOSED' });
	}
}

/** A container operation failed (a storage error); `cause` holds the driver's error. */
export class ContainerError extends SchedulerError {
	override name = 'ContainerError';

	constructor(message: string, options: { cause?: unknown } = {}) {
		super(message, { ...options, code: 'ERR_CONTAINER' });
	}
}

/** An actuator could not start, poll or stop the work. */
export class ActuatorError extends SchedulerError {
	override name = 'ActuatorError';

	constructor(message: string, options: { cause?: unknown } = {}) {
		super(message, { ...options, code: 'ERR_ACTUATOR' });
	}
}

/** The persistencer could not store an output; the attempt fails. */
export class PersistError extends SchedulerError {
	override name = 'PersistError';

	constructor(message: string, options: { cause?: unknown } = {}) {
		super(message, { ...options, code: 'ERR_PERSIST' });
	}
}

/** A `callback` receiver or event listener threw; reported on the `error` event only. */
export class CallbackError extends SchedulerError {
	override name = 'CallbackError';

	constructor(message: string, options: { cause?: unknown } = {}) {
		super(message, { ...options, code: 'ERR_CALLBACK' });
	}
}

/** A running task's lease expired (its scheduler died or stalled) and its attempts are spent. */
export class LeaseExpiredError extends SchedulerError {
	override name = 'LeaseExpiredError';

	constructor(id: string) {
		super(`The lease on task \`${id}\` expired: its scheduler stopped renewing it`, { code: 'ERR_LEASE_EXPIRED' });
	}
}

/** Turns anything thrown (non-Error values too) into an Error with a useful message. */
export function toError(value: unknown): Error {
	if (value instanceof Error) return value;
	if (typeof value === 'string') return new Error(value);
	let text: string;
	try {
		text = JSON.stringify(value) ?? String(value);
	} catch {
		text = String(value);
	}
	return new Error(`Non-error value thrown: ${text}`, { cause: value });
}

/** The stored form of a failure: its message and a code (the error's own string `code`, or `ERR_TASK_FAILED`). */
export function toTaskError(value: unknown): { message: string; code: string } {
	const error = toError(value);
	const code = (error as { code?: unknown }).code;
	return { message: error.message, code: typeof code === 'string' && code.length > 0 ? code : 'ERR_TASK_FAILED' };
}

/** A short, safe description of a value for error messages: `0 (number)`, `undefined`, `"x" (string)`. */
export function describeValue(value: unknown): string {
	if (value === undefined) return 'undefined';
	if (value === null) return 'null';
	if (typeof value === 'string') return `${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} (string)`;
	if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${String(value)} (${typeof value})`;
	if (typeof value === 'function') return 'a function';
	if (Array.isArray(value)) return 'an array';
	return `\`${Object.prototype.toString.call(value)}\` (${typeof value})`;
}
