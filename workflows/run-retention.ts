/**
 * Run retention: deleting finished runs, with their step tasks, by hand (`Workflows.remove`, `Workflows.clean`) and
 * in the background by the `retention` option's rules per final status, as the scheduler's `retention` does for
 * tasks (src/retention.ts). Every process sharing the store may run the background pass: a delete is idempotent,
 * and it deletes a run only as it was listed (the store's `remove` compares its `rev` and `createdAt`), so a run that
 * moved since (retried, even finished again meanwhile; its stop still settling) is left alone, as an open one is.
 */
import { InvalidStateError, type Scheduler } from 'lightsched';
import { MAX_TIMER_MS } from 'lightsched/kit';
import { rejectUnknownOptions } from '../src/option-names.js';
import type { RunRecord, RunStatus, WorkflowStore } from '../src/workflow-store.js';
import { RunStateError } from './errors.js';
import { stepTaskId } from './step-task.js';

/** The final statuses a rule can name. */
export type FinishedRunStatus = Extract<RunStatus, 'succeeded' | 'failed' | 'stopped'>;
const FINISHED: readonly FinishedRunStatus[] = ['succeeded', 'failed', 'stopped'];

/** How long finished runs of one status are kept: either limit deletes a run. */
export interface RunRetentionRule {
	/** Delete runs that finished longer ago than this, in milliseconds. */
	readonly maxAgeMs?: number;
	/** Keep at most this many runs of the status (the newest by creation); delete the older ones. */
	readonly maxCount?: number;
}

/** The `retention` option of `Workflows`: a rule per final status (none: kept until removed), and the pace. */
export interface RunRetentionOptions {
	/** Succeeded runs. */
	readonly succeeded?: RunRetentionRule;
	/** Failed runs. */
	readonly failed?: RunRetentionRule;
	/** Stopped runs. */
	readonly stopped?: RunRetentionRule;
	/**
	 * How often the background pass runs, in milliseconds (each process, with up to 20% jitter).
	 * @default 60000
	 */
	readonly intervalMs?: number;
	/**
	 * How many runs one read of the store lists; a pass reads page after page until each status is within its rule.
	 * @default 500
	 */
	readonly batchSize?: number;
}

/** What `Workflows.clean` takes: one status's rule, optionally for one definition's runs. */
export interface CleanRunsOptions extends RunRetentionRule {
	/** The final status whose runs are deleted. */
	readonly status: FinishedRunStatus;
	/** Only runs of this definition. */
	readonly definition?: string;
	/**
	 * How many runs one read of the store lists (as the `retention` option's `batchSize`).
	 * @default 500
	 */
	readonly batchSize?: number;
}

/** The page size of a clean and of the `retention` pass when none is given. */
export const RUN_BATCH_SIZE = 500;

/** What removing runs needs. */
export interface RunRemovalParts {
	readonly store: WorkflowStore;
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	readonly scheduler: Scheduler<any, any>;
}

function checkCount(field: string, value: unknown, min: number): number {
	if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
		throw new TypeError(`Expected \`${field}\` to be an integer >= ${min}, got ${String(value)}`);
	return value;
}

function checkRule(field: string, rule: unknown): RunRetentionRule {
	if (typeof rule !== 'object' || rule === null)
		throw new TypeError(`Expected \`${field}\` to be an object like { maxAgeMs, maxCount }, got ${String(rule)}`);
	rejectUnknownOptions(field, rule, ['maxAgeMs', 'maxCount']);
	const { maxAgeMs, maxCount } = rule as RunRetentionRule;
	if (maxAgeMs === undefined && maxCount === undefined)
		throw new TypeError(`Expected \`${field}\` to set \`maxAgeMs\`, \`maxCount\` or both`);
	if (maxAgeMs !== undefined) checkCount(`${field}.maxAgeMs`, maxAgeMs, 0);
	if (maxCount !== undefined) checkCount(`${field}.maxCount`, maxCount, 0);
	return { ...(maxAgeMs === undefined ? {} : { maxAgeMs }), ...(maxCount === undefined ? {} : { maxCount }) };
}

/** The `retention` option checked: its rules by status, its interval and batch size. */
export interface CheckedRetention {
	readonly rules: readonly (readonly [FinishedRunStatus, RunRetentionRule])[];
	readonly intervalMs: number;
	readonly batchSize: number;
}

