/**
 * Every write a scheduler makes to its container goes through here: adding tasks, stopping a waiting task,
 * asking another owner to stop, storing an attempt's ref and progress, handing a claimed task back, and
 * storing an attempt's outcome (stop the work when needed, fetch and persist the output, then move the task
 * by compare-and-set, retrying a storage blip so a task never stays `running`). Each move's patch is built by
 * `task-moves.ts`, the one definition of the state machine's moves. Returns what happened, for the scheduler
 * to report; writes nothing but the container and the persistencer.
 */
import type { AttemptOutcome } from './attempt.js';
import type { ClaimGuard, Persistencer, TaskActuator, TaskContainer } from './contracts.js';
import { NonRetryableError, PersistError, toError } from './errors.js';
import { backoffDelay, type Backoff } from './retry.js';
import {
	type ActiveStatus,
	exportPatch,
	failPatch,
	handBackPatch,
	isSameClaim,
	retryPatch,
	stopPatch,
	successPatch,
} from './task-moves.js';
import type { TaskPatch, TaskRecord, TaskStatus } from './task.js';

/**
 * What storing an outcome led to. `lost`: the task is no longer this owner's (its lease lapsed and the task was
 * reclaimed): nothing was stored; `rejected` names the status the owner's late report would have moved it to
 * (`null` when a renewal told the owner first). `none`: nothing to tell.
 */
export type StoredOutcome =
	| { readonly kind: 'succeeded'; readonly task: TaskRecord; readonly output: unknown }
	| { readonly kind: 'retrying'; readonly task: TaskRecord; readonly error: Error; readonly delayMs: number }
	| { readonly kind: 'failed'; readonly task: TaskRecord; readonly error: Error }
	| { readonly kind: 'stopped'; readonly task: TaskRecord }
	| { readonly kind: 'lost'; readonly id: string; readonly rejected: TaskStatus | null }
	| { readonly kind: 'none' };

export interface TaskWriterParts {
	readonly container: TaskContainer;
	readonly actuator: TaskActuator;
	readonly persistencer: Persistencer | undefined;
	readonly backoff: Backoff;
	readonly owner: string;
	/** Report a problem that does not change the outcome (an actuator's `stop` that threw). */
	readonly report: (error: unknown, context?: string) => void;
	/** A container write failed and is retried (reported once per outage). */
	readonly writeFailed: (operation: string, error: unknown) => void;
	/** Whether the scheduler is closing: storage blips are then retried once only. */
	readonly closing: () => boolean;
}

const NONE: StoredOutcome = { kind: 'none' };

function isNonRetryable(error: Error): boolean {
	return error instanceof NonRetryableError || (error as { code?: unknown }).code === 'ERR_NON_RETRYABLE';
}

export class TaskWriter {
	readonly #parts: TaskWriterParts;

	constructor(parts: TaskWriterParts) {
		this.#parts = parts;
	}

	/**
	 * Store new records (all or nothing). On an in-process container with a synchronous face this returns
	 * `undefined` once stored; otherwise a promise. The container assigns `seq` on the records themselves.
	 * `fresh`: every id was generated for this add (see `SyncContainerOperations.add`).
	 */
	add(records: TaskRecord[], fresh = false): Promise<void> | undefined {
		const { container } = this.#parts;
		if (container.sync) {
			container.sync.add(records, fresh);
			return undefined;
		}
		return container.add(records);
	}

	/** waiting → stopped; `null` when the task was not waiting any more. */
	stopWaiting(id: string): Promise<TaskRecord | null> {
		return this.#parts.container.transition(id, 'waiting', 'stopped', stopPatch());
	}

	/** Ask the owner of a running task (maybe another scheduler) to stop it. */
	requestStop(id: string): Promise<TaskRecord | null> {
		return this.#parts.container.requestStop(id);
	}

	/** Delete a finished task. */
	remove(id: string): Promise<boolean> {
		return this.#parts.container.remove(id);
	}

	/** running → running: the attempt's ref (the actuator's handle), so anyone can find or stop the work. */
	storeRef(id: string, ref: unknown): Promise<TaskRecord | null> {
		return this.#parts.container.transition(id, 'running', 'running', { ref }, this.#parts.owner);
	}

