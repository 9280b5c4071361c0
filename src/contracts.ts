/**
 * The contracts between the scheduler and its parts. Containers and actuators implement these and
 * import nothing else from each other.
 */
import type { RepeatRecord } from './repeat-record.js';
import type { TaskChangePage, TaskChangeQuery } from './task-change.js';
import type {
	CleanQuery,
	TaskCounts,
	TaskPage,
	TaskPatch,
	TaskQuery,
	TaskLogPage,
	TaskLogQuery,
	TaskRecord,
	TaskStatus,
} from './task.js';

export type {
	ActuatorContext,
	ActuatorResult,
	ActuatorStart,
	ActuatorStatus,
	TaskActuator,
} from './actuator-contract.js';

/** A signal a container gives its schedulers so they can sleep instead of polling. */
export type ContainerSignal =
	/** A task became claimable (added, or put back to waiting by another scheduler). */
	| {
			/** A task became claimable. */
			readonly type: 'wake';
	  }
	/** Someone asked to stop the running task `id`; its owner should stop the work. */
	| {
			/** A stop was requested. */
			readonly type: 'stop';
			/** The running task to stop. */
			readonly id: string;
	  }
	/** The wake-up channel broke (`ok: false`) or came back (`ok: true`); schedulers poll while it is down. */
	| {
			/** The channel's state changed. */
			readonly type: 'channel';
			/** Whether it works now. */
			readonly ok: boolean;
			/** Why it broke. */
			readonly error?: Error;
	  };

/** The outcome of renewing leases. */
export interface RenewResult {
	/** Tasks no longer owned by the caller (reclaimed or finished elsewhere): stop the work, drop any late report. */
	readonly lost: string[];
	/** Tasks still owned by the caller that someone asked to stop. */
	readonly stopRequested: string[];
	/**
	 * Tasks the container holds as `running` or `exporting` for the caller that are not among `ids`: a claim
	 * applied on the server whose reply never reached the caller. Their leases are not extended. The caller
	 * never started them, so it hands them back with `handBackPatch` (uncounted). A caller whose own claim was
	 * in flight while the renew ran must disregard this list for that renew (the claim's reply may still come).
	 * Optional for in-process containers, whose claims cannot lose a reply. A container that can tell which held
	 * tasks it never handed out (all its calls go over one ordered connection) may instead hand them back itself,
	 * uncounted, and leave them out of this list.
	 */
	readonly unknown?: string[];
}

/**
 * An optional synchronous face of an in-process container: the same semantics as the async methods of the same
 * names. The scheduler uses it on its hot path (claim, start, finish) to save promise round trips.
 */
export interface SyncContainerOperations {
	/**
	 * Store new tasks as `waiting`, all or nothing (as `TaskContainer.add`), setting `seq` on the records given.
	 * Unlike the async `add`, it stores records of its own and keeps no reference to those given: the scheduler
	 * hands them to whoever added the tasks, so a change made to them must never reach stored state.
	 *
	 * `fresh: true` says the caller generated every id of `tasks` for this very add (random UUIDs: the scheduler
	 * does for a task given no `id`), so no task with one of them is stored and no two of them are the same: the
	 * container may skip looking them up. Everything else is checked as ever (deduplication keys above all), and
	 * the tasks are found by id afterwards like any other. The records were also made in this call, by the clock
	 * the container reads (`Date.now()`): a task due when made (`runAt <= createdAt`) may be taken as due.
	 */
	add(tasks: readonly TaskRecord[], fresh?: boolean): void;
	/**
	 * Returns plain-data records the container keeps no reference to (copies, which may remember the stored task
	 * they came from for `transition`): the scheduler keeps each as its attempt's record and hands it to the
	 * actuator, which must not change it (an actuator that gives it to user code hands out a copy).
	 */
	claim(max: number, owner: string, leaseMs: number, now: number): TaskRecord[];
	/**
	 * The compare-and-set of `transition`, given the record `claim` returned (which may save a look-up by id) or
	 * any record with the task's id. Returns a plain-data record of the result that the container keeps no
	 * reference to (it may be the record given, brought up to date), which the caller may hand out as it is.
	 * On a move to a final status the record's `updatedAt` may be the patch's `finishedAt` (the caller's clock).
	 */
	transition(
		task: TaskRecord,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
	): Readonly<TaskRecord> | null;
}

/**
 * Which claim of a task a `transition` may move (its `claim` argument): the task's `attempts` and `startedAt` as a
 * record of that claim holds them. The move then applies only while the stored task has both (`startedAt` compared
 * as a value, `null` equal to `null`); a container must honour it, in the same compare-and-set as the status and
 * owner. Every claim adds one to `attempts` and sets `startedAt` to its time, a hand-back takes the attempt off
 * again and a reclaim keeps it: so a later claim of the task, even one for the same owner made by the container
 * itself (a claim ahead, an add's hand-off) after a hand-back of the claim read, differs from it, unless it was
 * made in the same millisecond (by the clock that stamped both). The scheduler names the claim on every move back
 * to waiting: once such a write is applied, the task may be claimed again for the same owner, and a write that
 * compared status and owner only (its retry, or a hand-back of a task read earlier) would move that new claim back.
 */
