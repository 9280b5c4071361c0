/**
 * `Workflows`: step chains and DAGs whose steps are tasks in a scheduler's container. Definitions are checked
 * when defined; runs live in a `WorkflowStore`, every change a compare-and-set. A run advances (`Advancer`) on
 * every step task's end this process hears of, on every command, and in a periodic sweep of the open runs, so
 * any process sharing the container and the store finishes what a dead one began.
 */
import { EventEmitter } from 'eventemitter3';
import type { TaskEvent } from 'lightsched';
import { containerWorkflowStore, taskRelease, type TaskRelease } from 'lightsched/kit';
import { rejectUnknownOptions } from '../src/option-names.js';
import { timeOrderedId } from '../src/time-ordered-id.js';
import {
	type RunPage,
	type RunQuery,
	type RunRecord,
	type StepState,
	type WorkflowStore,
} from '../src/workflow-store.js';
import { actionNamesOf, isWorkflowActions } from './actions.js';
import { copyRun, newStepState } from './advance.js';
import { Advancer, type KnownTask } from './advancer.js';
import {
	applyCommand,
	retryFailedRuns,
	retryLimit,
	type CommandName,
	type FailedRunQuery,
	type RetryFailedOptions,
} from './commands.js';
import type { WorkflowDefinition } from './definition.js';
import { DuplicateRunError, RunOutcomeUnknownError, WorkflowError } from './errors.js';
import type { WorkflowEvents } from './events.js';
import { MemoryWorkflowStore } from './memory-store.js';
import { RunWaiters } from './run-waiters.js';
import { seal } from './sealed.js';
import { DefinitionRegistry, startVars } from './definition-registry.js';
import {
	checkMs,
	checkRunId,
	OPTION_NAMES,
	START_NAMES,
	type DefinedVersion,
	type StartOptions,
	type WaitOptions,
	type WorkflowsOptions,
} from './options.js';
import {
	checkCleanRuns,
	checkRunRetention,
	cleanRuns,
	removeRun,
	RunRetention,
	type CleanRunsOptions,
} from './run-retention.js';
import { Schedules, type ScheduleInfo, type ScheduleOptions } from './schedules.js';
import { parseStepTaskId } from './step-task.js';
import { UnsureStarts } from './unsure-starts.js';

/** The most open runs one sweep looks at. */
const SWEEP_PAGE = 1000;

export type { DefinedVersion, StartOptions, WaitOptions, WorkflowsOptions } from './options.js';
export type { ScheduleInfo, ScheduleOptions } from './schedules.js';

