/**
 * Retention: deleting finished tasks in bulk (`Scheduler.clean`) and in the background by the `retention` option,
 * in bounded batches through the container's `clean`, with their persisted outputs. Every scheduler sharing a
 * container runs the background pass (deletes are idempotent), so whichever is alive keeps the store bounded.
 */
import type { Persistencer, TaskContainer } from './contracts.js';
import { ContainerError, describeValue } from './errors.js';
import { rejectUnknownOptions } from './option-names.js';
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

function nonNegativeInteger(name: string, value: unknown, min = 0): void {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
		throw new TypeError(`Expected \`${name}\` to be an integer >= ${min}, got ${describeValue(value)}`);
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
	if (options.intervalMs !== undefined) nonNegativeInteger('retention.intervalMs', options.intervalMs, 10);
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
 * Delete finished tasks by `options`, batch after batch, with their persisted outputs. Returns how many were
 * deleted. `onBatch` hears each batch's ids (for the `tasks:cleaned` event).
 */
export async function cleanFinished(
	container: TaskContainer,
	persistencer: Persistencer<unknown> | undefined,
	options: CleanOptions,
	onBatch?: (status: FinalStatus, ids: readonly string[]) => void,
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
	let deleted = 0;
	for (const status of statuses as readonly FinalStatus[]) {
		while (deleted < limit) {
			const ids = await clean({
				status,
				limit: Math.min(batchSize, limit - deleted),
				...(finishedBefore === undefined ? {} : { finishedBefore }),
				...(options.keep === undefined ? {} : { keep: options.keep }),
			});
			deleted += ids.length;
			if (persistencer?.delete) for (const id of ids) await persistencer.delete(id);
			if (ids.length > 0) onBatch?.(status, ids);
			if (ids.length < batchSize) break;
		}
	}
	return deleted;
}

/** The background pass of the `retention` option: one timer, a pass at a time, stopped at close. */
export class RetentionSweeper {
	readonly #pass: () => Promise<void>;
	readonly #intervalMs: number;
	#timer: NodeJS.Timeout | undefined;
	#running: Promise<void> | undefined;
	#stopped = false;

	constructor(retention: RetentionOptions, clean: (options: CleanOptions) => Promise<unknown>) {
		this.#intervalMs = retention.intervalMs ?? 60_000;
		const batchSize = retention.batchSize ?? 1000;
		const passes: CleanOptions[] = [];
		for (const status of FINAL_STATUSES as readonly FinalStatus[]) {
			const rule = retention[status];
			if (rule === undefined) continue;
			// Two calls when both rules are given: the age rule, then the count rule (each deletes what it selects).
			if (rule.maxAgeMs !== undefined) passes.push({ status, olderThanMs: rule.maxAgeMs, batchSize });
			if (rule.maxCount !== undefined) passes.push({ status, keep: rule.maxCount, batchSize });
		}
		this.#pass = async () => {
			for (const pass of passes) {
				if (this.#stopped) return;
				await clean(pass);
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
