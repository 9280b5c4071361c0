/**
 * `HttpActuator`: runs a task as a job behind an HTTP service. `start` posts the job and keeps the id the
 * service returns as the task's `ref`; the scheduler polls `status` (one request per task, in parallel,
 * bounded), each poll asking for the job's new log lines (`logsFrom`) and forwarding them to the task's log;
 * `stop` calls the service's stop; `output` fetches the result. Every request has a timeout,
 * transport errors are retried with back-off, a non-2xx answer or an unexpected body fails clearly, and a
 * service that stays unreachable fails the task after `maxStatusFailures` polls instead of hanging.
 */
import {
	ActuatorError,
	NonRetryableError,
	type ActuatorContext,
	type ActuatorStart,
	type ActuatorStatus,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched';
import { describeValue } from 'lightsched/kit';
import {
	HttpStatusError,
	HttpTransportError,
	requestJson,
	type JsonRequest,
	type RequestSettings,
	type RetryScope,
} from './http/request.js';
import { defaultJobLogs, JobLog, type HttpJobLogs, type JobLogsReader } from './http/job-logs.js';
import {
	resolveHttpOptions,
	type HttpActuatorOptions,
	type HttpCall,
	type RefPath,
	type ResolvedHttpOptions,
} from './http/options.js';

export type {
	HttpActuatorOptions,
	HttpCall,
	HttpOutputOptions,
	HttpStartOptions,
	HttpStatusOptions,
	HttpStopOptions,
	RefPath,
} from './http/options.js';
export { HttpStatusError, HttpTransportError } from './http/request.js';
export { defaultJobLogs, LOGS_FROM_PARAM, type HttpJobLogs } from './http/job-logs.js';

/** The default `startId`: the answer's `id` (a non-empty string, or a number). */
export function defaultStartId(body: unknown): string {
	const id = (body as { id?: unknown } | null)?.id;
	if (typeof id === 'string' && id.length > 0) return id;
	if (typeof id === 'number' && Number.isFinite(id)) return String(id);
	throw new TypeError(
		`Expected the answer to have an \`id\` (a non-empty string), got ${body !== null && typeof body === 'object' ? `\`id\` = ${describeValue(id)}` : describeValue(body)}`,
	);
}

/**
 * The default status mapping: `{ status: 'running', progress? }`, `{ status: 'succeeded', output? }` or
 * `{ status: 'failed', error? }`. Anything else throws a `TypeError` saying what was expected.
 */
export function defaultMapStatus<TOutput>(body: unknown): ActuatorStatus<TOutput> {
	if (body === null || typeof body !== 'object' || Array.isArray(body)) {
		throw new TypeError(`Expected the status answer to be a JSON object, got ${describeValue(body)}`);
	}
	const { status, progress, output, error } = body as {
		status?: unknown;
		progress?: unknown;
		output?: unknown;
		error?: unknown;
	};
	if (status === 'running') return progress === undefined ? { state: 'running' } : { state: 'running', progress };
	if (status === 'succeeded')
		return output === undefined ? { state: 'succeeded' } : { state: 'succeeded', output: output as TOutput };
	if (status === 'failed') {
		const message =
			typeof error === 'string' && error.length > 0
				? error
				: error === undefined || error === null
					? 'no reason given'
					: JSON.stringify(error);
		return { state: 'failed', error: new ActuatorError(`The remote job failed: ${message}`) };
	}
	throw new TypeError(`Expected \`status\` to be 'running', 'succeeded' or 'failed', got ${describeValue(status)}`);
}

