/** The `HttpActuator`'s options, their defaults and their validation. */
import type { ActuatorStatus, TaskRecord } from 'lightsched';
import { describeValue, rejectUnknownOptions } from 'lightsched/kit';
import type { HttpJobLogs } from './job-logs.js';

/** A path below `baseUrl` for a call about one remote job: a function of its id, or a string with `{ref}` in it. */
export type RefPath<TItem = unknown> = string | ((ref: string, task: TaskRecord<TItem>) => string);

/** How to start a job: the `start` option. */
export interface HttpStartOptions<TItem = unknown> {
	/** Where to start a job, below `baseUrl` (`'/cuts'`), or a function of the item. */
	readonly path: string | ((item: TItem, task: TaskRecord<TItem>) => string);
	/** @default 'POST' */
	readonly method?: string;
	/**
	 * The JSON body to send.
	 * @default the task's item
	 */
	readonly body?: (item: TItem, task: TaskRecord<TItem>) => unknown;
	/**
	 * Whether starting twice is harmless. When `false`, a start is retried only when the request surely never
	 * reached the service (connection refused, DNS failure), so a timeout never creates a second remote job.
	 * @default false
	 */
	readonly idempotent?: boolean;
}

/** How to ask for a job's status: the `status` option. */
export interface HttpStatusOptions<TItem = unknown, TOutput = unknown> {
	/** Where to read a job's status (`(ref) => \`/cuts/${ref}\``, or `'/cuts/{ref}'`). */
	readonly path: RefPath<TItem>;
	/** @default 'GET' */
	readonly method?: string;
	/**
	 * At most this many status requests in flight at once during one batch poll.
	 * @default 8
	 */
	readonly concurrency?: number;
	/** Overrides the top-level `mapStatus` (either may be given). */
	readonly map?: (body: unknown, task: TaskRecord<TItem, TOutput>) => ActuatorStatus<TOutput>;
	/**
	 * The job's log lines, forwarded to the task's log (`ctx.log`). Each status request asks for the lines not yet
	 * received with `logsFrom=<n>` in its query; `true` reads the answer's `logs` (an array of strings) starting at
	 * line `logsFrom` of the answer (default: the `n` asked for; lines already received are skipped). A function
	 * reads another shape: `(body, task) => ({ lines, from? })` or `undefined`. `false`: no logs, no query parameter.
	 * @default true
	 */
	readonly logs?: boolean | ((body: unknown, task: TaskRecord<TItem, TOutput>) => HttpJobLogs | undefined);
}

/** How to fetch a succeeded job's result: the `output` option. */
export interface HttpOutputOptions<TItem = unknown, TOutput = unknown> {
	/** Where to read a succeeded job's result (`(ref) => \`/cuts/${ref}/output\``, or `'/cuts/{ref}/output'`). */
	readonly path: RefPath<TItem>;
	/** @default 'GET' */
	readonly method?: string;
	/**
	 * Turn the answer into the task's output.
	 * @default the whole JSON body
	 */
	readonly map?: (body: unknown, task: TaskRecord<TItem, TOutput>) => TOutput;
}

/** How to stop a job: the `stop` option. */
export interface HttpStopOptions<TItem = unknown> {
	/** Where to stop a job (`(ref) => \`/cuts/${ref}/stop\``, or `'/cuts/{ref}/stop'`). */
	readonly path: RefPath<TItem>;
	/** @default 'POST' */
	readonly method?: string;
}

/** What `new HttpActuator(options)` takes: the service's base URL and its start, status, output and stop calls. */
export interface HttpActuatorOptions<TItem = unknown, TOutput = unknown> {
	/** The service's base URL (`'http://127.0.0.1:8001'`); paths are appended to it. */
	readonly baseUrl: string | URL;
	/** How to start a job. */
	readonly start: HttpStartOptions<TItem>;
	/**
	 * Read the remote job id from the start answer; it becomes the task's `ref`.
	 * @default (body) => body.id (a non-empty string, or a number turned into a string)
	 */
	readonly startId?: (body: unknown) => string;
	/** How to read a job's status; polled every `pollIntervalMs` of the scheduler. */
	readonly status: HttpStatusOptions<TItem, TOutput>;
	/**
	 * Turn a status answer into an `ActuatorStatus`.
	 * @default body.status 'running' | 'succeeded' | 'failed', with body.progress (running), body.output
	 * (succeeded) and body.error (failed)
	 */
	readonly mapStatus?: (body: unknown, task: TaskRecord<TItem, TOutput>) => ActuatorStatus<TOutput>;
	/** How to fetch the result of a succeeded job, when its status answer does not carry an `output`. */
	readonly output?: HttpOutputOptions<TItem, TOutput>;
	/** How to stop a job (on `stop`, on a timeout, and when the scheduler closes). */
	readonly stop: HttpStopOptions<TItem>;
	/** Extra headers on every request (an `authorization` token, for example). */
	readonly headers?: Readonly<Record<string, string>>;
	/**
	 * How long one request may take, in milliseconds, answer body included.
	 * @default 10000
	 */
	readonly timeoutMs?: number;
	/**
	 * Extra tries after a transport error, with back-off. Output and stop calls retry any transport error
	 * (refused, reset, closed, timed out); a start retries only when the request surely never reached the
	 * service (refused, DNS) unless `start.idempotent`; a status poll retries only a refused connection (the
	 * next poll is the retry, see `maxStatusFailures`). A non-2xx answer is never retried.
	 * @default 2
	 */
	readonly retries?: number;
	/**
	 * The wait before the first retry, in milliseconds; doubles for each further one.
	 * @default 200
	 */
	readonly retryDelayMs?: number;
	/**
	 * Fail a running task after this many status polls in a row could not reach the service.
	 * @default 5
	 */
	readonly maxStatusFailures?: number;
	/**
	 * Which non-2xx answers fail the task at once, without further attempts: such a failure is a
	 * `NonRetryableError` (its `cause` the `HttpStatusError`) instead of an `HttpStatusError`. For example
	 * `(status, call) => call === 'start' && status >= 400 && status < 500 && status !== 408 && status !== 429`
	 * for a service whose refusals do not change on a retry.
	 * @default () => false (every failure follows the scheduler's retry policy)
	 */
	readonly nonRetryableStatus?: (status: number, call: HttpCall) => boolean;
}