export type ClaimGuard = Pick<TaskRecord, 'attempts' | 'startedAt'>;

/**
 * Where tasks live and which state they are in. Every state change is a compare-and-set, so a late or
 * duplicate report is rejected, never applied. All methods may be called concurrently.
 *
 * Time. The `now` arguments are the caller's clock. An in-process container uses them. A shared container
 * (`shared: true`) judges every lease, due time and reclaim by its server's clock (Redis `TIME`, the
 * database's clock), never by the caller's, so schedulers whose clocks disagree cannot take over each other's
 * live tasks: the times it sets itself (`startedAt` and `leaseUntil` at claim and renew, `updatedAt`, and
 * `runAt`/`finishedAt` in a reclaim) are the server's. Times a caller puts in a `transition` patch (built by
 * `src/task-moves.ts`) are stored as given: the outcome writer recognises its own write by them after a lost
 * reply.
 *
 * Failures. A call to a server that cannot be reached rejects within a bounded, documented time with a
 * `ContainerError` that names the server; `close()` settles every call still in flight. A call that rejects
 * leaves nothing half-stored: `add` stores all of its tasks or none.
 */
export interface TaskContainer {
	/**
	 * Whether several schedulers (processes, machines) may share this container. Shared containers get lease
	 * renewal and reclaiming from the scheduler; in-process containers do not need them.
	 */
	readonly shared: boolean;

	/**
	 * Store new tasks as `waiting`, all or nothing. The container assigns `seq` and sets it on the records it was
	 * handed, so the caller hands out the stored arrival number. A refused id or key always stores nothing; a
	 * container whose server must not be held for a whole large add may write it in steps and, when a step fails,
	 * say exactly what was stored (`PartialAddError`: RedisContainer, and SqlContainer on SQLite, above 500 tasks): it
	 * documents where. A task whose id exists in a
	 * final status is replaced (a re-run); one whose id is waiting, running or exporting rejects the whole batch
	 * with a `DuplicateTaskError`. The records are handed over: an in-process container may keep the objects
	 * themselves, so the caller must not use them afterwards. Concurrent calls are independent, whether or not the
	 * container writes them together: each settles on its own, in the order of the calls when they share an id or a
	 * key, and one call refused (a duplicate id, a held key) stores nothing of its own and takes nothing from the
	 * others.
	 */
	add(tasks: readonly TaskRecord[]): Promise<void>;