/** Check the `retention` option of `Workflows`; a `TypeError` names the field and what it expected. */
export function checkRunRetention(value: unknown): CheckedRetention {
	if (typeof value !== 'object' || value === null)
		throw new TypeError(
			`Expected \`retention\` to be an object like { failed: { maxAgeMs } }, got ${String(value)}`,
		);
	rejectUnknownOptions('retention', value, [...FINISHED, 'intervalMs', 'batchSize']);
	const options = value as RunRetentionOptions;
	const rules = FINISHED.flatMap((status) =>
		options[status] === undefined ? [] : [[status, checkRule(`retention.${status}`, options[status])] as const],
	);
	const intervalMs =
		options.intervalMs === undefined ? 60_000 : checkCount('retention.intervalMs', options.intervalMs, 10);
	if (intervalMs > MAX_TIMER_MS)
		throw new TypeError(`Expected \`retention.intervalMs\` to be at most ${MAX_TIMER_MS}, got ${intervalMs}`);
	const batchSize =
		options.batchSize === undefined ? RUN_BATCH_SIZE : checkCount('retention.batchSize', options.batchSize, 1);
	return { rules, intervalMs, batchSize };
}

/** Check what `Workflows.clean` takes; the result has its `batchSize` (the default when none). */
export function checkCleanRuns(options: unknown): CleanRunsOptions {
	if (typeof options !== 'object' || options === null)
		throw new TypeError(
			`Expected the options of clean to be an object like { status, maxAgeMs }, got ${String(options)}`,
		);
	rejectUnknownOptions('clean', options, ['status', 'definition', 'maxAgeMs', 'maxCount', 'batchSize']);
	const { status, definition, batchSize, ...rule } = options as CleanRunsOptions;
	if (!FINISHED.includes(status))
		throw new TypeError(`Expected \`status\` to be one of ${FINISHED.join(', ')}, got ${String(status)}`);
	if (definition !== undefined && typeof definition !== 'string')
		throw new TypeError(`Expected \`definition\` to be a string, got ${String(definition)}`);
	return {
		status,
		...(definition === undefined ? {} : { definition }),
		...checkRule('clean', rule),
		batchSize: batchSize === undefined ? RUN_BATCH_SIZE : checkCount('batchSize', batchSize, 1),
	};
}

/**
 * Delete the finished run `runId` and then its step tasks (every generation's). Resolves `false` when there is no
 * such run; rejects with `RunStateError` when the run is not finished (or its last moves are still settling). A step
 * task that is not finished (which a finished run does not have) is left alone. The run is deleted as it was read
 * (a compare-and-set), so the step tasks deleted are those of the run deleted: one that changed since it was read
 * (retried and finished again) is read again.
 */
export async function removeRun(parts: RunRemovalParts, runId: string): Promise<boolean> {
	for (;;) {
		const run = await parts.store.get(runId);
		if (run === null) return false;
		if (await parts.store.remove(runId, run)) {
			await removeStepTasks(parts, run);
			return true;
		}
	}
}

async function removeStepTasks(parts: RunRemovalParts, run: RunRecord): Promise<void> {
	for (const [stepId, step] of Object.entries(run.steps))
		for (let generation = 1; generation <= step.generation; generation++)
			try {
				await parts.scheduler.remove(stepTaskId(run.id, stepId, generation));
			} catch (error) {
				if (!(error instanceof InvalidStateError)) throw error;
			}
}

/**
 * Remove `run` as listed (a compare-and-set on its `rev` and `createdAt`); `false` when the store refuses it now: it
 * is gone, or moved since it was listed (open again, or retried and finished again: not the run the rule selected).
 */
async function removeListed(parts: RunRemovalParts, run: RunRecord): Promise<boolean> {
	try {
		if (!(await parts.store.remove(run.id, run))) return false;
	} catch (error) {
		if (error instanceof RunStateError) return false;
		throw error;
	}
	await removeStepTasks(parts, run);
	return true;
}

/** What a pass does with a run its rule selects. */
interface Removal {
	/** Delete the run (or, in a dry run, say whether it would be): `false` when the store refuses it (it is open). */
	take(run: RunRecord): Promise<boolean>;
	/** Whether a taken run leaves the listing: a delete; a dry run's runs stay listed. */
	readonly leaves: boolean;
}

/** Whether `run` is past an age rule's `cutoff`: created before it (how it is listed) and finished by it. */
function agedOut(run: RunRecord, cutoff: number): boolean {
	return run.createdAt < cutoff && (run.finishedAt ?? run.updatedAt) <= cutoff;
}