/** The calls the actuator makes. */
export type HttpCall = 'start' | 'status' | 'output' | 'stop';

const OPTION_NAMES = [
	'baseUrl',
	'start',
	'startId',
	'status',
	'mapStatus',
	'output',
	'stop',
	'headers',
	'timeoutMs',
	'retries',
	'retryDelayMs',
	'maxStatusFailures',
	'nonRetryableStatus',
] as const;
const PART_OPTION_NAMES = {
	start: ['path', 'method', 'body', 'idempotent'],
	status: ['path', 'method', 'concurrency', 'map', 'logs'],
	output: ['path', 'method', 'map'],
	stop: ['path', 'method'],
} as const;

function checkInteger(name: string, value: unknown, min: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
		throw new TypeError(`Expected \`${name}\` to be an integer >= ${min}, got ${describeValue(value)}`);
	}
	return value;
}

function checkPath(name: string, value: unknown): void {
	if (typeof value === 'function') return;
	if (typeof value !== 'string' || value.length === 0) {
		throw new TypeError(`Expected \`${name}\` to be a non-empty string or a function, got ${typeof value}`);
	}
}

function checkMethod(name: string, value: unknown): void {
	if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z]+$/.test(value))) {
		throw new TypeError(
			`Expected \`${name}\` to be an HTTP method such as 'POST', got ${JSON.stringify(value) ?? String(value)}`,
		);
	}
}

/** The options with defaults applied, validated. Throws a `TypeError` naming the bad option. */
export interface ResolvedHttpOptions {
	readonly baseUrl: string;
	readonly timeoutMs: number;
	readonly retries: number;
	readonly retryDelayMs: number;
	readonly maxStatusFailures: number;
	readonly statusConcurrency: number;
	readonly headers: Readonly<Record<string, string>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveHttpOptions(options: HttpActuatorOptions<any, any>): ResolvedHttpOptions {
	if (options === null || typeof options !== 'object')
		throw new TypeError('Expected HttpActuator options to be an object');
	rejectUnknownOptions('HttpActuator', options, OPTION_NAMES);
	let baseUrl: URL;
	try {
		baseUrl = new URL(String(options.baseUrl));
	} catch {
		throw new TypeError(
			`Expected \`baseUrl\` to be an absolute http(s) URL, got ${JSON.stringify(String(options.baseUrl))}`,
		);
	}
	if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') {
		throw new TypeError(`Expected \`baseUrl\` to be an http(s) URL, got ${JSON.stringify(baseUrl.href)}`);
	}
	for (const part of ['start', 'status', 'stop'] as const) {
		if (options[part] === null || typeof options[part] !== 'object')
			throw new TypeError(`Expected \`${part}\` to be an object with a \`path\``);
		rejectUnknownOptions(`HttpActuator \`${part}\``, options[part], PART_OPTION_NAMES[part]);
		checkPath(`${part}.path`, options[part].path);
		checkMethod(`${part}.method`, options[part].method);
	}
	const logs = (options.status as { logs?: unknown }).logs;
	if (logs !== undefined && typeof logs !== 'boolean' && typeof logs !== 'function')
		throw new TypeError(`Expected \`status.logs\` to be a boolean or a function, got ${describeValue(logs)}`);
	if (options.nonRetryableStatus !== undefined && typeof options.nonRetryableStatus !== 'function') {
		throw new TypeError(
			`Expected \`nonRetryableStatus\` to be a function, got ${describeValue(options.nonRetryableStatus)}`,
		);
	}
	if (options.output !== undefined) {
		if (options.output === null || typeof options.output !== 'object')
			throw new TypeError('Expected `output` to be an object with a `path`');
		rejectUnknownOptions('HttpActuator `output`', options.output, PART_OPTION_NAMES.output);
		checkPath('output.path', options.output.path);
		checkMethod('output.method', options.output.method);
	}
	const headers = options.headers ?? {};
	for (const [key, value] of Object.entries(headers)) {
		if (typeof value !== 'string')
			throw new TypeError(`Expected \`headers.${key}\` to be a string, got ${typeof value}`);
	}
	return {
		baseUrl: baseUrl.href.replace(/\/+$/, ''),
		timeoutMs: checkInteger('timeoutMs', options.timeoutMs ?? 10_000, 1),
		retries: checkInteger('retries', options.retries ?? 2, 0),
		retryDelayMs: checkInteger('retryDelayMs', options.retryDelayMs ?? 200, 0),
		maxStatusFailures: checkInteger('maxStatusFailures', options.maxStatusFailures ?? 5, 1),
		statusConcurrency: checkInteger('status.concurrency', options.status.concurrency ?? 8, 1),
		headers,
	};
}
