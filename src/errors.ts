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
	| 'ERR_DUPLICATE_KEY'
	| 'ERR_INVALID_TASK'
	| 'ERR_INVALID_OUTPUT'
	| 'ERR_INVALID_STATE'
	| 'ERR_SCHEDULER_CLOSED'
	| 'ERR_CONTAINER'
	| 'ERR_ACTUATOR'
	| 'ERR_PERSIST'
	| 'ERR_CALLBACK'
	| 'ERR_LEASE_EXPIRED'
	| 'ERR_PROCESS_EXIT'
	| 'ERR_PROCESS_SPAWN'
	| 'ERR_CONTAINER_EXIT'
	| 'ERR_CONTAINER_OOM'
	| 'ERR_INVALID_DEFINITION'
	| 'ERR_RUN_NOT_FOUND'
	| 'ERR_DUPLICATE_RUN'
	| 'ERR_RUN_STATE'
	| 'ERR_RUN_DEADLINE'
	| 'ERR_TEMPLATE_MISSING_KEY'
	| 'ERR_STEP_STALE'
	| 'ERR_RUN_OUTCOME_UNKNOWN'
	| 'ERR_WAIT_TIMEOUT';

/** What a `SchedulerError` is made with. */
export interface SchedulerErrorOptions {
	/** @default 'ERR_TASK_FAILED' */
	readonly code?: SchedulerErrorCode;
	/** The error that caused this one. */
	readonly cause?: unknown;
}

/** The base of the family: a message, a stable `code` and an optional `cause`. */
export class SchedulerError extends Error {
	/** The class name, e.g. `'TaskTimeoutError'`. */
	override name: string = 'SchedulerError';
	/** The stable code of this kind of failure, kept in the task's stored `error.code`. */
	readonly code: SchedulerErrorCode;

	constructor(message: string, options: SchedulerErrorOptions = {}) {
		super(message, options.cause === undefined ? undefined : { cause: options.cause });
		this.code = options.code ?? 'ERR_TASK_FAILED';
	}
}

/** An attempt ran longer than its timeout; the work was stopped. Retried like any failure. */
export class TaskTimeoutError extends SchedulerError {
	override name = 'TaskTimeoutError';
	/** The timeout that was exceeded, in milliseconds. */
	readonly timeoutMs: number;

	constructor(timeoutMs: number, options: { cause?: unknown } = {}) {
		super(`Task timed out after ${timeoutMs} ms`, { ...options, code: 'ERR_TASK_TIMEOUT' });
		this.timeoutMs = timeoutMs;
	}
}

/** Thrown by the work to fail the task at once, without further attempts. */
export class NonRetryableError extends SchedulerError {
	override name = 'NonRetryableError';

	constructor(message: string, options: { cause?: unknown; code?: SchedulerErrorCode } = {}) {
		super(message, { ...options, code: options.code ?? 'ERR_NON_RETRYABLE' });
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
	/** The task id. */
	readonly id: string;

	constructor(id: string) {
		super(`No task with id \`${id}\``, { code: 'ERR_TASK_NOT_FOUND' });
		this.id = id;
	}
}

/** A task with this id is already waiting or running (a finished one may be added again). */
export class DuplicateTaskError extends SchedulerError {
	override name = 'DuplicateTaskError';
	/** The task id that already exists (or came twice in one add). */
	readonly id: string;

	constructor(id: string, detail = 'is already waiting or running') {
		super(`A task with id \`${id}\` ${detail}`, { code: 'ERR_DUPLICATE_TASK' });
		this.id = id;
	}
}

/**
 * A task with this deduplication `key` is already waiting or running (`NewTask.key`). Nothing of the add was stored.
 */
export class DuplicateKeyError extends SchedulerError {
	override name = 'DuplicateKeyError';
	/** The key. */
	readonly key: string;
	/** The id of the task that holds the key (waiting or running), or of the other task of the same add that has it. */
	readonly existingId: string;