/** The rule of `clean` and of the `retention` option, deleting or counting by `removal`. */
async function applyRule(
	parts: RunRemovalParts,
	options: CleanRunsOptions,
	now: number,
	batchSize: number,
	stop: () => boolean,
	removal: Removal,
): Promise<number> {
	const { status, definition, maxAgeMs, maxCount } = options;
	const filter = { status, ...(definition === undefined ? {} : { definition }) };
	const cutoff = maxAgeMs === undefined ? undefined : now - maxAgeMs;
	let taken = 0;
	if (cutoff !== undefined) {
		// A run is created before it finishes, so those created before the cutoff are the candidates; each is taken
		// once it also finished before it. The ones kept (finished later, or moved again) stay in the listing.
		for (let offset = 0; !stop();) {
			const { runs } = await parts.store.list({ ...filter, to: cutoff, order: 'asc', offset, limit: batchSize });
			for (const run of runs) {
				if (stop()) return taken;
				if (agedOut(run, cutoff) && (await removal.take(run))) {
					taken++;
					if (removal.leaves) continue;
				}
				offset++;
			}
			if (runs.length < batchSize) break;
		}
	}
	if (maxCount !== undefined) {
		// The newest `maxCount` left are kept; every older one (and any the store refuses) is taken. Deleted by age,
		// a run has left the listing, so the pass starts past the kept ones; in a dry run the runs counted by age are
		// still listed: the pass starts at the newest and passes over them.
		const countedByAge = (run: RunRecord): boolean =>
			!removal.leaves && cutoff !== undefined && agedOut(run, cutoff) && !run.open;
		const fromNewest = !removal.leaves && cutoff !== undefined;
		let keep = fromNewest ? maxCount : 0;
		for (let offset = fromNewest ? 0 : maxCount; !stop();) {
			const { runs } = await parts.store.list({ ...filter, order: 'desc', offset, limit: batchSize });
			for (const run of runs) {
				if (stop()) return taken;
				if (countedByAge(run)) {
					offset++;
					continue;
				}
				if (keep > 0) keep--;
				else if (await removal.take(run)) {
					taken++;
					if (removal.leaves) continue;
				}
				offset++;
			}
			if (runs.length < batchSize) break;
		}
	}
	return taken;
}

/**
 * Delete the runs of `options.status` (and `definition`) beyond its rule, at `now`, reading `options.batchSize` runs
 * a page (else `batchSize`: the `retention` option's). Resolves with how many it deleted. `stop()` says to end early
 * (the instance is closing).
 */
export function cleanRuns(
	parts: RunRemovalParts,
	options: CleanRunsOptions,
	now: number,
	batchSize: number = RUN_BATCH_SIZE,
	stop: () => boolean = () => false,
): Promise<number> {
	return applyRule(parts, options, now, options.batchSize ?? batchSize, stop, {
		take: (run) => removeListed(parts, run),
		leaves: true,
	});
}

/**
 * What `cleanRuns` would delete now, counted and not deleted (`lightsched runs clean --dry-run`): the runs its rule
 * selects that the store would let go (not open), read as `cleanRuns` reads them.
 */
export function countCleanRuns(parts: RunRemovalParts, options: CleanRunsOptions, now: number): Promise<number> {
	return applyRule(parts, options, now, options.batchSize ?? RUN_BATCH_SIZE, () => false, {
		take: async (run) => !run.open,
		leaves: false,
	});
}

/** The background pass of the `retention` option: one timer a process, one pass at a time. */
export class RunRetention {
	readonly #parts: RunRemovalParts;
	readonly #retention: CheckedRetention;
	readonly #onError: (error: Error) => void;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#pass: Promise<void> | undefined;
	#closed = false;

	constructor(parts: RunRemovalParts, retention: CheckedRetention, onError: (error: Error) => void) {
		this.#parts = parts;
		this.#retention = retention;
		this.#onError = onError;
		if (retention.rules.length > 0) this.#schedule();
	}

	/** One pass over every rule now (also what the timer runs). Resolves with how many runs it deleted. */
	async pass(): Promise<number> {
		let removed = 0;
		const now = Date.now();
		for (const [status, rule] of this.#retention.rules) {
			if (this.#closed) break;
			removed += await cleanRuns(
				this.#parts,
				{ status, ...rule },
				now,
				this.#retention.batchSize,
				() => this.#closed,
			);
		}
		return removed;
	}

	/** Stop the timer and wait for a pass in flight. */
	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#timer);
		await this.#pass;
	}

	#schedule(): void {
		const { intervalMs } = this.#retention;
		this.#timer = setTimeout(
			() => {
				this.#pass = this.pass().then(
					() => undefined,
					(error: unknown) => {
						if (!this.#closed) this.#onError(error instanceof Error ? error : new Error(String(error)));
					},
				);
				void this.#pass.then(() => {
					if (!this.#closed) this.#schedule();
				});
			},
			// At most a timer's longest delay: a longer one fires at once (Node makes it 1 ms), a pass after another.
			Math.min(MAX_TIMER_MS, Math.round(intervalMs * (1 + Math.random() * 0.2))),
		);
		this.#timer.unref?.();
	}
}
