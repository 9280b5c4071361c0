/**
 * The storage contract of workflow runs (`lightsched/workflows`). A store keeps run records and the definitions
 * they were started from; every change of a run is a compare-and-set on its `rev`, so two processes advancing
 * the same run cannot both win, and a late or stale write is rejected, never applied.
 *
 * A store holds data only: the engine (`Workflows`) decides every move. A store shared between processes
 * (`shared: true`) lets any process finish a run another one began.
 */
import type { TaskContainer } from './contracts.js';
import { withTaskRelease } from './task-release.js';
import type { TaskError, TaskRecord } from './task.js';

/** Where a run is in its life. `succeeded`, `failed` and `stopped` are final. */
export type RunStatus = 'waiting' | 'running' | 'paused' | 'blocked' | 'succeeded' | 'failed' | 'stopped';

/** Where a step is in its life. `running` means its task was added (waiting for a slot or running). */
export type StepStatus = 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'blocked' | 'stopped';

/** Every run status. */
export const RUN_STATUSES: readonly RunStatus[] = [
	'waiting',
	'running',
	'paused',
	'blocked',
	'succeeded',
	'failed',
	'stopped',
];

/** Whether a run status is final (`succeeded`, `failed`, `stopped`). */
export function isFinalRunStatus(status: RunStatus): boolean {
	return status === 'succeeded' || status === 'failed' || status === 'stopped';
}

/** One step of a run, as stored. */
export interface StepState {
	/** The step's status. */
	status: StepStatus;
	/**
	 * How many times the step was dispatched. The step's task id is derived from the run id, the step id and
	 * this number, so a re-dispatch after a crash adds the same task (idempotent) and a retry adds a new one.
	 */
	generation: number;
	/** Attempts of the step's current task, as its task counted them at its end. */
	attempts: number;
	/** What the step's work returned (`null` until it succeeds). */
	output: unknown;
	/** Why the step failed, was skipped after failing, or was stopped. */
	error: TaskError | null;
	/** The last state the step saved with `ctx.checkpoint(state)`; handed to a retried or taken-over step. */
	checkpoint: unknown;
	/** The step's trace lines (`ctx.trace(line)`), the newest last; bounded. */
	trace: string[];
	/** When the step's current task was added (milliseconds since the epoch). */
	startedAt: number | null;
	/** When the step reached its current final status. */
	finishedAt: number | null;
	/** An operator continued this blocked step: its `block` pre-checks no longer apply. */
	continued: boolean;
	/** Set when a `pause({ now: true })` stopped the step's task: on resume it runs again. */
	handBack: boolean;
}

/** A workflow run, as stored. */
export interface RunRecord {
	/** The run's id (generated, unique within the store). */
	readonly id: string;
	/** The definition's name. */
	readonly definition: string;
	/** The version of the definition the run started with (and keeps). */
	readonly version: number;
	/** The run's variables (the definition's defaults, overridden by `start`'s `vars`). */
	readonly vars: Record<string, unknown>;
	/** The business key given to `start`, or `null`. */
	readonly key: string | null;
	/** Whether the key refuses a second active run with the same key. */
	readonly uniqueKey: boolean;
	/** The run's status. */
	status: RunStatus;
	/** The run's shared data: steps read and write it by key. */
	shared: Record<string, unknown>;
	/** The steps, by step id. */
	steps: Record<string, StepState>;
	/** When the run was created. */
	readonly createdAt: number;
	/** When the record last changed (set by the engine). */
	updatedAt: number;
	/** When the run reached its current final status. */
	finishedAt: number | null;
	/** When the run fails with `ERR_RUN_DEADLINE`, or `null` for no deadline. */
	deadlineAt: number | null;
	/** Why the run failed or was stopped. */
	error: TaskError | null;
	/**
	 * Whether the run still needs the engine: not final, a step still running, or its callback not yet called.
	 * Stores index it: `open()` lists these runs for the sweep.
	 */
	open: boolean;
	/** The final status whose callback was called last, or `null`. */
	notified: RunStatus | null;
	/** The compare-and-set version: `create` stores 0; each `update` adds one. */
	rev: number;
}

/** A definition as stored: the runs of one version keep reading it, whatever a process defines later. */
export interface StoredDefinition {
	/** The definition's name. */
	readonly name: string;
	/** Its version. */
	readonly version: number;
	/** The normalised definition (plain JSON). */
	readonly body: unknown;
}

/** What `list` selects. Every filter is optional; they combine with AND. */
export interface RunQuery {
	/** Runs of this definition. */
	readonly definition?: string;
	/** One status or several. */
	readonly status?: RunStatus | readonly RunStatus[];
	/** Runs with this business key. */
	readonly key?: string;
	/** Runs created at or after this time (milliseconds since the epoch). */
	readonly from?: number;
	/** Runs created before this time. */
	readonly to?: number;
	/** @default 0 */
	readonly offset?: number;
	/** @default 100 */
	readonly limit?: number;
	/**
	 * By creation time (then id): `asc` oldest first.
	 * @default 'asc'
	 */
	readonly order?: 'asc' | 'desc';
}