/** The answers of a gateway or proxy whose service is down, overloaded or restarting. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

export class HttpActuator<TItem = unknown, TOutput = unknown> implements TaskActuator<TItem, TOutput> {
	readonly #options: HttpActuatorOptions<TItem, TOutput>;
	readonly #settings: ResolvedHttpOptions & RequestSettings;
	/** Consecutive status polls that could not reach the service, by task id. */
	readonly #unreachable = new Map<string, number>();
	/** Aborts requests in flight when the actuator closes. */
	readonly #closing = new AbortController();
	/** How to read a job's log lines from a status answer; `undefined` when `status.logs` is `false`. */
	readonly #readLogs: JobLogsReader<TItem, TOutput> | undefined;
	/** The log reading of each running attempt this actuator started, by task id. */
	readonly #jobLogs = new Map<string, JobLog>();

	constructor(options: HttpActuatorOptions<TItem, TOutput>) {
		this.#settings = resolveHttpOptions(options);
		this.#options = options;
		const logs = options.status.logs ?? true;
		this.#readLogs = logs === false ? undefined : logs === true ? defaultJobLogs : logs;
	}

	async start(task: TaskRecord<TItem, TOutput>, ctx: ActuatorContext<TOutput>): Promise<ActuatorStart> {
		const { start } = this.#options;
		const path = typeof start.path === 'function' ? start.path(task.item, task) : start.path;
		const method = (start.method ?? 'POST').toUpperCase();
		const body = start.body ? start.body(task.item, task) : task.item;
		const url = this.#url(path);
		const retry: RetryScope = start.idempotent === true ? 'transport' : 'connect';
		const answer = await this.#request('start', {
			method,
			url,
			body,
			json: true,
			retry,
			signals: [ctx.signal, this.#closing.signal],
		});
		let ref: string;
		try {
			ref = (this.#options.startId ?? defaultStartId)(answer);
		} catch (error) {
			throw new ActuatorError(`${method} ${url}: ${error instanceof Error ? error.message : String(error)}`, {
				cause: error,
			});
		}
		if (typeof ref !== 'string' || ref.length === 0) {
			throw new ActuatorError(
				`${method} ${url}: expected \`startId\` to return a non-empty string, got ${describeValue(ref)}`,
			);
		}
		this.#unreachable.delete(task.id);
		if (this.#readLogs !== undefined && typeof ctx.log === 'function' && !ctx.signal.aborted) {
			const log = new JobLog(task.attempts, ctx as ActuatorContext<unknown>);
			this.#jobLogs.set(task.id, log);
			ctx.signal.addEventListener('abort', () => this.#forgetLog(task.id, log), { once: true });
		}
		return { ref };
	}

	/** One status request per task, at most `status.concurrency` at once. Never throws: each task gets its status. */
	async status(tasks: readonly TaskRecord<TItem, TOutput>[]): Promise<ActuatorStatus<TOutput>[]> {
		const results = new Array<ActuatorStatus<TOutput>>(tasks.length);
		let next = 0;
		const worker = async (): Promise<void> => {
			while (next < tasks.length) {
				const index = next++;
				results[index] = await this.#statusOf(tasks[index] as TaskRecord<TItem, TOutput>);
			}
		};
		await Promise.all(Array.from({ length: Math.min(this.#settings.statusConcurrency, tasks.length) }, worker));
		return results;
	}

	async output(task: TaskRecord<TItem, TOutput>): Promise<TOutput> {
		const { output } = this.#options;
		if (output === undefined) return undefined as TOutput;
		const ref = this.#ref(task, 'output');
		const method = (output.method ?? 'GET').toUpperCase();
		const url = this.#url(this.#refPath(output.path, ref, task));
		const body = await this.#request('output', {
			method,
			url,
			json: true,
			retry: 'transport',
			signals: [this.#closing.signal],
		});
		if (output.map === undefined) return body as TOutput;
		try {
			return output.map(body, task);
		} catch (error) {
			throw new ActuatorError(
				`${method} ${url}: unexpected output answer: ${error instanceof Error ? error.message : String(error)}`,
				{ cause: error },
			);
		}
	}

	async stop(task: TaskRecord<TItem, TOutput>): Promise<void> {
		this.#unreachable.delete(task.id);
		this.#jobLogs.delete(task.id);
		if (typeof task.ref !== 'string' || task.ref.length === 0) return;
		const { stop } = this.#options;
		const method = (stop.method ?? 'POST').toUpperCase();
		const url = this.#url(this.#refPath(stop.path, task.ref, task));
		await this.#request('stop', { method, url, json: false, retry: 'transport' });
	}

	close(): void {
		this.#closing.abort(new ActuatorError('The HttpActuator was closed'));
		this.#unreachable.clear();
		this.#jobLogs.clear();
	}

	#forgetLog(taskId: string, log: JobLog): void {
		if (this.#jobLogs.get(taskId) === log) this.#jobLogs.delete(taskId);
	}

	/** The task's current attempt's log reading, if this actuator started it and logs are on. */
	#logOf(task: TaskRecord<TItem, TOutput>): JobLog | undefined {
		const log = this.#jobLogs.get(task.id);
		return log !== undefined && log.attempt === task.attempts ? log : undefined;
	}

	async #statusOf(task: TaskRecord<TItem, TOutput>): Promise<ActuatorStatus<TOutput>> {
		let url = '(no url)';
		const method = (this.#options.status.method ?? 'GET').toUpperCase();
		try {
			const ref = this.#ref(task, 'status');
			url = this.#url(this.#refPath(this.#options.status.path, ref, task));
			const log = this.#logOf(task);
			const asked = log?.next ?? 0;
			// Within one poll only a refused connection is retried: the next poll retries the rest, and a hanging
			// service must not hold up the polling of every other task for several timeouts.
			const body = await this.#request('status', {
				method,
				url,
				...(log === undefined ? {} : { query: log.query() }),
				json: true,
				retry: 'connect',
				signals: [this.#closing.signal],
			});
			this.#unreachable.delete(task.id);
			if (log !== undefined) this.#takeLogs(log, asked, body, task, method, url);
			const map = this.#options.status.map ?? this.#options.mapStatus ?? defaultMapStatus<TOutput>;
			let status: ActuatorStatus<TOutput>;
			try {
				status = map(body, task);
			} catch (error) {
				throw new ActuatorError(
					`${method} ${url}: unexpected status answer: ${error instanceof Error ? error.message : String(error)}`,
					{ cause: error },
				);
			}
			if (
				status === null ||
				typeof status !== 'object' ||
				!['running', 'succeeded', 'failed'].includes(status.state)
			) {
				throw new ActuatorError(
					`${method} ${url}: expected \`mapStatus\` to return { state: 'running' | 'succeeded' | 'failed' }, got ${describeValue(status)}`,
				);
			}
			if (status.state !== 'running') {
				this.#unreachable.delete(task.id);
				if (log !== undefined) this.#forgetLog(task.id, log);
			}
			return status;
		} catch (error) {
			// A gateway's 502/503/504 (a proxy in front of a service that is down or restarting) is an outage, not
			// the job's answer: counted like an unreachable service, not failing the task at once.
			if (
				error instanceof HttpTransportError ||
				(error instanceof HttpStatusError && GATEWAY_STATUSES.has(error.status))
			) {
				const failures = (this.#unreachable.get(task.id) ?? 0) + 1;
				const max = this.#settings.maxStatusFailures;
				if (failures < max) {
					this.#unreachable.set(task.id, failures);
					return { state: 'running' };
				}
				this.#unreachable.delete(task.id);
				return {
					state: 'failed',
					error: new ActuatorError(
						`The service stayed unreachable for ${max} status polls in a row: ${error.message}`,
						{ cause: error },
					),
				};
			}
			this.#unreachable.delete(task.id);
			return { state: 'failed', error: error instanceof Error ? error : new ActuatorError(String(error)) };
		}
	}

	/** Forward the answer's new log lines; an answer whose logs are of the wrong shape fails the poll. */
	#takeLogs(
		log: JobLog,
		asked: number,
		body: unknown,
		task: TaskRecord<TItem, TOutput>,
		method: string,
		url: string,
	): void {
		let logs: HttpJobLogs | undefined;
		try {
			logs = (this.#readLogs as JobLogsReader<TItem, TOutput>)(body, task);
			if (logs !== undefined) {
				if (logs === null || typeof logs !== 'object' || !Array.isArray(logs.lines))
					throw new TypeError(
						`Expected \`status.logs\` to return { lines, from? }, got ${describeValue(logs)}`,
					);
				if (logs.from !== undefined && (!Number.isSafeInteger(logs.from) || logs.from < 0))
					throw new TypeError(
						`Expected the logs' \`from\` to be an integer >= 0, got ${describeValue(logs.from)}`,
					);
			}
		} catch (error) {
			throw new ActuatorError(
				`${method} ${url}: unexpected status answer: ${error instanceof Error ? error.message : String(error)}`,
				{ cause: error },
			);
		}
		log.take(logs, asked);
	}

	/** Send a request; a non-2xx answer that `nonRetryableStatus` picks becomes a `NonRetryableError`. */
	async #request(call: HttpCall, request: JsonRequest): Promise<unknown> {
		try {
			return await requestJson(request, this.#settings);
		} catch (error) {
			if (error instanceof HttpStatusError && this.#options.nonRetryableStatus?.(error.status, call) === true) {
				throw new NonRetryableError(error.message, { cause: error });
			}
			throw error;
		}
	}

	#ref(task: TaskRecord<TItem, TOutput>, call: string): string {
		if (typeof task.ref !== 'string' || task.ref.length === 0) {
			throw new ActuatorError(
				`Cannot ask for the ${call} of task \`${task.id}\`: it has no remote job id (\`ref\`)`,
			);
		}
		return task.ref;
	}

	#refPath(path: RefPath<TItem>, ref: string, task: TaskRecord<TItem, TOutput>): string {
		return typeof path === 'function'
			? path(ref, task as TaskRecord<TItem>)
			: path.split('{ref}').join(encodeURIComponent(ref));
	}

	#url(path: string): string {
		if (/^https?:\/\//i.test(path)) return path;
		return `${this.#settings.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
	}
}
