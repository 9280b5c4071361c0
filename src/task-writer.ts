/**
 * Storing an attempt's outcome: stop the work when needed, fetch and persist the output, and move the task
 * to its next status by compare-and-set, retrying a storage blip so a task never stays `running`. Returns
 * what happened, for the scheduler to report; writes nothing but the container and the persistencer.
 */
import type { AttemptOutcome } from './attempt.js';
import type { Persistencer, TaskActuator, TaskContainer } from './contracts.js';
import { NonRetryableError, SchedulerError, toError, toTaskError } from './errors.js';
import { backoffDelay, type Backoff } from './retry.js';
import type { TaskPatch, TaskRecord, TaskStatus } from './task.js';

/** What storing an outcome led to; `null` fields mean the compare-and-set lost (someone else moved the task). */
export type StoredOutcome =
	| { readonly kind: 'succeeded'; readonly task: TaskRecord; readonly output: unknown }
	| { readonly kind: 'retrying'; readonly task: TaskRecord; readonly error: Error; readonly delayMs: number }
	| { readonly kind: 'failed'; readonly task: TaskRecord; readonly error: Error }
	| { readonly kind: 'stopped'; readonly task: TaskRecord }
	| { readonly kind: 'none' };

export interface OutcomeWriterParts {
	readonly container: TaskContainer;
	readonly actuator: TaskActuator;
	readonly persistencer: Persistencer | undefined;
	readonly backoff: Backoff;
	readonly owner: string;
	/** Report a problem that does not change the outcome (a failed `stop`, a storage blip). */
	readonly report: (error: unknown, context?: string) => void;
	/** Whether the scheduler is closing: storage blips are then retried once only. */
	readonly closing: () => boolean;
}

const NONE: StoredOutcome = { kind: 'none' };

function isNonRetryable(error: Error): boolean {
	return error instanceof NonRetryableError || (error as { code?: unknown }).code === 'ERR_NON_RETRYABLE';
}

export class OutcomeWriter {
	readonly #p: OutcomeWriterParts;

	constructor(parts: OutcomeWriterParts) {
		this.#p = parts;
	}

	write(task: TaskRecord, ref: unknown, outcome: AttemptOutcome): Promise<StoredOutcome> {
		// The common case, kept to one small async frame: a success with its output in hand and nowhere to export it.
		if (outcome.kind === 'succeeded' && this.#p.persistencer === undefined && (outcome.hasOutput || !this.#p.actuator.output)) {
			return this.#succeed(task, ref, outcome.output);
		}
		return this.#write(task, ref, outcome);
	}