/** Workflows on a scheduler: define, load, start, wait, find, and the operator commands. */
export class Workflows extends EventEmitter<WorkflowEvents> {
	/** Where this instance keeps runs. */
	readonly store: WorkflowStore;
	readonly #scheduler: WorkflowsOptions['scheduler'];
	readonly #ownStore: boolean;
	/** The definitions defined here, and those of runs other processes started (definition-registry.ts). */
	readonly #registry: DefinitionRegistry;
	readonly #advancer: Advancer;
	/** The records of the starts whose outcome is unknown, tried again by a start of the same run (unsure-starts.ts). */
	readonly #unsure = new UnsureStarts();
	readonly #sweepMs: number;
	readonly #listeners: [string, (event: TaskEvent) => void][] = [];
	readonly #waiters = new RunWaiters((runId) => this.store.get(runId));
	readonly #retention: RunRetention;
	readonly #schedules = new Schedules({
		check: (name, options) => void startVars(this.#registry.pick(name, options.version), options.vars ?? {}),
		start: (name, options) => this.start(name, options),
		error: (error) => this.#emit('error', error),
	});
	#sweepTimer: ReturnType<typeof setInterval> | undefined;
	#sweeping = false;
	#closed = false;

	constructor(options: WorkflowsOptions) {
		super();
		if (typeof options !== 'object' || options === null)
			throw new TypeError('Expected the options of Workflows to be an object like { scheduler, actions }');
		rejectUnknownOptions('Workflows', options, OPTION_NAMES);
		const { scheduler, actions } = options;
		if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.add !== 'function')
			throw new TypeError('Expected `scheduler` of Workflows to be a Scheduler');
		const actionNames = actionNamesOf(actions);
		this.#scheduler = scheduler;
		this.#ownStore = options.store === undefined;
		// The container's own store (Redis, SQL: shared by every process on it), else this process's memory.
		this.store =
			options.store ??
			containerWorkflowStore((scheduler as { [taskRelease]?: () => TaskRelease })[taskRelease]?.().container) ??
			new MemoryWorkflowStore();
		this.#registry = new DefinitionRegistry(this.store, actionNames);
		if (isWorkflowActions(actions)) actions.attach(this.store);
		this.#sweepMs = options.sweepMs === undefined ? 2000 : checkMs('sweepMs', options.sweepMs, 10);
		const dispatchGraceMs =
			options.dispatchGraceMs === undefined ? 10_000 : checkMs('dispatchGraceMs', options.dispatchGraceMs, 0);
		this.#advancer = new Advancer({
			store: this.store,
			scheduler,
			actions,
			dispatchGraceMs,
			definitionFor: (run) => this.#registry.forRun(run),
			definitionAt: (run) => this.#registry.forRunAt(run),
			emit: (name, ...args) => this.#emit(name, ...args),
			listening: (name) => this.listenerCount(name) > 0,
			settled: (run) => this.#waiters.settled(run),
		});
		for (const name of ['task:succeeded', 'task:failed', 'task:stopped'] as const) {
			const listener = (event: TaskEvent): void => {
				const ref = parseStepTaskId(event.task.id);
				if (ref === null) return;
				const { status, output, error, attempts } = event.task;
				const known = new Map<string, KnownTask>();
				known.set(ref.stepId, { generation: ref.generation, view: { status, output, error, attempts } });
				void this.#advancer.kick(ref.runId, known);
			};
			scheduler.on(name, listener);
			this.#listeners.push([name, listener]);
		}
		const retention = checkRunRetention(options.retention ?? {});
		this.#retention = new RunRetention({ store: this.store, scheduler }, retention, (error) =>
			this.#emit('error', error),
		);
		this.#sweepTimer = setInterval(() => void this.#sweep(true), this.#sweepMs);
		this.#sweepTimer.unref?.();
	}

	/** Check and add a definition (a new version of a name, or the first). Throws `WorkflowDefinitionError`. */
	define(definition: WorkflowDefinition): DefinedVersion {
		return this.#registry.define(definition);
	}

	/** Define every definition in YAML or JSON files (`'flows/*.yaml'`, or paths). Resolves with what it defined. */
	load(paths: string | readonly string[]): Promise<DefinedVersion[]> {
		return this.#registry.load(paths);
	}

	/** Start a run of a defined workflow. Resolves with the run once its first steps are dispatched. */
	async start(name: string, options: StartOptions = {}): Promise<RunRecord> {
		this.#checkOpen();
		rejectUnknownOptions('start', options, START_NAMES);
		const definition = this.#registry.pick(name, options.version);
		const version = definition.version;
		const vars = startVars(definition, options.vars ?? {});
		if (options.key !== undefined && (typeof options.key !== 'string' || options.key === ''))
			throw new TypeError(`Expected \`key\` to be a non-empty string, got ${String(options.key)}`);
		if (options.unique === true && options.key === undefined) throw new TypeError('`unique` needs a `key`');
		const id = options.id === undefined ? timeOrderedId() : checkRunId(options.id);
		await this.#registry.store(definition);
		const now = Date.now();
		const steps: Record<string, StepState> = {};
		for (const stepId of definition.order) steps[stepId] = newStepState();
		const deadlineMs = definition.body.deadlineMs;
		const built: RunRecord = {
			id,
			definition: name,
			version,
			vars: JSON.parse(JSON.stringify(vars)) as Record<string, unknown>,
			key: options.key ?? null,
			uniqueKey: options.unique === true,
			status: 'waiting',
			shared: {},
			steps,
			createdAt: now,
			updatedAt: now,
			finishedAt: null,
			deadlineAt: deadlineMs === undefined ? null : now + deadlineMs,
			error: null,
			open: true,
			notified: null,
			rev: 0,
		};
		// Sealed: the engine never changes it (see sealed.ts). An earlier start of this run whose outcome is unknown:
		// its record again (the store knows it as the one it may have stored).
		const run = this.#unsure.pick(seal(built));
		try {
			await this.store.create(run);
		} catch (error) {
			if (error instanceof RunOutcomeUnknownError) this.#unsure.remember(run);
			else if (error instanceof DuplicateRunError) this.#unsure.settled(run);
			throw error;
		}
		this.#unsure.settled(run);
		// The event's copy only for listeners.
		if (this.listenerCount('run:created') > 0) this.#emit('run:created', { run: copyRun(run) });
		// The first advance plans from the record just created (its write's compare-and-set proves it current).
		// A copy: the engine keeps the record it wrote (to plan the next step end from) and changes none in place.
		const advanced = await this.#advancer.kick(run.id, undefined, run);
		return copyRun(advanced ?? run);
	}

	/**
	 * Start a run of `definition` at each tick of `cron` or `every`, from this process: each process declaring the
	 * schedule keeps its own timer, and each tick makes one run (`schedule:<key>:<tick>`) whichever starts it.
	 */
	schedule(options: ScheduleOptions): ScheduleInfo {
		this.#checkOpen();
		return this.#schedules.declare(options);
	}

	/** Stop this process's schedule `key` (other processes declaring it go on). Returns whether it had one. */
	unschedule(key: string): boolean {
		return this.#schedules.remove(key);
	}

	/** This process's schedules, with their next tick. */
	schedules(): ScheduleInfo[] {
		return this.#schedules.list();
	}

	/**
	 * Resolves with the run once it is finished and settled (final, nothing running, its callback called), from any
	 * process. Rejects with `RunNotFoundError` for a run that does not exist, or that was removed (`remove`, `clean`,
	 * the `retention` option) before this process saw it finished.
	 */
	async wait(runId: string, options: WaitOptions = {}): Promise<RunRecord> {
		const timeoutMs = options.timeoutMs === undefined ? undefined : checkMs('timeoutMs', options.timeoutMs, 0);
		return await this.#waiters.wait(runId, timeoutMs);
	}

	/** The run, or `null`. */
	get(runId: string): Promise<RunRecord | null> {
		return this.store.get(runId);
	}

	/** A page of runs by definition, status, key and creation time. */
	list(query: RunQuery = {}): Promise<RunPage> {
		rejectUnknownOptions('list', query, ['definition', 'status', 'key', 'from', 'to', 'offset', 'limit', 'order']);
		if (query.offset !== undefined) checkMs('offset', query.offset, 0);
		if (query.limit !== undefined) checkMs('limit', query.limit, 0);
		return this.store.list(query);
	}

	/** Stop a run: waiting steps never start, running ones are stopped through the actuator; the run ends stopped. */
	stop(runId: string): Promise<RunRecord> {
		return this.#command(runId, 'stop', {});
	}

	/** No new step starts until `resume`; running steps finish, or with `{ now: true }` are stopped and run again on resume. */
	pause(runId: string, options: { readonly now?: boolean } = {}): Promise<RunRecord> {
		return this.#command(runId, 'pause', { now: options.now === true });
	}

	/** Resume a paused run. */
	resume(runId: string): Promise<RunRecord> {
		return this.#command(runId, 'resume', {});
	}

	/** Run a failed or stopped run's failed and stopped steps again, and what depends on them. */
	retry(runId: string): Promise<RunRecord> {
		return this.#command(runId, 'retry', {});
	}

	/** Run `stepId` and every step downstream of it again (their outputs and checkpoints cleared). */
	retryFrom(runId: string, stepId: string): Promise<RunRecord> {
		return this.#command(runId, 'retryFrom', { stepId });
	}

	/** Release a blocked step (its `block` pre-checks no longer apply). */
	continue(runId: string, stepId: string): Promise<RunRecord> {
		return this.#command(runId, 'continue', { stepId });
	}

	/** Count a step that has not run (or failed, or was stopped) as skipped; the run goes on from it. */
	skip(runId: string, stepId: string): Promise<RunRecord> {
		return this.#command(runId, 'skip', { stepId });
	}

	/**
	 * Retry every failed run matching `query` (by key, definition, time), or the oldest `limit` of them; a run
	 * retried meanwhile (by another process) is passed over. Resolves with the ids retried.
	 */
	retryFailed(query: FailedRunQuery = {}, options: RetryFailedOptions = {}): Promise<string[]> {
		const limit = retryLimit(options);
		return retryFailedRuns(this.store, (id) => this.retry(id), query, limit);
	}

	/**
	 * Delete a finished run and its step tasks. Resolves `false` when there is no such run; rejects with
	 * `RunStateError` when it has not finished.
	 */
	remove(runId: string): Promise<boolean> {
		this.#checkOpen();
		return removeRun({ store: this.store, scheduler: this.#scheduler }, runId);
	}

	/**
	 * Delete the finished runs of one status (and definition) older than `maxAgeMs` or beyond the newest `maxCount`,
	 * with their step tasks. Resolves with how many it deleted. The `retention` option does this in the background.
	 */
	clean(options: CleanRunsOptions): Promise<number> {
		this.#checkOpen();
		const checked = checkCleanRuns(options);
		return cleanRuns({ store: this.store, scheduler: this.#scheduler }, checked, Date.now());
	}

	/** Advance every open run once (the periodic sweep; also callable by hand). */
	sweep(): Promise<void> {
		return this.#sweep(false);
	}

	/**
	 * `periodic`: the timer's sweep, which passes over a run written less than `sweepMs` ago whose deadline has
	 * not passed: a run that moves is being advanced by whoever hears its step ends, and the listed record is then
	 * stale by the time it is looked at (its step task ended, the run moved on), so looking costs reads for
	 * nothing. A run that stops moving is looked at by the next sweep (its step ends lost: within 2 × `sweepMs`).
	 */
	async #sweep(periodic: boolean): Promise<void> {
		if (this.#sweeping || this.#closed) return;
		this.#sweeping = true;
		try {
			const now = Date.now();
			const open = await this.store.open(SWEEP_PAGE);
			for (const run of open) {
				if (this.#closed) return;
				const age = now - run.updatedAt;
				if (periodic && age >= 0 && age < this.#sweepMs && (run.deadlineAt === null || run.deadlineAt > now))
					continue;
				await this.#advancer.sweepOne(run);
			}
			// The waiters' safety net (their runs' ends are heard as events): a run the open page holds was open
			// then, and its end since is heard or seen by the next sweep; only the others are read, unless the page
			// was full (then a waited run may be open beyond it).
			const stillOpen = open.length < SWEEP_PAGE ? new Set(open.map((run) => run.id)) : new Set<string>();
			for (const runId of this.#waiters.runIds()) {
				if (stillOpen.has(runId)) continue;
				const run = await this.store.get(runId);
				if (run === null) this.#waiters.gone(runId);
				else this.#waiters.settled(run);
			}
		} catch (error) {
			if (!this.#closed) this.#emit('error', error instanceof Error ? error : new Error(String(error)));
		} finally {
			this.#sweeping = false;
		}
	}

	/** Stop sweeping and listening; waits for advances in flight. Closes the store only when it made it. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#sweepTimer);
		await this.#retention.close();
		await this.#schedules.close();
		for (const [name, listener] of this.#listeners) this.#scheduler.off(name as 'task:succeeded', listener);
		await this.#advancer.close();
		if (this.#ownStore) await this.store.close();
	}

	async #command(runId: string, command: CommandName, args: { stepId?: string; now?: boolean }): Promise<RunRecord> {
		this.#checkOpen();
		// A copy, as for `start`.
		return copyRun(
			await this.#advancer.command(runId, (run, definition) =>
				applyCommand(run, definition, command, args, Date.now()),
			),
		);
	}

	#emit<K extends keyof WorkflowEvents>(name: K, ...args: WorkflowEvents[K]): void {
		try {
			(this.emit as (name: K, ...args: WorkflowEvents[K]) => boolean)(name, ...args);
		} catch (error) {
			if (name !== 'error') this.emit('error', error instanceof Error ? error : new Error(String(error)));
		}
	}

	#checkOpen(): void {
		if (this.#closed) throw new WorkflowError('This Workflows instance is closed', 'ERR_RUN_STATE');
	}
}