	/** running → running: the attempt's latest progress. */
	storeProgress(id: string, progress: unknown): Promise<TaskRecord | null> {
		return this.#parts.container.transition(id, 'running', 'running', { progress }, this.#parts.owner);
	}

	/**
	 * running → waiting, uncounted: a claimed task this owner never started (closing, or a lost claim reply). Moves
	 * only the claim `task` was read under (`ClaimGuard`): never a later claim of the task, even for this owner.
	 */
	handBack(task: Pick<TaskRecord, 'id' | 'attempts' | 'startedAt'>, ref?: unknown): Promise<TaskRecord | null> {
		return this.#move(task.id, 'running', 'waiting', handBackPatch(task, Date.now(), ref), false, task);
	}

	/**
	 * The hot path: a success with its output in hand stored through the container's synchronous face. Returns
	 * the stored task's record (one the container keeps no reference to), `null` when the compare-and-set lost, or `false` when the
	 * general path must run instead (no synchronous face, a persistencer, an output to fetch, or a throw).
	 */
	succeedSync(
		task: TaskRecord,
		ref: unknown,
		hasOutput: boolean,
		output: unknown,
		now: number = Date.now(),
	): Readonly<TaskRecord> | null | false {
		const { container, persistencer, actuator, owner } = this.#parts;
		const sync = container.sync;
		if (sync === undefined || persistencer !== undefined || (!hasOutput && actuator.output)) return false;
		try {
			return sync.transition(task, 'running', 'succeeded', successPatch(output, ref, now), owner);
		} catch {
			return false;
		}
	}

	/** Store an attempt's outcome. Never stores a report for a task that is no longer this owner's. */
	write(task: TaskRecord, ref: unknown, outcome: AttemptOutcome): Promise<StoredOutcome> {
		// The common case, kept to one small async frame: a success with its output in hand and nowhere to export it.
		if (
			outcome.kind === 'succeeded' &&
			this.#parts.persistencer === undefined &&
			(outcome.hasOutput || !this.#parts.actuator.output)
		) {
			return this.#succeed(task, ref, outcome.output);
		}
		return this.#write(task, ref, outcome);
	}

	/**
	 * Store a success (from running, or from exporting once persisted). A success the container refuses for good
	 * (`NonRetryableError`: an output it cannot store) fails the attempt; a storage error is retried until stored
	 * (see `#move`), never turned into a failure: the work succeeded.
	 */
	async #succeed(
		task: TaskRecord,
		ref: unknown,
		output: unknown,
		from: ActiveStatus = 'running',
	): Promise<StoredOutcome> {
		let failure: Error;
		try {
			const done = await this.#move(task.id, from, 'succeeded', successPatch(output, ref));
			return done
				? { kind: 'succeeded', task: done, output }
				: { kind: 'lost', id: task.id, rejected: 'succeeded' };
		} catch (error) {
			failure = toError(error);
			if (!(error instanceof NonRetryableError)) throw failure;
		}
		return this.#failOrRetry(task, ref, from, failure);
	}