	/** Store a success (from running, or from exporting once persisted); a write that keeps failing fails the attempt. */
	async #succeed(task: TaskRecord, ref: unknown, output: unknown, from: 'running' | 'exporting' = 'running'): Promise<StoredOutcome> {
		let failure: Error;
		try {
			const done = await this.#move(task.id, from, 'succeeded', successPatch(output, ref));
			return done ? { kind: 'succeeded', task: done, output } : NONE;
		} catch (error) {
			failure = toError(error);
		}
		return this.#failOrRetry(task, ref, from, failure);
	}

	async #write(task: TaskRecord, ref: unknown, outcome: AttemptOutcome): Promise<StoredOutcome> {
		const { actuator, persistencer, report } = this.#p;
		const id = task.id;
		const stopWork =
			outcome.kind === 'stopped' ||
			outcome.kind === 'handback' ||
			outcome.kind === 'lost' ||
			(outcome.kind === 'failed' && outcome.stopWork);
		if (stopWork) {
			try {
				await actuator.stop(task);
			} catch (error) {
				report(error, `stopping task ${id} failed`);
			}
			// A start still in flight when the stop came has returned by now: its ref (set on the task by the
			// scheduler) names the work that was stopped.
			if (ref === undefined && task.ref != null) ref = task.ref;
		}
		const refPatch: TaskPatch = ref === undefined ? {} : { ref };
		switch (outcome.kind) {
			case 'lost':
				report(new SchedulerError(`Lost the lease on task ${id}; another scheduler runs it now`, { code: 'ERR_LEASE_EXPIRED' }));
				return NONE;
			case 'handback':
				await this.#move(id, 'running', 'waiting', {
					...refPatch,
					attempts: Math.max(0, task.attempts - 1),
					owner: null,
					leaseUntil: null,
					runAt: Date.now(),
				});
				return NONE;
			case 'stopped': {
				const stopped = await this.#move(id, 'running', 'stopped', { ...refPatch, finishedAt: Date.now(), owner: null, leaseUntil: null });
				return stopped ? { kind: 'stopped', task: stopped } : NONE;
			}
			default:
				break;
		}
		if (outcome.kind !== 'succeeded') return this.#failOrRetry(task, ref, 'running', outcome.error);
		let from: 'running' | 'exporting' = 'running';
		let output = outcome.output;
		try {
			if (!outcome.hasOutput && actuator.output) output = await actuator.output(task);
			if (persistencer) {
				const exporting = await this.#move(id, 'running', 'exporting', refPatch);
				if (exporting === null) return NONE;
				from = 'exporting';
				try {
					await persistencer.persist(exporting, output);
				} catch (error) {
					throw new SchedulerError(`Persisting the output failed: ${toError(error).message}`, { code: 'ERR_PERSIST', cause: error });
				}
			}
		} catch (error) {
			return this.#failOrRetry(task, ref, from, toError(error));
		}
		return this.#succeed(task, ref, output, from);
	}

	/** After a failed attempt (or a success that could not be stored): waiting again for a retry, or failed. */
	async #failOrRetry(task: TaskRecord, ref: unknown, from: 'running' | 'exporting', failure: Error): Promise<StoredOutcome> {
		const id = task.id;
		const refPatch: TaskPatch = ref === undefined ? {} : { ref };
		const now = Date.now();
		if (!isNonRetryable(failure) && task.attempts < task.maxAttempts) {
			const delayMs = backoffDelay(this.#p.backoff, task.attempts, failure);
			const waiting = await this.#move(id, from, 'waiting', {
				...refPatch,
				error: toTaskError(failure),
				runAt: now + delayMs,
				owner: null,
				leaseUntil: null,
			});
			return waiting ? { kind: 'retrying', task: waiting, error: failure, delayMs } : NONE;
		}
		const failed = await this.#move(id, from, 'failed', {
			...refPatch,
			error: toTaskError(failure),
			finishedAt: now,
			owner: null,
			leaseUntil: null,
		});
		return failed ? { kind: 'failed', task: failed, error: failure } : NONE;
	}

	/**
	 * A compare-and-set move of the caller's task, retrying a storage error a few times with backoff. A write that
	 * failed may have been applied all the same (the reply was lost): when its retry finds the task moved, and moved
	 * by this very write, that is the outcome, not a lost race, so its events still fire.
	 */
	#move(id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch): Promise<TaskRecord | null> {
		return this.#p.container.transition(id, from, to, patch, this.#p.owner).catch((error: unknown) => this.#moveAgain(id, from, to, patch, error));
	}

	/** The retries of a move whose first write failed: up to 4 more (1 while closing), 50 ms × 4ⁿ apart. */
	async #moveAgain(id: string, from: TaskStatus, to: TaskStatus, patch: TaskPatch, firstError: unknown): Promise<TaskRecord | null> {
		const { container, owner } = this.#p;
		let error = firstError;
		for (let attempt = 1; ; attempt++) {
			if (attempt > 4 || (this.#p.closing() && attempt > 1)) throw error;
			this.#p.report(error, 'container write failed, retrying');
			await new Promise((resolve) => setTimeout(resolve, 50 * 4 ** (attempt - 1)));
			try {
				const moved = await container.transition(id, from, to, patch, owner);
				if (moved !== null) return moved;
				const now = await container.get(id);
				return now !== null && wasApplied(now, to, patch) ? now : null;
			} catch (retryError) {
				error = retryError;
			}
		}
	}
}

/** The patch that stores a success: the output (`null` for none), no error, finished now, no owner nor lease. */
export function successPatch(output: unknown, ref: unknown): TaskPatch {
	const patch: TaskPatch = { output: output ?? null, error: null, finishedAt: Date.now(), owner: null, leaseUntil: null };
	if (ref !== undefined) patch.ref = ref;
	return patch;
}

/**
 * Whether `task` is in `to` with every plain field of `patch`, including a time only this write set (`finishedAt`,
 * `runAt`: milliseconds taken when the write was made); without such a time nothing tells this write apart.
 */
function wasApplied(task: TaskRecord, to: TaskStatus, patch: TaskPatch): boolean {
	if (task.status !== to || (patch.finishedAt == null && patch.runAt === undefined)) return false;
	for (const [key, value] of Object.entries(patch)) {
		if (value !== null && typeof value === 'object') continue;
		if (task[key as keyof TaskRecord] !== value) return false;
	}
	return true;
}