	constructor(key: string, existingId: string) {
		super(`A task with key \`${key}\` is already waiting or running (task \`${existingId}\`)`, {
			code: 'ERR_DUPLICATE_KEY',
		});
		this.key = key;
		this.existingId = existingId;
	}
}

/** How an invalid value is described: `got` replaces `describeValue(value)`, `hint` says what to do instead. */
export interface InvalidValueOptions {
	/** The error that caused this one. */
	readonly cause?: unknown;
	/** Said instead of `describeValue(value)` after "got". */
	readonly got?: string;
	/** What to do instead, appended to the message. */
	readonly hint?: string;
}

function invalidValueMessage(field: string, expected: string, value: unknown, options: InvalidValueOptions): string {
	const hint = options.hint === undefined ? '' : `: ${options.hint}`;
	return `Expected \`${field}\` to be ${expected}, got ${options.got ?? describeValue(value)}${hint}`;
}

/**
 * A task given to `add` is malformed; `field` names what is wrong (`task.item`, `tasks[2].id`,
 * `tasks[0].item.when`). Nothing was added.
 */
export class InvalidTaskError extends SchedulerError {
	override name = 'InvalidTaskError';
	/** Which field is bad, as a path such as `tasks[1].item.when`. */
	readonly field: string;

	constructor(field: string, expected: string, got: unknown, options: InvalidValueOptions = {}) {
		super(invalidValueMessage(field, expected, got, options), {
			...(options.cause === undefined ? {} : { cause: options.cause }),
			code: 'ERR_INVALID_TASK',
		});
		this.field = field;
	}
}

/**
 * An attempt's output cannot be stored as it is (a persistent container keeps outputs as JSON, and this one
 * would come back changed: a `Date`, a `Map`, a cycle…). The attempt fails without a retry (the same work would
 * return the same kind of value); `field` names the value (`output.when`).
 */
export class InvalidOutputError extends NonRetryableError {
	override name = 'InvalidOutputError';
	/** Which part of the output is bad, as a path such as `output.when`. */
	readonly field: string;

