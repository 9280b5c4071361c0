/**
 * `FunctionActuator`: runs a plain sync or async function, `fn(item, { signal, progress, log, task })`.
 *
 * Given a closure it runs in the scheduler's thread: a timeout or `stop` aborts `signal`, but a function
 * that ignores its signal keeps running (its slot is freed and its late result dropped). Given a module
 * path and an export name instead, it runs each call in a worker thread, and a timeout or `stop`
 * terminates the thread for real.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
	ActuatorError,
	copyTask,
	NonRetryableError,
	rejectUnknownOptions,
	type ActuatorContext,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched/kit';
import { WORKER_SOURCE } from './function/worker-source.js';

/** What the function receives besides the item. */
export interface FunctionContext<TItem = unknown> {
	/** Aborts on timeout, `stop` or close; `signal.reason` says why. */
	readonly signal: AbortSignal;
	/** Report progress (any JSON value). */
	progress(progress: unknown): void;
	/** Append a line to the task's log (stored where the container keeps logs, read back with `getLogs`). */
	log(line: string): void;
	/** The task record of this attempt (its `attempts` says which attempt this is). */
	readonly task: TaskRecord<TItem>;
}

/** The work a `FunctionActuator` runs: `fn(item, { signal, progress, task })`, sync or async; a throw fails the attempt. */
export type TaskFunction<TItem = unknown, TOutput = unknown> = (
	item: TItem,
	ctx: FunctionContext<TItem>,
) => TOutput | PromiseLike<TOutput>;

/**
 * Memory limits of a worker thread, as Node's `worker_threads` `ResourceLimits` (declared here so the
 * package's types do not need `@types/node`).
 */
export interface WorkerResourceLimits {
	/** The maximum size of the main heap, in MB. */
	readonly maxOldGenerationSizeMb?: number;
	/** The maximum size of the heap space for recently created objects, in MB. */
	readonly maxYoungGenerationSizeMb?: number;
	/** The size of the memory range used for generated code, in MB. */
	readonly codeRangeSizeMb?: number;
	/** The default maximum stack size of the thread, in MB. */
	readonly stackSizeMb?: number;
}

/** Run the function in worker threads, loaded from a module. */
export interface WorkerFunctionOptions {
	/**
	 * The module: an absolute path, a path relative to the current directory, or a `file:` URL. JavaScript, or
	 * TypeScript (`.ts`, `.mts`, `.cts`) when the app has tsx installed: Node 20 ignores `--import` in a worker
	 * thread's `execArgv`, so a module Node cannot load by itself is loaded through tsx's API.
	 */
	readonly module: string | URL;
	/**
	 * The export to call.
	 * @default 'default'
	 */
	readonly export?: string;
	/**
	 * Finished threads kept for the next task (threads that were terminated are never reused).
	 * @default 4
	 */
	readonly maxIdleWorkers?: number;
	/** Node options for the threads (`--require` preloads, `--max-old-space-size`…). */
	readonly execArgv?: readonly string[];
	/** Memory limits for each thread. */
	readonly resourceLimits?: WorkerResourceLimits;
}

interface SerializedError {
	readonly message: string;
	readonly name: string;
	readonly code?: unknown;
	readonly stack?: string;
}

type WorkerMessage =
	| { readonly type: 'progress'; readonly progress: unknown }
	| { readonly type: 'log'; readonly line: string }
	| { readonly type: 'done'; readonly ok: true; readonly output: unknown }
	| { readonly type: 'done'; readonly ok: false; readonly error: SerializedError };

const WORKER_OPTION_NAMES = ['module', 'export', 'maxIdleWorkers', 'execArgv', 'resourceLimits'] as const;
const RESOURCE_LIMIT_NAMES = [
	'maxYoungGenerationSizeMb',
	'maxOldGenerationSizeMb',
	'codeRangeSizeMb',
	'stackSizeMb',
] as const;