	/**
	 * Atomically move up to `max` due waiting tasks (`runAt <= now`) to `running`, highest priority first and
	 * FIFO within a priority, setting `owner`, `leaseUntil = now + leaseMs`, `startedAt = now` and adding one to
	 * `attempts`. Returns the claimed records.
	 *
	 * Limits a container enforces in its claim (`globalConcurrency`, `rateLimit`, `groupRateLimit` on Redis and
	 * SQL) only make it take fewer: a task held back stays `waiting` with no attempt counted, and is claimed by a
	 * later call. Under a per-group limit a group with no room left holds back only its own tasks: the claim takes
	 * the next due tasks of other groups (and tasks with no `group`) in the same order, and `nextDueAt` answers
	 * when the earliest held-back group may start again, so the scheduler sleeps until then.
	 *
	 * Claim-ahead (allowed; Redis, and SQL on PostgreSQL and better-sqlite3, do it): a `transition` by `owner` that
	 * ends one of its tasks may also claim that owner's next due task by these same rules, holding it for the owner's
	 * next `claim`, which returns it first. Likewise an `add` may claim the tasks it adds for an owner that is idle
	 * (its last claim came back short while it watches for wake-ups), by these same rules, held for that owner's next
	 * `claim` (a hand-off: the owner does not wait for its wake-up's round trip). Readers see such a task `running`,
	 * leased to the owner, its attempt counted. A container that claims ahead hands held tasks back (uncounted) when
	 * the owner closes or stops claiming, and when the hold lapses.
	 */
	claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]>;

	/**
	 * Compare-and-set: if task `id` is in status `from` (and, when `owner` is given, owned by `owner`; and, when
	 * `claim` is given, still under that claim: see `ClaimGuard`), move it to `to` and apply `patch`. Returns the
	 * updated record, or `null` when the task is missing or the comparison failed. Moving to `waiting` makes the
	 * task claimable again at `patch.runAt` (or at once).
	 */
	transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null>;

	/** Extend the leases of the caller's running tasks; see `RenewResult`. */
	renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult>;

	/**
	 * The reclaim rule. Every `running` or `exporting` task whose lease expired before `now` (the server's clock
	 * on a shared container) loses its owner and lease and moves, in this order of precedence:
	 * - to `stopped` (with `finishedAt`) when a stop was requested;
	 * - to `waiting` (claimable at once, `runAt = now`) while `attempts < maxAttempts`: the attempt that was
	 *   running stays counted, since its work may have run;
	 * - otherwise to `failed` with `ERR_LEASE_EXPIRED` (and `finishedAt`).
	 * `output`, `ref`, `progress` and `startedAt` are kept. Returns the tasks it moved.
	 */
	reclaimExpired(now: number): Promise<TaskRecord[]>;

	/**
	 * Ask the owner of a running task to stop it: sets `stopRequested` and signals the owner. Returns the record,
	 * or `null` when the task is not running.
	 */
	requestStop(id: string): Promise<TaskRecord | null>;

	/**
	 * The earliest `runAt` of a waiting task that is not yet due, or `null`; lets the scheduler sleep until then. A
	 * container whose claim limits held tasks back answers the earliest time one of them may start, if sooner (now
	 * or earlier when it may start at once). A container may also answer now or earlier while a waiting task is due
	 * (the scheduler then claims at once): one whose tasks become claimable by a step of its own (the SQL container
	 * promotes delayed tasks in its claim) must, for a task that came due after its last claim.
	 */
	nextDueAt(now: number): Promise<number | null>;

	/** The task's record (a copy), or `null` when there is none. */
	get(id: string): Promise<TaskRecord | null>;
	/**
	 * One page of tasks, by status and arrival order, with `more` (whether a task matches past this page) and the
	 * `total` that match. With `exactTotal: false` the container may skip the count and give a lower bound as the
	 * total (`offset + tasks.length`, plus 1 when `more`; see `TaskPage.total`), except on a page without tasks,
	 * whose total is always exact.
	 */
	list(query?: TaskQuery): Promise<TaskPage>;
	/** How many tasks are in each status. */
	counts(): Promise<TaskCounts>;

	/** Delete a task in a final status. Returns whether it existed. Throws `InvalidStateError` for an unfinished task. */
	remove(id: string): Promise<boolean>;

	/**
	 * Optional, queue-wide pause (every container of the kit has it): hold claiming for every scheduler sharing the
	 * container, or let it go on. While paused, `claim` (and any claim-ahead) takes nothing and `nextDueAt` returns
	 * `null`; adds, transitions, renewals, stop requests and reclaims go on. The flag is stored with the tasks, so
	 * it holds across restarts of every process until resumed. Resuming wakes the schedulers (a `wake` signal).
	 */
	setPaused?(paused: boolean): Promise<void>;
	/** Optional, with `setPaused`: whether claiming is paused for every scheduler sharing the container. */
	isPaused?(): Promise<boolean>;

	/**
	 * Optional, bulk retention (every container of the kit has it): delete up to `query.limit` finished tasks of
	 * `query.status` that `query` selects (see `CleanQuery`), the oldest by arrival first, and return their ids.
	 * One bounded batch per call, atomic per task: a task re-added under the same id meanwhile is not deleted.
	 *
	 * Tasks' own retention rules (`TaskRecord.retention`, stored with the record like every field and handed back by
	 * every read): a container with `clean` must answer two more selections cheaply, without a scan of every task.
	 * `exceptOwnRule` leaves out the tasks with their own rule for the status (neither deleted nor counted for
	 * `keep`: the scheduler's background `retention` pass). `expiredBy` selects only tasks whose own rule for the
	 * status has lapsed (`finishedAt + rule <= expiredBy`), whatever moved them to it: a scheduler's transition, the
	 * container's own `reclaimExpired`, a stop of a waiting task (the kit's containers derive a task's expiry from
	 * its status, `finishedAt` and rule, which every move to a final status writes, and index only tasks with a
	 * rule); with `ids`, only among those. A query with neither (an explicit `Scheduler.clean`) selects tasks with
	 * their own rule as any other. A re-run (a finished id added again) is a new task with its own rule or none: the
	 * old one's expiry never deletes it. A container without `clean` cannot store tasks with a rule (`add` of one is
	 * refused by the scheduler).
	 */
	clean?(query: CleanQuery): Promise<string[]>;

	/**
	 * Optional, repeating tasks (every container of the kit has them): store a repeat by compare-and-set, and return
	 * whether it was stored. With `expected` `null`, only when no repeat has the key; otherwise only when the stored
	 * one is still `expected` (the same `nextRunAt` and `updatedAt`), which it replaces (`createdAt` kept). So two
	 * schedulers declaring one repeat at the same moment store it once, and a declaration never sets the next tick
	 * back over a tick another scheduler added meanwhile (that tick would be added, and run, again). The container
	 * keeps repeats apart from tasks and never interprets `spec`.
	 */
	putRepeat?(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean>;
	/** Optional, with `putRepeat`: the repeat stored under `key` (a copy), or `null`. */
	getRepeat?(key: string): Promise<RepeatRecord | null>;
	/** Optional, with `putRepeat`: every stored repeat (copies), by key. */
	listRepeats?(): Promise<RepeatRecord[]>;
	/** Optional, with `putRepeat`: delete a repeat (its tasks stay). Returns whether it existed. */
	removeRepeat?(key: string): Promise<boolean>;
	/**
	 * Optional, with `putRepeat`: one tick, atomically. If repeat `key` exists with `nextRunAt === expected`, set its
	 * `nextRunAt` to `next` and its `updatedAt` to the time now by the caller's clock (at or after the tick it adds,
	 * which a changed definition's first tick must follow) and, when `task` is given, add it as `add` would, then
	 * return `true`; otherwise change
	 * nothing and return `false` (another scheduler moved it first, or it was changed or removed). A task whose id
	 * is waiting or running rejects the whole call with `DuplicateTaskError`, changing nothing.
	 */
	advanceRepeat?(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean>;

	/**
	 * Optional, task logs (every container of the kit has them): append lines to the log of task `id`, keeping at
	 * most the newest `maxLines` (older ones are dropped and counted). Lines of a task that does not exist are
	 * dropped. A task's log goes with it when it is deleted or replaced by a re-run.
	 */
	appendLogs?(id: string, lines: readonly string[], maxLines: number): Promise<void>;
	/** Optional, with `appendLogs`: a page of task `id`'s log (empty for a task with no log or no task). */
	getLogs?(id: string, query?: TaskLogQuery): Promise<TaskLogPage>;

	/**
	 * Optional, task changes (every container of the kit has them): the changes of every task (`added`, `started`,
	 * `progress`, `retrying`, `succeeded` with its output, `failed`, `stopped`), oldest first, after `query.after`.
	 * They are recorded only while someone follows: each call registers its caller as a follower for
	 * `FOLLOW_WINDOW_MS`, and a container records a change in the same atomic step as the change itself (the Redis
	 * script, the SQL statement's trigger), so a follower never sees a change that was not made nor misses one made
	 * while it follows. `after: null` starts from now; otherwise the page holds up to `limit` changes after the
	 * cursor, waiting up to `waitMs` for the first when there is none. Changes are kept for `CHANGE_RETENTION_MS` at
	 * least; a cursor older than what is kept, or a follower absent past the follow window, gets `gap: true`.
	 */
	readChanges?(query: TaskChangeQuery): Promise<TaskChangePage>;

	/** Optional synchronous fast path (in-process containers only). */
	readonly sync?: SyncContainerOperations;

	/**
	 * Optional hint: `true` when each claim is a round trip of its own (no tasks claimed ahead and held for the
	 * owner). The scheduler then claims the slots that free within one turn of the event loop together (one claim
	 * after `setImmediate`) instead of claiming for the first freed slot at once, which would go out alone while the
	 * rest of a burst of finishes waited for its reply. Ignored with `sync`.
	 */
	readonly gatherClaims?: boolean;

	/**
	 * Optional wake-up channel. A container shared between processes offers it so schedulers need not poll.
	 * Returns a function that unsubscribes.
	 */
	watch?(listener: (signal: ContainerSignal) => void): () => void;

	/** Release connections and timers; afterwards `add` rejects with `SchedulerClosedError`. A second call does nothing. */
	close(): Promise<void>;

	/**
	 * Optional: the scheduler attaches at construction so the container's side-channel warnings reach its `warning`
	 * event. Returns a function that detaches (called at `close`).
	 */
	attach?(reporter: PartReporter): () => void;
}

/** Where a container or actuator reports what goes wrong beside a task's own work (see `attach`). */
export interface PartReporter {
	/** Something worth knowing that does not stop the part (emitted as the scheduler's `warning` event). */
	warning(error: Error): void;
}

/** Where outputs go. A task becomes `succeeded` only after `persist` resolves; a throw fails the attempt. */
export interface Persistencer<TOutput = unknown> {
	/** Store a succeeded task's output; the task succeeds once this resolves, and a throw fails the attempt. */
	persist(task: TaskRecord<unknown, TOutput>, output: TOutput): Promise<void> | void;
	/** Read a stored output back. */
	get?(id: string): Promise<TOutput | null>;
	/** Forget a stored output (when its task is removed). */
	delete?(id: string): Promise<void>;
	/** Release what the persistencer holds. */
	close?(): Promise<void> | void;
}

/** The `callback` option: called once for every task that reaches a final status. */
export type CallbackReceiver<TItem = unknown, TOutput = unknown> = (
	task: TaskRecord<TItem, TOutput>,
) => void | Promise<void>;