/** One page of runs. */
export interface RunPage {
	/** The runs of this page. */
	readonly runs: RunRecord[];
	/** How many runs match in all. */
	readonly total: number;
}

/**
 * Where runs live. All methods may be called concurrently; records handed in and out are copies (changing one
 * changes nothing stored).
 */
export interface WorkflowStore {
	/** Whether several processes may share this store (and so finish each other's runs). */
	readonly shared: boolean;
	/**
	 * Store a definition version unless one with the same name and version exists. Returns the stored one, which
	 * the caller compares with its own (a different body under the same version is the caller's error).
	 */
	putDefinition(definition: StoredDefinition): Promise<StoredDefinition>;
	/** A stored definition version, or `null`. */
	getDefinition(name: string, version: number): Promise<StoredDefinition | null>;
	/**
	 * Store a new run (its `rev` as given, 0). Rejects with `DuplicateRunError` when the id exists, and, when
	 * `uniqueKey` is set, when a run with the same key and `uniqueKey` is in a status that is not final
	 * (`DuplicateRunError` naming the key). Atomic.
	 */
	create(run: RunRecord): Promise<void>;
	/** The run (a copy), or `null`. */
	get(id: string): Promise<RunRecord | null>;
	/**
	 * Compare-and-set: if the stored run's `rev` equals `run.rev` and its `createdAt` equals `run.createdAt`, store
	 * `run` with `rev + 1` and return the record stored; else `null` (someone else changed it first, or it is gone,
	 * or it is another run under the same id: one removed and created again restarts its revs, so a record of the
	 * old one may carry a rev the new one has reached). The record returned is a new object, but
	 * may share its values (steps, vars, shared data) with `run` (a store that keeps records in memory returns a
	 * copy; one that writes them out need not copy them again): change neither in place afterwards, or copy first.
	 * Rejects with `DuplicateRunError` when the write moves a unique-key run out of a final status while another
	 * unique-key run with its key is not final.
	 */
	update(run: RunRecord): Promise<RunRecord | null>;
	/** One page of runs. */
	list(query?: RunQuery): Promise<RunPage>;
	/** Up to `limit` open runs (`open: true`), oldest first: what the engine's sweep looks at. */
	open(limit: number): Promise<RunRecord[]>;
	/**
	 * Delete a run that is not open. Returns whether it existed; rejects with `RunStateError` for an open run. With
	 * `expected` (the run as the caller read it, such as a record `list` returned), a compare-and-set: it deletes the
	 * run only while the stored one has `expected`'s `rev` and `createdAt`, else resolves `false` and deletes nothing
	 * (the run changed since it was read, such as retried and finished again, or it is another run under the same
	 * id); that check comes before the open one. Atomic.
	 */
	remove(id: string, expected?: Pick<RunRecord, 'rev' | 'createdAt'>): Promise<boolean>;
	/** Release connections. */
	close(): Promise<void>;
}

/**
 * A run's compare-and-set write together with the insert of the step tasks it releases, in one transaction: both
 * are stored or neither. Resolves with the stored run and the tasks inserted (a task whose id is already stored is
 * left as it is, and not returned), or `null` when the compare-and-set lost (nothing was written). Rejects as
 * `update` does, and with the container's error when the tasks are refused (the run write is then rolled back).
 */
export type ReleasingUpdate = (run: RunRecord, tasks: readonly TaskRecord[]) => Promise<ReleasedRun | null>;

/** What a `ReleasingUpdate` wrote. */
export interface ReleasedRun {
	/** The run as stored. */
	readonly run: RunRecord;
	/** The step tasks inserted (those whose ids were stored already are not). */
	readonly added: readonly TaskRecord[];
}

/** A store that can write a run and insert step tasks into `container` in one transaction (see `withTaskRelease`). */
export interface ReleasingWorkflowStore {
	/** The releasing write into `container`, or `null` when this store cannot share a transaction with it. */
	[withTaskRelease](container: TaskContainer): ReleasingUpdate | null;
}

/** The key of `[defaultWorkflowStore]()` on a container that offers a workflow store of its own (see below). */
export const defaultWorkflowStore: unique symbol = Symbol.for('lightsched.kit.defaultWorkflowStore') as never;

/**
 * A container whose runs belong beside its tasks: `new Workflows({ scheduler })` without a `store` then keeps its runs
 * in the store this makes (on the container's connection and keys, sharing its transactions), so every process that
 * shares the container shares the runs, instead of an in-memory store only this process sees.
 */
export interface WorkflowStoreSource {
	/** A new store on this container (the caller closes it; closing it leaves the container open). */
	[defaultWorkflowStore](): WorkflowStore;
}

/** The store `container` offers for its runs, or `undefined` (an in-process container: memory is the right place). */
export function containerWorkflowStore(container: unknown): WorkflowStore | undefined {
	if (typeof container !== 'object' || container === null) return undefined;
	const make = (container as Partial<WorkflowStoreSource>)[defaultWorkflowStore];
	return typeof make === 'function' ? make.call(container) : undefined;
}