	async #write(task: TaskRecord, ref: unknown, outcome: AttemptOutcome): Promise<StoredOutcome> {
		const { actuator, persistencer, report } = this.#parts;
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
		switch (outcome.kind) {
			case 'lost':
				// The container told us the task is no longer ours: nothing to store (the scheduler reports it).
				return { kind: 'lost', id, rejected: null };
			case 'handback':
				await this.handBack(task, ref);
				return NONE;
			case 'stopped': {
				const stopped = await this.#move(id, 'running', 'stopped', stopPatch(Date.now(), ref));
				return stopped ? { kind: 'stopped', task: stopped } : { kind: 'lost', id, rejected: 'stopped' };
			}
			default:
				break;
		}
		if (outcome.kind !== 'succeeded') return this.#failOrRetry(task, ref, 'running', outcome.error);
		let from: ActiveStatus = 'running';
		let output = outcome.output;
		try {
			if (!outcome.hasOutput && actuator.output) output = await actuator.output(task);
			if (persistencer) {
				const exporting = await this.#move(id, 'running', 'exporting', exportPatch(ref));
				if (exporting === null) return { kind: 'lost', id, rejected: 'exporting' };
				from = 'exporting';
				try {
					await persistencer.persist(exporting, output);
				} catch (error) {
					throw new PersistError(`Persisting the output failed: ${toError(error).message}`, { cause: error });
				}
			}
		} catch (error) {
			return this.#failOrRetry(task, ref, from, toError(error));
		}
		return this.#succeed(task, ref, output, from);
	}

	/** After a failed attempt (or a success that could not be stored): waiting again for a retry, or failed. */
	async #failOrRetry(task: TaskRecord, ref: unknown, from: ActiveStatus, failure: Error): Promise<StoredOutcome> {
		const id = task.id;
		const now = Date.now();
		if (!isNonRetryable(failure) && task.attempts < task.maxAttempts) {
			const delayMs = backoffDelay(this.#parts.backoff, task.attempts, failure);
			const waiting = await this.#move(id, from, 'waiting', retryPatch(failure, now + delayMs, ref), true, task);
			return waiting
				? { kind: 'retrying', task: waiting, error: failure, delayMs }
				: { kind: 'lost', id, rejected: 'waiting' };
		}
		const failed = await this.#move(id, from, 'failed', failPatch(failure, now, ref));
		return failed ? { kind: 'failed', task: failed, error: failure } : { kind: 'lost', id, rejected: 'failed' };
	}

	/**
	 * A compare-and-set move of the caller's task, retrying a storage error with backoff. A write that failed may
	 * have been applied all the same (the reply was lost): when its retry finds the task moved, and moved by this
	 * very write, that is the outcome, not a lost race, so its events still fire.
	 *
	 * An outcome (`untilStored`, the default) is retried for as long as the scheduler is open: the work ran, and
	 * the task must not be left `running` for a renewal to find it unknown and hand it back uncounted. The
	 * scheduler keeps renewing the task's lease meanwhile; if it is lost all the same (reclaimed elsewhere), the
	 * next try finds the task moved and reports it lost. A hand-back gives up after 5 tries (its caller retries).
	 *
	 * A move back to waiting names the attempt's `claim` (`ClaimGuard`), its first write and every retry: once such a
	 * write is applied the task can be claimed again for this very owner, by this scheduler or by the container itself
	 * (a claim ahead, an add's hand-off), and a write that compared only status and owner (a retry, or a first write
	 * given up on and applied late) would move that new claim back: its attempt then runs on a task that is waiting,
	 * and the task runs once more than its attempts allow.
	 */
	#move(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		untilStored = true,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		return this.#parts.container
			.transition(id, from, to, patch, this.#parts.owner, claim)
			.catch((error: unknown) => this.#moveAgain(id, from, to, patch, error, untilStored, claim));
	}

	/**
	 * The retries of a move whose first write failed, 50, 200, 800 ms, then every second: up to 4 more unless
	 * `untilStored`; 1 more once the scheduler is closing.
	 */
	async #moveAgain(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		firstError: unknown,
		untilStored: boolean,
		claim: ClaimGuard | undefined,
	): Promise<TaskRecord | null> {
		const { container, owner } = this.#parts;
		let error = firstError;
		for (let attempt = 1; ; attempt++) {
			// A container that refuses the write itself (an output it cannot store) refuses it again: no retry.
			if (error instanceof NonRetryableError) throw error;
			if ((attempt > 4 && !untilStored) || (this.#parts.closing() && attempt > 1)) throw error;
			this.#parts.writeFailed(`storing task ${id} (${from} -> ${to}, retried)`, error);
			await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 4 ** (attempt - 1))));
			try {
				const moved = await container.transition(id, from, to, patch, owner, claim);
				if (moved !== null) return moved;
				const now = await container.get(id);
				if (now === null) return null;
				// Claimed again since (a hand-back takes its attempt off): after this very write, if that claim kept the
				// `runAt` this write set (a claim does not change it).
				if (claim !== undefined && !isSameClaim(now, claim))
					return now.runAt === patch.runAt ? { ...now, status: to } : null;
				return wasApplied(now, to, patch) ? now : null;
			} catch (retryError) {
				error = retryError;
			}
		}
	}
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
