/**
 * Retention: deleting finished tasks in bulk (`Scheduler.clean`) and in the background, by tasks' own rules
 * (`NewTask.retention`) and the `retention` option, in bounded batches through the container's `clean`, with their
 * persisted outputs. Every scheduler sharing a container runs the background pass (deletes are idempotent), so
 * whichever is alive keeps the store bounded.
 */
import type { Persistencer, TaskContainer } from './contracts.js';
import { ContainerError, describeValue } from './errors.js';
import { rejectUnknownOptions } from './option-names.js';
import { MAX_TIMER_MS } from './timer-limit.js';
import { FINAL_STATUSES, type FinalStatus } from './task.js';

/** How long finished tasks of one status are kept: either rule deletes a task. */
export interface RetentionRule {
	/** Delete tasks finished longer ago than this, in milliseconds. */
	readonly maxAgeMs?: number;
	/** Keep at most this many of the status (the newest by arrival); delete the older ones. */
	readonly maxCount?: number;
}

/** The scheduler's `retention` option: a rule per final status (none: kept until removed), and the pace. */
export interface RetentionOptions {
	/** Succeeded tasks. */
	readonly succeeded?: RetentionRule;
	/** Failed tasks. */
	readonly failed?: RetentionRule;
	/** Stopped tasks. */
	readonly stopped?: RetentionRule;
	/**
	 * How often the background pass runs, in milliseconds (each scheduler, with up to 20% jitter).
	 * @default 60000
	 */
	readonly intervalMs?: number;
	/**
	 * The most tasks one `clean` call deletes: a pass repeats batches until a status is within its rule.
	 * @default 1000
	 */
	readonly batchSize?: number;
}

/** What `Scheduler.clean` takes. */
export interface CleanOptions {
	/** The final status (or statuses) to delete from. */
	readonly status: FinalStatus | readonly FinalStatus[];
	/** Only tasks finished longer ago than this, in milliseconds. */
	readonly olderThanMs?: number;
	/** Keep the newest `keep` tasks (by arrival) of each status. */
	readonly keep?: number;
	/**
	 * The most tasks to delete in all.
	 * @default Infinity
	 */
	readonly limit?: number;
	/**
	 * The most tasks one container call deletes.
	 * @default 1000
	 */
	readonly batchSize?: number;
}

const RULE_NAMES = ['maxAgeMs', 'maxCount'] as const;
const RETENTION_NAMES = [...FINAL_STATUSES, 'intervalMs', 'batchSize'] as const;

function nonNegativeInteger(name: string, value: unknown, min = 0, max?: number): void {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
		const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
		throw new TypeError(`Expected \`${name}\` to be an integer ${range}, got ${describeValue(value)}`);
	}
}

/** Check the `retention` option; a bad field throws a `TypeError` naming it. */
export function checkRetention(retention: unknown): RetentionOptions {
	if (typeof retention !== 'object' || retention === null) {
		throw new TypeError(`Expected \`retention\` to be an object, got ${describeValue(retention)}`);
	}
	rejectUnknownOptions('retention', retention as Record<string, unknown>, RETENTION_NAMES);
	const options = retention as RetentionOptions;
	for (const status of FINAL_STATUSES as readonly FinalStatus[]) {
		const rule = options[status];
		if (rule === undefined) continue;
		if (typeof rule !== 'object' || rule === null) {
			throw new TypeError(`Expected \`retention.${status}\` to be an object, got ${describeValue(rule)}`);
		}
		rejectUnknownOptions(`retention.${status}`, rule as Record<string, unknown>, RULE_NAMES);
		if (rule.maxAgeMs === undefined && rule.maxCount === undefined) {
			throw new TypeError(`Expected \`retention.${status}\` to give \`maxAgeMs\`, \`maxCount\` or both`);
		}
		if (rule.maxAgeMs !== undefined) nonNegativeInteger(`retention.${status}.maxAgeMs`, rule.maxAgeMs);
		if (rule.maxCount !== undefined) nonNegativeInteger(`retention.${status}.maxCount`, rule.maxCount);
	}
	// Bounded by what a timer holds: a longer interval fired at once, and passes ran back to back.
	if (options.intervalMs !== undefined)
		nonNegativeInteger('retention.intervalMs', options.intervalMs, 10, MAX_TIMER_MS);
	if (options.batchSize !== undefined) nonNegativeInteger('retention.batchSize', options.batchSize, 1);
	return options;
}

/** The container's `clean`, or a clear error saying it has none. */
function containerClean(container: TaskContainer): NonNullable<TaskContainer['clean']> {
	if (typeof container.clean !== 'function') {
		throw new ContainerError(
			`This container (${container.constructor.name}) has no \`clean()\`: it cannot delete finished tasks in bulk`,
		);
	}
	return container.clean.bind(container);
}

/**
 * Which tasks a clean looks at, by their own retention rule (`TaskRecord.retention`): `all` (an explicit
 * `Scheduler.clean`: every task the options select), `except-own-rule` (the `retention` option's background pass:
 * tasks with their own rule for the status are neither deleted nor counted), `expired` (the expiry pass: only tasks
 * whose own rule has lapsed; `olderThanMs` and `keep` do not apply).
 */
export type CleanScope = 'all' | 'except-own-rule' | 'expired';