	constructor(field: string, expected: string, got: unknown, options: InvalidValueOptions = {}) {
		super(invalidValueMessage(field, expected, got, options), {
			...(options.cause === undefined ? {} : { cause: options.cause }),
			code: 'ERR_INVALID_OUTPUT',
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

	/** `message` replaces the default one (e.g. the message stored on the task by the lease sweep). */
	constructor(id: string, message?: string) {
		super(message ?? `The lease on task \`${id}\` expired: its scheduler stopped renewing it`, {
			code: 'ERR_LEASE_EXPIRED',
		});
	}
}

/**
 * `cause` reported with `context` in front of its message, as the subclass its code belongs to (a persist failure
 * stays a `PersistError`, a container failure a `ContainerError`, …; other codes a `SchedulerError` with that code).
 */
export function withContext(
	context: string,
	cause: Error,
	fallback: SchedulerErrorCode = 'ERR_CONTAINER',
): SchedulerError {
	const code = cause instanceof SchedulerError ? cause.code : fallback;
	const message = `${context}: ${cause.message}`;
	switch (code) {
		case 'ERR_CONTAINER':
			return new ContainerError(message, { cause });
		case 'ERR_ACTUATOR':
			return new ActuatorError(message, { cause });
		case 'ERR_PERSIST':
			return new PersistError(message, { cause });
		case 'ERR_CALLBACK':
			return new CallbackError(message, { cause });
		default:
			return new SchedulerError(message, { code, cause });
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
export function toTaskError(value: unknown): {
	/** The error's message. */
	message: string;
	/** Its string `code`, else `ERR_TASK_FAILED`. */
	code: string;
} {
	const error = toError(value);
	const code = (error as { code?: unknown }).code;
	return { message: error.message, code: typeof code === 'string' && code.length > 0 ? code : 'ERR_TASK_FAILED' };
}

/**
 * A short, safe description of a value for error messages: `0 (number)`, `undefined`, `"x" (string)`,
 * `` a `Date` (2024-01-01T00:00:00.000Z) ``, `` an instance of class `Job` ``, `` a function `run` ``. Never throws
 * and never calls the value's own code (no `toString`, no getters).
 */
export function describeValue(value: unknown): string {
	if (value === undefined) return 'undefined';
	if (value === null) return 'null';
	switch (typeof value) {
		case 'string':
			return `${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} (string)`;
		case 'number':
		case 'boolean':
			return `${String(value)} (${typeof value})`;
		case 'bigint':
			return `${String(value)}n (bigint)`;
		case 'symbol':
			return `a symbol (${value.description === undefined ? 'Symbol()' : `Symbol(${shortText(value.description)})`})`;
		case 'function':
			return describeFunction(value as (...args: unknown[]) => unknown);
		default:
			return describeObject(value);
	}
}

function shortText(text: string): string {
	return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function describeFunction(fn: (...args: unknown[]) => unknown): string {
	let name = '';
	try {
		const own = Object.getOwnPropertyDescriptor(fn, 'name');
		if (typeof own?.value === 'string') name = own.value;
	} catch {
		// A proxy may throw: describe it without its name.
	}
	const isClass = /^class[\s{]/.test(Function.prototype.toString.call(fn));
	if (isClass) return name === '' ? 'an anonymous class' : `a class \`${shortText(name)}\``;
	return name === '' ? 'an anonymous function' : `a function \`${shortText(name)}\``;
}

/** The built-in kinds worth naming, tested by their internal slots (not by `instanceof`, which other realms defeat). */
function describeObject(value: object): string {
	try {
		if (Array.isArray(value)) return `an array (${value.length} item${value.length === 1 ? '' : 's'})`;
		const tag = Object.prototype.toString.call(value).slice(8, -1);
		const proto = Object.getPrototypeOf(value) as object | null;
		if (proto === null) return 'an object with a null prototype';
		if (value instanceof Date || tag === 'Date') {
			const time = Date.prototype.getTime.call(value);
			return `a \`Date\` (${Number.isNaN(time) ? 'Invalid Date' : new Date(time).toISOString()})`;
		}
		if (value instanceof Map) return `a \`Map\` (${sizeOf(value, 'entr')})`;
		if (value instanceof Set) return `a \`Set\` (${sizeOf(value, 'value')})`;
		if (value instanceof RegExp) return `a \`RegExp\` (${shortText(RegExp.prototype.toString.call(value))})`;
		if (value instanceof Error)
			return `${article(className(value) ?? 'Error')} (${JSON.stringify(shortText(String(value.message)))})`;
		if (ArrayBuffer.isView(value)) return `${article(className(value) ?? tag)} (${value.byteLength} bytes)`;
		if (value instanceof ArrayBuffer) return `an \`ArrayBuffer\` (${value.byteLength} bytes)`;
		if (value instanceof Promise) return 'a `Promise` (await it first)';
		if (value instanceof WeakMap || value instanceof WeakSet) return article(tag);
		if (proto === Object.prototype) return 'an object';
		const name = className(value);
		if (name !== undefined && ['String', 'Number', 'Boolean', 'BigInt', 'Symbol'].includes(tag) && name === tag) {
			return `a boxed ${tag.toLowerCase()} (\`new ${tag}(…)\`)`;
		}
		if (name !== undefined) return `an instance of class \`${shortText(name)}\``;
		return 'an object whose prototype is not `Object.prototype` (made by `Object.create`?)';
	} catch {
		return 'an object (a proxy or an exotic object)';
	}
}

function sizeOf(value: Map<unknown, unknown> | Set<unknown>, unit: 'entr' | 'value'): string {
	const size = value.size;
	if (unit === 'entr') return `${size} entr${size === 1 ? 'y' : 'ies'}`;
	return `${size} value${size === 1 ? '' : 's'}`;
}

function article(name: string): string {
	return `${/^[AEIO]/.test(name) ? 'an' : 'a'} \`${name}\``;
}

/** The name of the class that made `value`: its prototype's own `constructor`, when that is a named function. */
function className(value: object): string | undefined {
	const proto = Object.getPrototypeOf(value) as object | null;
	if (proto === null) return undefined;
	const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
	if (typeof ctor !== 'function') return undefined;
	const name = Object.getOwnPropertyDescriptor(ctor, 'name')?.value as unknown;
	return typeof name === 'string' && name !== '' ? name : undefined;
}
