/**
 * The task model: what a task is, which states it moves through, and the shapes used to add,
 * query and count tasks. Every container stores exactly these records.
 */

/** Where a task is in its life. `exporting` is the short step while a persistencer stores the output. */
export type TaskStatus = 'waiting' | 'running' | 'exporting' | 'succeeded' | 'failed' | 'stopped';

/** Every status, in life order. */
export const TASK_STATUSES: readonly TaskStatus[] = [
	'waiting',
	'running',
	'exporting',
	'succeeded',
	'failed',
	'stopped',
];

/** The statuses a task ends in. A task in a final status can be added again (a re-run). */
export const FINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'stopped'];

/** Whether `status` is final (`succeeded`, `failed` or `stopped`). */
export function isFinalStatus(status: TaskStatus): boolean {
	return status === 'succeeded' || status === 'failed' || status === 'stopped';
}

/** Whether `value` names a status. */
export function isTaskStatus(value: unknown): value is TaskStatus {
	return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/** The last failure of a task, as stored: plain data, so every container can keep it. */
export interface TaskError {
	/** What went wrong, readable. */
	readonly message: string;
	/** A stable code, such as `ERR_TASK_TIMEOUT`, or the `code` of the error the work threw. */
	readonly code: string;
}

/** A task as given to `Scheduler.add`. */
export interface NewTask<TItem = unknown> {
	/** Unique within a container. Generated (a UUID) when absent. */
	readonly id?: string;
	/** The caller's payload, handed to the actuator. Must be JSON-serialisable for persistent containers. */
	readonly item: TItem;
	/**
	 * Higher runs first; FIFO within a priority. Containers without priority (the FIFO queue) ignore it.
	 * @default 0
	 */
	readonly priority?: number;
	/** Overrides the scheduler's `maxAttempts` for this task. */
	readonly maxAttempts?: number;
	/** Overrides the scheduler's `timeoutMs` for this task; `0` means no timeout. */
	readonly timeoutMs?: number;
	/** Do not start before this time (milliseconds since the epoch). */
	readonly runAt?: number;
	/**
	 * A deduplication key: while a task with this key waits or runs, another add with it is refused
	 * (`DuplicateKeyError`, or the existing task with `add`'s `onDuplicateKey: 'existing'`), atomically across
	 * processes. Free again once that task finishes.
	 */
	readonly key?: string;
	/**
	 * The group the task belongs to (a customer, an API key): a container's `groupRateLimit` bounds the starts of
	 * each group on its own. A non-empty string of at most 512 characters; no group when absent.
	 */
	readonly group?: string;
	/**
	 * This task's own retention rule: how long, in milliseconds after it finished, it is kept in each final status
	 * before it is deleted (`0`: as soon as it finishes). A status not given falls back to the scheduler's
	 * `retention` option. A task with its own rule for the status it finished in is not deleted nor counted by
	 * that option's background pass (see docs/operations.md, Retention).
	 */
	readonly retention?: TaskRetention;
}

/** A task's own retention rule (`NewTask.retention`): milliseconds kept after finishing, per final status. */
export interface TaskRetention {
	/** Kept this long after it succeeded. */
	readonly succeeded?: number;
	/** Kept this long after it failed for good. */
	readonly failed?: number;
	/** Kept this long after it was stopped. */
	readonly stopped?: number;
}

/** A task's own rule for `status`, in milliseconds, or `undefined` when it has none (the scheduler's rule applies). */
export function ownRetention(task: Pick<TaskRecord, 'retention'>, status: TaskStatus): number | undefined {
	const rule = task.retention;
	if (rule === null) return undefined;
	return status === 'succeeded'
		? rule.succeeded
		: status === 'failed'
			? rule.failed
			: status === 'stopped'
				? rule.stopped
				: undefined;
}

/** A task as stored: the record `get`, `list` and every event hand out. */
export interface TaskRecord<TItem = unknown, TOutput = unknown> {
	/** Unique within the container. */
	readonly id: string;
	/** The caller's payload, handed to the actuator. */
	item: TItem;
	/** Higher runs first; FIFO within a priority. */
	priority: number;
	/** Where the task is in its life. */
	status: TaskStatus;
	/** Attempts started so far (the current one included while running). */
	attempts: number;
	/** Attempts allowed in all (the first one included). */
	maxAttempts: number;
	/** The task's own timeout; `null` means the scheduler's `timeoutMs` applies, `0` means none. */
	timeoutMs: number | null;
	/** Arrival order within the container, assigned by the container at `add`. Breaks priority ties (FIFO). */
	seq: number;
	/** Milliseconds since the epoch. */
	createdAt: number;
	/** When the record last changed (milliseconds since the epoch). */
	updatedAt: number;
	/** When the current or last attempt started. */
	startedAt: number | null;
	/** When the task reached its final status. */
	finishedAt: number | null;
	/** Not claimed before this time (a retry's backoff, or a scheduled start). */
	runAt: number;
	/** The last failure, kept across retries until the task succeeds. */
	error: TaskError | null;
	/** The result of the work, once succeeded. */
	output: TOutput | null;
	/** The last progress the work reported. */
	progress: unknown;
	/** The actuator's handle on the work (a container id, a remote job id), kept so any scheduler can stop it. */
	ref: unknown;
	/** Which scheduler runs the task. */
	owner: string | null;
	/** Until when the owner's claim holds; a scheduler that stops renewing loses the task after this. */
	leaseUntil: number | null;
	/** Someone asked to stop this running task; its owner stops the work. */
	stopRequested: boolean;
	/** The deduplication key given at add, or `null`. */
	readonly key: string | null;
	/**
	 * The trace context of the span that added the task (OpenTelemetry, see docs/tracing.md): the W3C
	 * `traceparent`, then a space and the `tracestate` when there is one; `null` when no span was active (or no
	 * OpenTelemetry SDK is installed). Each attempt's span is its child, in any process.
	 */
	readonly trace: string | null;
	/** The group given at add (`NewTask.group`), or `null`. */
	readonly group: string | null;
	/** The task's own retention rule given at add (`NewTask.retention`), or `null`: the scheduler's rule applies. */
	readonly retention: TaskRetention | null;
}

/** The fields a transition may change besides the status. */
export type TaskPatch<TOutput = unknown> = Partial<
	Pick<
		TaskRecord<unknown, TOutput>,
		| 'attempts'
		| 'startedAt'
		| 'finishedAt'
		| 'runAt'
		| 'error'
		| 'output'
		| 'progress'
		| 'ref'
		| 'owner'
		| 'leaseUntil'
		| 'stopRequested'
	>
>;

/** What `list` selects. */
export interface TaskQuery {
	/** One status or several; all when absent. */
	readonly status?: TaskStatus | readonly TaskStatus[];
	/** @default 0 */
	readonly offset?: number;
	/** @default 100 */
	readonly limit?: number;
	/**
	 * Arrival order: `asc` oldest first, `desc` newest first.
	 * @default 'asc'
	 */
	readonly order?: 'asc' | 'desc';
	/**
	 * Whether the page's `total` must be the exact number of matching tasks. `false` lets a container skip counting
	 * them (a `COUNT(*)` over every matching row in SQL, slow with a million tasks): `total` is then a lower bound
	 * (see `TaskPage.total`) and `more` says whether another page follows. Containers whose count is free (memory,
	 * Redis) keep giving the exact total.
	 * @default true
	 */
	readonly exactTotal?: boolean;
}

/** One page of a task's log lines (`getLogs`). */
export interface TaskLogPage {
	/** The lines of this page, oldest first. */
	readonly lines: string[];
	/** The number of the first line of this page, counting every line the task ever logged from 0. */
	readonly offset: number;
	/** How many lines the task logged in all (the newest has number `total - 1`). */
	readonly total: number;
	/** How many of the oldest lines were dropped by the bound on lines kept (numbers `0` to `dropped - 1`). */
	readonly dropped: number;
}

/** Which log lines `getLogs` reads: from line number `offset` (default: the oldest kept), at most `limit`. */
export interface TaskLogQuery {
	/** The number of the first line (see `TaskLogPage.offset`); negative counts back from the newest. */
	readonly offset?: number;
	/** @default 100 */
	readonly limit?: number;
}

/** A final status: what `clean` may delete. */
export type FinalStatus = 'succeeded' | 'failed' | 'stopped';

/**
 * What a container's `clean` deletes: finished tasks of one status, the oldest first (by arrival), that are
 * finished before `finishedBefore` or beyond the newest `keep` of that status (either rule selects a task; a
 * query with neither selects every task of the status), at most `limit` of them. With `exceptOwnRule`, tasks
 * with their own rule for the status (`TaskRecord.retention`) are left out: neither selected nor counted for
 * `keep`. With `expiredBy`, the query selects by the tasks' own rules instead: only tasks of the status whose own
 * rule for it has lapsed (`finishedAt + rule <= expiredBy`), optionally only among `ids`.
 */
export interface CleanQuery {
	/** The final status whose tasks are deleted. */
	readonly status: FinalStatus;
	/** Delete tasks whose `finishedAt` is before this time (milliseconds since the epoch). */
	readonly finishedBefore?: number;
	/** Delete tasks beyond the newest `keep` (by arrival) of the status. */
	readonly keep?: number;
	/** At most this many tasks per call (a bounded batch). */
	readonly limit: number;
	/**
	 * Leave out tasks with their own retention rule for `status`: neither selected nor counted for `keep` (the
	 * scheduler's background `retention` pass; an explicit `Scheduler.clean` does not set it).
	 */
	readonly exceptOwnRule?: boolean;
	/**
	 * Select only tasks whose own rule for `status` has lapsed by this time (milliseconds since the epoch):
	 * `finishedAt + rule <= expiredBy`. `keep`, `finishedBefore` and `exceptOwnRule` must then be absent.
	 */
	readonly expiredBy?: number;
	/** With `expiredBy` only: look only at these ids (a finishing scheduler's deletion of tasks kept `0` ms). */
	readonly ids?: readonly string[];
}

/** One page of `list`. */
export interface TaskPage<TItem = unknown, TOutput = unknown> {
	/** The tasks of this page, in the query's order. */
	readonly tasks: TaskRecord<TItem, TOutput>[];
	/**
	 * How many tasks match the query in all, when the query's `exactTotal` is true (the default). With
	 * `exactTotal: false` it may be a lower bound instead: never more than the exact number, and at least
	 * `offset + tasks.length`, plus 1 when `more`. A page without tasks always has the exact total.
	 */
	readonly total: number;
	/**
	 * Whether at least one more task matches after this page (at `offset + tasks.length` and beyond), as the
	 * container read it: the next page is not empty. Exact in both modes of `exactTotal`.
	 */
	readonly more: boolean;
}

/** How many tasks are in each status. */
export interface TaskCounts {
	/** Waiting to run (due or not). */
	waiting: number;
	/** Running. */
	running: number;
	/** Storing their output through the persistencer. */
	exporting: number;
	/** Succeeded. */
	succeeded: number;
	/** Failed for good. */
	failed: number;
	/** Stopped. */
	stopped: number;
}

/** Zero counts, to start from. */
export function emptyCounts(): TaskCounts {
	return { waiting: 0, running: 0, exporting: 0, succeeded: 0, failed: 0, stopped: 0 };
}

/**
 * A copy of a record, as a plain object with exactly the fields of `TaskRecord` (the copy every part hands out,
 * so callers cannot change stored state). Written out field by field: as fast as spreading a plain object, and it
 * stays fast for the memory containers' stored records, which a spread would copy on V8's slow path.
 */
export function copyTask<TItem, TOutput>(rec: Readonly<TaskRecord<TItem, TOutput>>): TaskRecord<TItem, TOutput> {
	return {
		id: rec.id,
		item: rec.item,
		priority: rec.priority,
		status: rec.status,
		attempts: rec.attempts,
		maxAttempts: rec.maxAttempts,
		timeoutMs: rec.timeoutMs,
		seq: rec.seq,
		createdAt: rec.createdAt,
		updatedAt: rec.updatedAt,
		startedAt: rec.startedAt,
		finishedAt: rec.finishedAt,
		runAt: rec.runAt,
		error: rec.error,
		output: rec.output,
		progress: rec.progress,
		ref: rec.ref,
		owner: rec.owner,
		leaseUntil: rec.leaseUntil,
		stopRequested: rec.stopRequested,
		key: rec.key,
		trace: rec.trace,
		group: rec.group,
		retention: rec.retention,
	};
}
