/** The scheduler's options, their defaults and their validation. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CallbackReceiver, Persistencer, TaskActuator, TaskContainer } from './contracts.js';
import { describeValue } from './errors.js';
import { assertWellFormed } from './json-check.js';
import { rejectUnknownOptions } from './option-names.js';
import { checkRetention, type RetentionOptions } from './retention.js';
import { checkRateLimit, type RateLimit } from './rate-limit.js';
import { type Backoff, DEFAULT_BACKOFF, validateBackoff } from './retry.js';
import { MAX_TIMER_MS } from './timer-limit.js';

/** What `new Scheduler(options)` takes. Every option is validated; a bad one throws a `TypeError` naming it. */
export interface SchedulerOptions<TItem = unknown, TOutput = unknown> {
	/** Where tasks wait and which state they are in. Closed by `Scheduler.close()`. */
	readonly container: TaskContainer;
	/** What runs a task. Closed by `Scheduler.close()`. */
	readonly actuator: TaskActuator<TItem, TOutput>;
	/** Where outputs go; a task succeeds only once its output is persisted. */
	readonly persistencer?: Persistencer<unknown> | Persistencer<NoInfer<TOutput>>;
	/**
	 * How many tasks this scheduler runs at once.
	 * @default 1
	 */
	readonly concurrency?: number;
	/**
	 * How long one attempt may run, in milliseconds; `0` means no limit. A task's own `timeoutMs` overrides it.
	 * @default 0
	 */
	readonly timeoutMs?: number;
	/**
	 * How many attempts a task gets in all (1 = no retry). A task's own `maxAttempts` overrides it.
	 * @default 1
	 */
	readonly maxAttempts?: number;
	/**
	 * The wait before a retry.
	 * @default { type: 'exponential', delayMs: 1000, maxDelayMs: 60000, jitter: 0.5 }
	 */
	readonly backoff?: Backoff;
	/** Called once for every task that reaches a final status; errors are caught and emitted as `error`. */
	readonly callback?: CallbackReceiver<TItem, TOutput>;
	/**
	 * How often to poll, in milliseconds, where nothing can push: an actuator's `status` and a shared container
	 * without a wake-up channel (or while it is down).
	 * @default 1000
	 */
	readonly pollIntervalMs?: number;
	/**
	 * How long a claim holds without renewal, in milliseconds (shared containers). Renewed every third of it while
	 * the work runs; another scheduler takes the task over once it lapses, and a scheduler that dies has its tasks
	 * run again elsewhere after about 1.5 leases.
	 *
	 * Renewals run on the event loop: synchronous work that blocks it (a CPU-bound function in closure mode) stops
	 * them. A block longer than about two thirds of the lease can let another scheduler take the task over while it
	 * still runs here; the scheduler emits `loop:blocked` for blocks over a third of the lease and reports a lost
	 * lease as a `LeaseLostError` (its late report rejected). The 30 s default (BullMQ's lock) keeps ordinary
	 * synchronous stretches safe; run CPU-bound work in the FunctionActuator's worker-thread form, whose event loop
	 * stays free, rather than raising this further.
	 * @default 30000
	 */
	readonly leaseMs?: number;
	/**
	 * This scheduler's name as a task owner; unique among schedulers sharing a container.
	 * @default `${hostname}:${pid}:${random}`
	 */
	readonly id?: string;
	/**
	 * Start claiming work at once; otherwise call `resume()`.
	 * @default true
	 */
	readonly autoStart?: boolean;
	/**
	 * Delete finished tasks in the background by age and/or count per status (with their persisted outputs), in
	 * bounded batches through the container's `clean`. Every scheduler sharing the container runs the pass.
	 * @default none: finished tasks are kept until removed (memory containers keep their own `keepFinished`)
	 */
	readonly retention?: RetentionOptions;
	/**
	 * At most `max` task starts by this scheduler in any `intervalMs` (a sliding window), on top of `concurrency`.
	 * Tasks held back stay waiting (other schedulers may take them); the scheduler sleeps until the window reopens.
	 * For a limit across every process, see the containers' `rateLimit` option (docs/rate-limits.md).
	 * @default none
	 */
	readonly rateLimit?: RateLimit;
}

/** The options with their defaults applied, as the scheduler uses them (see `SchedulerOptions` for each). */
export interface ResolvedSchedulerOptions<TItem = unknown, TOutput = unknown> {
	/** See `SchedulerOptions.container`. */
	readonly container: TaskContainer;
	/** See `SchedulerOptions.actuator`. */
	readonly actuator: TaskActuator<TItem, TOutput>;
	/** See `SchedulerOptions.persistencer`. */
	readonly persistencer: Persistencer<TOutput> | undefined;
	/** See `SchedulerOptions.concurrency`. */
	readonly concurrency: number;
	/** See `SchedulerOptions.timeoutMs`. */
	readonly timeoutMs: number;
	/** See `SchedulerOptions.maxAttempts`. */
	readonly maxAttempts: number;
	/** See `SchedulerOptions.backoff`. */
	readonly backoff: Backoff;
	/** See `SchedulerOptions.callback`. */
	readonly callback: CallbackReceiver<TItem, TOutput> | undefined;
	/** See `SchedulerOptions.pollIntervalMs`. */
	readonly pollIntervalMs: number;
	/** See `SchedulerOptions.leaseMs`. */
	readonly leaseMs: number;
	/** See `SchedulerOptions.id`. */
	readonly id: string;
	/** See `SchedulerOptions.autoStart`. */
	readonly autoStart: boolean;
	/** See `SchedulerOptions.retention`. */
	readonly retention: RetentionOptions | undefined;
	/** See `SchedulerOptions.rateLimit`. */
	readonly rateLimit: RateLimit | undefined;
}