/**
 * Delete finished tasks by `options`, batch after batch, with their persisted outputs. Returns how many were
 * deleted. `onBatch` hears each batch's ids (for the `tasks:cleaned` event).
 */
export async function cleanFinished(
	container: TaskContainer,
	persistencer: Persistencer<unknown> | undefined,
	options: CleanOptions,
	onBatch?: (status: FinalStatus, ids: readonly string[]) => void,
	scope: CleanScope = 'all',
): Promise<number> {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(`Expected the clean options to be an object, got ${describeValue(options)}`);
	}
	rejectUnknownOptions('clean', options as unknown as Record<string, unknown>, [
		'status',
		'olderThanMs',
		'keep',
		'limit',
		'batchSize',
	]);
	const statuses: readonly unknown[] = typeof options.status === 'string' ? [options.status] : options.status;
	if (!Array.isArray(statuses) || statuses.length === 0) {
		throw new TypeError(
			`Expected \`status\` to be a final status or a list of them, got ${describeValue(options.status)}`,
		);
	}
	for (const status of statuses) {
		if (!(FINAL_STATUSES as readonly unknown[]).includes(status)) {
			throw new TypeError(
				`Expected \`status\` to be one of ${FINAL_STATUSES.join(', ')}, got ${describeValue(status)}`,
			);
		}
	}
	if (options.olderThanMs !== undefined) nonNegativeInteger('olderThanMs', options.olderThanMs);
	if (options.keep !== undefined) nonNegativeInteger('keep', options.keep);
	const limit = options.limit ?? Number.POSITIVE_INFINITY;
	if (limit !== Number.POSITIVE_INFINITY) nonNegativeInteger('limit', limit);
	const batchSize = options.batchSize ?? 1000;
	nonNegativeInteger('batchSize', batchSize, 1);
	const clean = containerClean(container);
	const finishedBefore = options.olderThanMs === undefined ? undefined : Date.now() - options.olderThanMs;
	const expiredBy = Date.now();
	let deleted = 0;
	for (const status of statuses as readonly FinalStatus[]) {
		while (deleted < limit) {
			const batch = Math.min(batchSize, limit - deleted);
			const ids = await clean(
				scope === 'expired'
					? { status, limit: batch, expiredBy }
					: {
							status,
							limit: batch,
							...(finishedBefore === undefined ? {} : { finishedBefore }),
							...(options.keep === undefined ? {} : { keep: options.keep }),
							...(scope === 'except-own-rule' ? { exceptOwnRule: true } : {}),
						},
			);
			deleted += ids.length;
			if (persistencer?.delete) for (const id of ids) await persistencer.delete(id);
			if (ids.length > 0) onBatch?.(status, ids);
			if (ids.length < batchSize) break;
		}
	}
	return deleted;
}

/**
 * The background pass every scheduler runs on a container with `clean`: first the expiry of tasks' own rules
 * (`NewTask.retention`, whether or not the `retention` option is given), then the `retention` option's rules, which
 * leave out tasks with their own rule for the status. One timer, a pass at a time, stopped at close.
 */
export class RetentionSweeper {
	readonly #pass: () => Promise<void>;
	readonly #intervalMs: number;
	#timer: NodeJS.Timeout | undefined;
	#running: Promise<void> | undefined;
	#stopped = false;

	constructor(retention: RetentionOptions, clean: (options: CleanOptions, scope: CleanScope) => Promise<unknown>) {
		this.#intervalMs = retention.intervalMs ?? 60_000;
		const batchSize = retention.batchSize ?? 1000;
		const passes: [CleanOptions, CleanScope][] = [];
		// Each status's expired own rules, in bounded batches (idempotent: every scheduler may run them).
		for (const status of FINAL_STATUSES as readonly FinalStatus[]) passes.push([{ status, batchSize }, 'expired']);
		for (const status of FINAL_STATUSES as readonly FinalStatus[]) {
			const rule = retention[status];
			if (rule === undefined) continue;
			// Two calls when both rules are given: the age rule, then the count rule (each deletes what it selects).
			if (rule.maxAgeMs !== undefined)
				passes.push([{ status, olderThanMs: rule.maxAgeMs, batchSize }, 'except-own-rule']);
			if (rule.maxCount !== undefined)
				passes.push([{ status, keep: rule.maxCount, batchSize }, 'except-own-rule']);
		}
		this.#pass = async () => {
			for (const [pass, scope] of passes) {
				if (this.#stopped) return;
				await clean(pass, scope);
			}
		};
	}

	/** Run a first pass soon (jittered, so schedulers started together do not clean together), then every interval. */
	start(): void {
		this.#schedule(Math.floor(Math.random() * Math.min(this.#intervalMs, 1000)));
	}

	#schedule(delay: number): void {
		if (this.#stopped) return;
		this.#timer = setTimeout(() => {
			this.#running = this.#pass()
				.catch(() => undefined)
				.finally(() => {
					this.#running = undefined;
					this.#schedule(Math.floor(this.#intervalMs * (0.8 + Math.random() * 0.2)));
				});
		}, delay);
		this.#timer.unref();
	}

	/** Stop the timer; resolves once a pass in flight ends. */
	async stop(): Promise<void> {
		this.#stopped = true;
		clearTimeout(this.#timer);
		await this.#running?.catch(() => undefined);
	}
}