function revive(error: SerializedError): Error {
	const revived =
		error.name === 'NonRetryableError' || error.code === 'ERR_NON_RETRYABLE'
			? new NonRetryableError(error.message)
			: Object.assign(new Error(error.message), typeof error.code === 'string' ? { code: error.code } : {});
	if (error.name !== revived.name && error.name !== 'Error') revived.name = error.name;
	if (error.stack !== undefined) revived.stack = error.stack;
	return revived;
}

/**
 * The function's context. `signal` is read through to the attempt lazily (abort controllers are costly), `task` is
 * a copy made when first read (the scheduler's record stays the scheduler's), and `progress` is bound on first use.
 */
class CallContext<TItem> implements FunctionContext<TItem> {
	readonly #record: TaskRecord<TItem>;
	readonly #ctx: ActuatorContext<never>;
	#task: TaskRecord<TItem> | undefined;
	#progress: ((progress: unknown) => void) | undefined;
	#log: ((line: string) => void) | undefined;

	constructor(record: TaskRecord<TItem>, ctx: ActuatorContext<never>) {
		this.#record = record;
		this.#ctx = ctx;
	}

	get signal(): AbortSignal {
		return this.#ctx.signal;
	}

	get task(): TaskRecord<TItem> {
		return (this.#task ??= copyTask(this.#record));
	}

	/** A bound function, so `({ progress }) => progress(x)` works. */
	get progress(): (progress: unknown) => void {
		return (this.#progress ??= (progress: unknown): void => this.#ctx.progress(progress));
	}

	/** A bound function, so `({ log }) => log('…')` works. */
	get log(): (line: string) => void {
		return (this.#log ??= (line: string): void => this.#ctx.log?.(line));
	}
}

export class FunctionActuator<TItem = unknown, TOutput = unknown> implements TaskActuator<TItem, TOutput> {
	readonly #fn: TaskFunction<TItem, TOutput> | undefined;
	readonly #workerOptions:
		| (Required<Omit<WorkerFunctionOptions, 'resourceLimits' | 'module'>> & {
				module: string;
				resourceLimits: WorkerResourceLimits | undefined;
		  })
		| undefined;
	readonly #busy = new Map<string, Worker>();
	readonly #idle: Worker[] = [];
	#closed = false;

	constructor(fn: TaskFunction<TItem, TOutput>);
	constructor(options: WorkerFunctionOptions);
	constructor(fnOrOptions: TaskFunction<TItem, TOutput> | WorkerFunctionOptions) {
		if (typeof fnOrOptions === 'function') {
			this.#fn = fnOrOptions;
			return;
		}
		if (typeof fnOrOptions !== 'object' || fnOrOptions === null) {
			throw new TypeError('Expected a function or `{ module, export? }` for FunctionActuator');
		}
		rejectUnknownOptions('FunctionActuator', fnOrOptions, WORKER_OPTION_NAMES);
		const {
			module,
			export: exportName = 'default',
			maxIdleWorkers = 4,
			execArgv = [],
			resourceLimits,
		} = fnOrOptions;
		let url: string;
		if (module instanceof URL) url = module.href;
		else if (typeof module === 'string' && module.length > 0) {
			url = module.startsWith('file:')
				? module
				: pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
		} else {
			throw new TypeError(`Expected \`module\` to be a path or a file URL, got ${typeof module}`);
		}
		if (typeof exportName !== 'string' || exportName.length === 0) {
			throw new TypeError('Expected `export` to be a non-empty string');
		}
		if (!Number.isInteger(maxIdleWorkers) || maxIdleWorkers < 0) {
			throw new TypeError(`Expected \`maxIdleWorkers\` to be an integer >= 0, got ${String(maxIdleWorkers)}`);
		}
		if (!Array.isArray(execArgv) || execArgv.some((arg) => typeof arg !== 'string')) {
			throw new TypeError("Expected `execArgv` to be an array of strings, such as `['--import', 'tsx']`");
		}
		if (resourceLimits !== undefined) {
			if (typeof resourceLimits !== 'object' || resourceLimits === null)
				throw new TypeError('Expected `resourceLimits` to be an object');
			rejectUnknownOptions('FunctionActuator `resourceLimits`', resourceLimits, RESOURCE_LIMIT_NAMES);
		}
		this.#workerOptions = { module: url, export: exportName, maxIdleWorkers, execArgv, resourceLimits };
	}

	/** Threads currently running a task (worker mode). */
	get busyWorkers(): number {
		return this.#busy.size;
	}

	start(task: TaskRecord<TItem, TOutput>, ctx: ActuatorContext<TOutput>): void {
		if (this.#fn === undefined) {
			this.#startInWorker(task, ctx);
			return;
		}
		let result: TOutput | PromiseLike<TOutput>;
		try {
			result = this.#fn(task.item, new CallContext(task, ctx as ActuatorContext<never>));
		} catch (error) {
			ctx.done({ ok: false, error });
			return;
		}
		if (
			result !== null &&
			typeof result === 'object' &&
			typeof (result as PromiseLike<TOutput>).then === 'function'
		) {
			(result as PromiseLike<TOutput>).then(
				(output) => ctx.done({ ok: true, output }),
				(error: unknown) => ctx.done({ ok: false, error }),
			);
		} else {
			ctx.done({ ok: true, output: result as TOutput });
		}
	}

	/** Closures are stopped by their signal (aborted by the scheduler); threads are terminated. */
	async stop(task: TaskRecord<TItem, TOutput>): Promise<void> {
		const worker = this.#busy.get(task.id);
		if (worker === undefined) return;
		this.#busy.delete(task.id);
		await worker.terminate();
	}

	async close(): Promise<void> {
		this.#closed = true;
		const all = [...this.#busy.values(), ...this.#idle.splice(0)];
		this.#busy.clear();
		await Promise.all(all.map((worker) => worker.terminate()));
	}

	#startInWorker(task: TaskRecord<TItem, TOutput>, ctx: ActuatorContext<TOutput>): void {
		const options = this.#workerOptions;
		if (options === undefined || this.#closed) throw new ActuatorError('The function actuator is closed');
		const worker =
			this.#idle.pop() ??
			new Worker(WORKER_SOURCE, {
				eval: true,
				workerData: { module: options.module, exportName: options.export },
				execArgv: [...options.execArgv],
				...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
			});
		worker.ref();
		this.#busy.set(task.id, worker);
		let finished = false;
		const finish = (): void => {
			finished = true;
			worker.off('message', onMessage);
			worker.off('error', onError);
			worker.off('exit', onExit);
			ctx.signal.removeEventListener('abort', onAbort);
			if (this.#busy.get(task.id) === worker) this.#busy.delete(task.id);
		};
		const onMessage = (message: WorkerMessage): void => {
			if (message.type === 'progress') {
				ctx.progress(message.progress);
				return;
			}
			if (message.type === 'log') {
				ctx.log?.(message.line);
				return;
			}
			finish();
			if (!this.#closed && this.#idle.length < options.maxIdleWorkers) {
				worker.unref();
				this.#idle.push(worker);
			} else void worker.terminate();
			if (message.ok) ctx.done({ ok: true, output: message.output as TOutput });
			else ctx.done({ ok: false, error: revive(message.error) });
		};
		const onError = (error: Error): void => {
			if (finished) return;
			finish();
			void worker.terminate();
			ctx.done({ ok: false, error });
		};
		const onExit = (code: number): void => {
			if (finished) return;
			finish();
			ctx.done({
				ok: false,
				error: new ActuatorError(`The worker thread exited with code ${code} before the function returned`),
			});
		};
		const onAbort = (): void => {
			const reason = ctx.signal.reason as unknown;
			worker.postMessage({ type: 'abort', reason: reason instanceof Error ? reason.message : String(reason) });
		};
		worker.on('message', onMessage);
		worker.on('error', onError);
		worker.on('exit', onExit);
		ctx.signal.addEventListener('abort', onAbort, { once: true });
		worker.postMessage({ type: 'run', item: task.item, task });
	}
}