/** The defaults of the scheduler's options (see `SchedulerOptions` for each). */
export const DEFAULTS = {
	/** See `SchedulerOptions.concurrency`. */
	concurrency: 1,
	/** See `SchedulerOptions.timeoutMs`. */
	timeoutMs: 0,
	/** See `SchedulerOptions.maxAttempts`. */
	maxAttempts: 1,
	/** See `SchedulerOptions.backoff`. */
	backoff: DEFAULT_BACKOFF,
	/** See `SchedulerOptions.pollIntervalMs`. */
	pollIntervalMs: 1000,
	/** See `SchedulerOptions.leaseMs`. */
	leaseMs: 30_000,
	/** See `SchedulerOptions.autoStart`. */
	autoStart: true,
} as const satisfies Partial<SchedulerOptions>;

/** Every option name the Scheduler knows (a misspelt one is rejected, naming the closest). */
const OPTION_NAMES: readonly (keyof SchedulerOptions)[] = [
	'container',
	'actuator',
	'persistencer',
	'concurrency',
	'timeoutMs',
	'maxAttempts',
	'backoff',
	'callback',
	'pollIntervalMs',
	'leaseMs',
	'id',
	'autoStart',
	'retention',
	'rateLimit',
];

function integerAtLeast(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
		const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
		throw new TypeError(`Expected \`${name}\` to be an integer ${range}, got ${describeValue(value)}`);
	}
	return value;
}

/** Check a duration in milliseconds (an integer from `min` up to the largest timer delay). */
export function checkDuration(name: string, value: unknown, min: number): number {
	return integerAtLeast(name, value, min, MAX_TIMER_MS);
}

function hasMethods(name: string, value: unknown, methods: readonly string[]): void {
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`Expected \`${name}\` to be an object, got ${describeValue(value)}`);
	}
	for (const method of methods) {
		if (typeof (value as Record<string, unknown>)[method] !== 'function') {
			throw new TypeError(
				`Expected \`${name}.${method}\` to be a function, got ${describeValue((value as Record<string, unknown>)[method])}`,
			);
		}
	}
}

/** Validate every option and fill in the defaults; throws a `TypeError` naming the first bad field. */
export function resolveOptions<TItem, TOutput>(
	options: SchedulerOptions<TItem, TOutput>,
): ResolvedSchedulerOptions<TItem, TOutput> {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(`Expected \`options\` to be an object, got ${describeValue(options)}`);
	}
	rejectUnknownOptions('Scheduler', options, OPTION_NAMES);
	hasMethods('container', options.container, [
		'add',
		'claim',
		'transition',
		'renew',
		'reclaimExpired',
		'requestStop',
		'nextDueAt',
		'get',
		'list',
		'counts',
		'remove',
		'close',
	]);
	hasMethods('actuator', options.actuator, ['start', 'stop']);
	if (options.persistencer !== undefined) hasMethods('persistencer', options.persistencer, ['persist']);
	if (options.callback !== undefined && typeof options.callback !== 'function') {
		throw new TypeError(`Expected \`callback\` to be a function, got ${describeValue(options.callback)}`);
	}
	const backoff = options.backoff ?? DEFAULTS.backoff;
	validateBackoff(backoff);
	const id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
	if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
		throw new TypeError(
			`Expected \`id\` to be a non-empty string of at most 200 characters, got ${describeValue(id)}`,
		);
	}
	// The id is the owner name stored on every claimed task: a lone surrogate would not survive UTF-8 storage.
	assertWellFormed(id, 'id');
	const autoStart = options.autoStart ?? DEFAULTS.autoStart;
	if (typeof autoStart !== 'boolean') {
		throw new TypeError(`Expected \`autoStart\` to be a boolean, got ${describeValue(autoStart)}`);
	}
	return {
		container: options.container,
		actuator: options.actuator,
		persistencer: options.persistencer as Persistencer<TOutput> | undefined,
		concurrency: integerAtLeast('concurrency', options.concurrency ?? DEFAULTS.concurrency, 1),
		timeoutMs: checkDuration('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs, 0),
		maxAttempts: integerAtLeast('maxAttempts', options.maxAttempts ?? DEFAULTS.maxAttempts, 1),
		backoff,
		callback: options.callback,
		pollIntervalMs: checkDuration('pollIntervalMs', options.pollIntervalMs ?? DEFAULTS.pollIntervalMs, 1),
		leaseMs: checkDuration('leaseMs', options.leaseMs ?? DEFAULTS.leaseMs, 100),
		id,
		autoStart,
		retention: options.retention === undefined ? undefined : checkRetention(options.retention),
		rateLimit: options.rateLimit === undefined ? undefined : checkRateLimit(options.rateLimit),
	};
}
