/**
 * The task state machine's moves, each defined once: which status a move goes from and to, and the patch it
 * writes. The scheduler, the outcome writer and every container build their writes with these, so a field a
 * move clears or sets is decided here and nowhere else. The compare-and-set itself is the container's
 * `transition`; the moves a container makes on its own (claim, reclaim) are stated in `contracts.ts`.
 */
import type { ClaimGuard } from './contracts.js';
import { LeaseExpiredError, toTaskError } from './errors.js';
import type { TaskPatch, TaskRecord, TaskStatus } from './task.js';

/** The statuses an owner's attempt moves from: the work ran (`running`) or its output was being stored (`exporting`). */
export type ActiveStatus = 'running' | 'exporting';

/** `ref` joins a patch only when the attempt learned one (an absent ref leaves the stored one as it is). */
function withRef(patch: TaskPatch, ref: unknown): TaskPatch {
	if (ref !== undefined) patch.ref = ref;
	return patch;
}

/**
 * running → waiting, uncounted: an attempt whose work never started (a claim handed back, a claim whose reply
 * was lost, a close that interrupts work and promises a new attempt). Claimable again at once.
 */
export function handBackPatch(task: Pick<TaskRecord, 'attempts'>, now: number = Date.now(), ref?: unknown): TaskPatch {
	return withRef({ attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null, runAt: now }, ref);
}

/**
 * Whether `task` is still under the claim `claim` names (`ClaimGuard`): the same `attempts` and `startedAt`. The rule
 * of a guarded `transition`, for containers that compare in JavaScript.
 */
export function isSameClaim(task: ClaimGuard, claim: ClaimGuard): boolean {
	return task.attempts === claim.attempts && task.startedAt === claim.startedAt;
}

/** running | exporting → waiting, counted: a failed attempt with attempts left, claimable again at `runAt`. */
export function retryPatch(error: unknown, runAt: number, ref?: unknown): TaskPatch {
	return withRef({ error: toTaskError(error), runAt, owner: null, leaseUntil: null }, ref);
}

/** running | exporting → failed: the last attempt failed (or the failure is not retryable). */
export function failPatch(error: unknown, now: number = Date.now(), ref?: unknown): TaskPatch {
	return withRef({ error: toTaskError(error), finishedAt: now, owner: null, leaseUntil: null }, ref);
}

/** running | exporting → stopped: the owner stopped the work on request. Waiting tasks stop with the same patch. */
export function stopPatch(now: number = Date.now(), ref?: unknown): TaskPatch {
	return withRef({ finishedAt: now, owner: null, leaseUntil: null }, ref);
}

/** running | exporting → succeeded: the output (`null` for none), no error, finished now, no owner nor lease. */
export function successPatch(output: unknown, ref?: unknown, now: number = Date.now()): TaskPatch {
	return withRef({ output: output ?? null, error: null, finishedAt: now, owner: null, leaseUntil: null }, ref);
}

/** Where the reclaim rule moves a task, and the patch of that move. */
export interface ReclaimMove {
	/** `stopped` (a stop was asked), `waiting` (attempts left) or `failed` (`ERR_LEASE_EXPIRED`). */
	readonly to: 'stopped' | 'waiting' | 'failed';
	/** The fields the move writes. */
	readonly patch: TaskPatch;
}

/**
 * The reclaim rule, for a `running` or `exporting` task whose lease lapsed (`reclaimExpired`) or whose owner died
 * (a restore): `stopped` when a stop was asked; else back to `waiting`, claimable at `now`, its interrupted attempt
 * still counted, while attempts are left; else `failed` with `ERR_LEASE_EXPIRED`. No owner nor lease either way.
 * (The SQL and Redis containers state the same rule in their statements and scripts.)
 */
export function reclaimMove(
	task: Pick<TaskRecord, 'id' | 'stopRequested' | 'attempts' | 'maxAttempts'>,
	now: number,
): ReclaimMove {
	if (task.stopRequested) return { to: 'stopped', patch: { owner: null, leaseUntil: null, finishedAt: now } };
	if (task.attempts < task.maxAttempts)
		return { to: 'waiting', patch: { owner: null, leaseUntil: null, runAt: now } };
	const error = toTaskError(new LeaseExpiredError(task.id));
	return { to: 'failed', patch: { owner: null, leaseUntil: null, finishedAt: now, error } };
}

/** running → exporting: the work succeeded and a persistencer stores its output before the task succeeds. */
export function exportPatch(ref?: unknown): TaskPatch {
	return withRef({}, ref);
}

/** The moves an owner makes, from → to, for the model-based test and for checks. */
export const OWNER_MOVES: readonly (readonly [ActiveStatus | 'waiting', TaskStatus])[] = [
	['running', 'waiting'],
	['running', 'exporting'],
	['running', 'succeeded'],
	['running', 'failed'],
	['running', 'stopped'],
	['exporting', 'waiting'],
	['exporting', 'succeeded'],
	['exporting', 'failed'],
	['waiting', 'stopped'],
];
