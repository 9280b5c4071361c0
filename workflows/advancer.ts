/**
 * The part of `Workflows` that moves runs: one advance at a time per run in this process (other processes are
 * kept apart by the store's compare-and-set), then the effects of the stored change — step tasks added when
 * absent, step tasks stopped, events, the definition's callback, the deadline timer. With a store that shares a
 * transaction with the scheduler's container (`withTaskRelease`: SQL), the step tasks a write starts are inserted
 * in that write's transaction instead of added after it (released-write.ts).
 */
import { DuplicateTaskError, InvalidTaskError, NonRetryableError, type TaskRecord } from 'lightsched/kit';
import { isFinalRunStatus, type RunRecord, type RunStatus, type WorkflowStore } from '../src/workflow-store.js';
import type { ItemBuilders, WorkflowActions } from './actions.js';
import { cloneJson, copyRun, planAdvance, type Dispatch, type Plan, type TaskView } from './advance.js';
import type { CommandResult } from './commands.js';
import type { CheckedDefinition } from './definition.js';
import { RunNotFoundError, WorkflowError } from './errors.js';
import type { WorkflowEvents } from './events.js';
import { KnownRuns } from './known-runs.js';
import { AdvanceRecovery, isOutage } from './advance-recovery.js';
import { endedAlready, failStep, MAX_ROUNDS, mayNotify, notifyFinished, stopTasks } from './run-effects.js';
import { StepAdds, stepTaskFor } from './step-dispatch.js';
import { releasedWrite, writeReleasing, type ReleasedWrite } from './released-write.js';
import { seal } from './sealed.js';
import { stepTaskId } from './step-task.js';
import type { WorkflowsOptions } from './options.js';

/** A settled promise: what an advance of a run with none before it in this process waits for. */
const SETTLED: Promise<null> = Promise.resolve(null);

/** What the advancer needs from `Workflows`. */
export interface AdvancerParts {
	/** The run store. */
	readonly store: WorkflowStore;
	/** The scheduler. */
	readonly scheduler: WorkflowsOptions['scheduler'];
	/** The actions. */
	readonly actions: WorkflowActions | ItemBuilders;
	/** See `WorkflowsOptions.dispatchGraceMs`. */
	readonly dispatchGraceMs: number;
	/** The checked definition a run started with. */
	definitionFor(run: RunRecord): Promise<CheckedDefinition>;
	/** The same when known without a read (defined here, or read before): the step's advance awaits nothing for it. */
	definitionAt(run: RunRecord): CheckedDefinition | undefined;
	/** Emit an event. */
	emit<K extends keyof WorkflowEvents>(name: K, ...args: WorkflowEvents[K]): void;
	/** Whether anyone listens to the event (payloads are copies: made only for listeners). */
	listening(name: keyof WorkflowEvents): boolean;
	/** A run was written or read with nothing left to do: resolve its waiters. */
	settled(run: RunRecord): void;
}

/** A step task's end, as an event told it: which generation, and the task's view. */
export interface KnownTask {
	/** The generation of the step the task ran. */
	readonly generation: number;
	/** The task as the event carried it. */
	readonly view: TaskView;
}

/** Serialised advances and commands per run, and their effects. */
export class Advancer {
	readonly #parts: AdvancerParts;
	readonly #chains = new Map<string, Promise<RunRecord | null>>();
	/** Per run: an event-driven advance queued behind another and not yet begun, which later step ends join. */
	readonly #queued = new Map<
		string,
		{ known: Map<string, KnownTask> | undefined; done: Promise<RunRecord | null> }
	>();
	readonly #deadlines = new Map<string, ReturnType<typeof setTimeout>>();
	/** Step tasks added together (see step-dispatch.ts). */
	readonly #adds: StepAdds;
	/** The record of each run this process last wrote: a step end's advance plans from it, unread (see known-runs.ts). */
	readonly #written = new KnownRuns();
	/**
	 * With a store that shares a transaction with the scheduler's container (SQL): the scheduler's two halves of
	 * `add` and the store's run write that inserts the released step tasks with it. `null`: a write, then an add.
	 */
	readonly #release: ReleasedWrite | null;
	/** The runs whose advance failed on an outage, kicked again together soon (advance-recovery.ts). */
	readonly #recovery = new AdvanceRecovery((runId) => this.#kick(runId, undefined, undefined, true));
	#closed = false;

	constructor(parts: AdvancerParts) {
		this.#parts = parts;
		this.#adds = new StepAdds(parts.scheduler);
		this.#release = releasedWrite(parts.scheduler, parts.store);
	}

	/**
	 * Advance the run once its earlier advances in this process are done. Never rejects (failures become `error`
	 * events; one on an outage is tried again soon, see advance-recovery.ts). `known`: the end of a step task this
	 * process just heard of (by step id, with its generation); the advance then reads no other task. Without it,
	 * every running step's task is read. The map is taken over (the ends heard of before the advance begins are
	 * added to it): the caller makes it for this call.
	 */
	kick(runId: string, known?: Map<string, KnownTask>, first?: RunRecord): Promise<RunRecord | null> {
		return this.#kick(runId, known, first, false);
	}

	/** `kick`; `retried`: the recovery's, whose outage was reported when it first failed (not again). */
	#kick(
		runId: string,
		known: Map<string, KnownTask> | undefined,
		first: RunRecord | undefined,
		retried: boolean,
	): Promise<RunRecord | null> {
		// Step ends of one run that arrive together (a fan-in) share one advance: one read and one write for all.
		const queued = this.#queued.get(runId);
		if (queued !== undefined) {
			if (known === undefined || queued.known === undefined) queued.known = undefined;
			else
				for (const [stepId, task] of known) {
					const had = queued.known.get(stepId);
					if (had === undefined || had.generation <= task.generation) queued.known.set(stepId, task);
				}
			return queued.done;
		}
		const entry = {
			known,
			done: SETTLED as Promise<RunRecord | null>,
		};
		entry.done = this.#serial(runId, () => {
			if (this.#queued.get(runId) === entry) this.#queued.delete(runId);
			return this.#advance(runId, entry.known, first);
		}).catch((error: unknown) => {
			if (this.#closed) return null;
			const outage = isOutage(error);
			if (outage) this.#recovery.add(runId);
			if (!retried || !outage)
				this.#parts.emit('error', error instanceof Error ? error : new Error(String(error)));
			return null;
		});
		this.#queued.set(runId, entry);
		return entry.done;
	}

	/** Apply a command with a compare-and-set (again on a conflict), then advance. Rejects with the command's error. */
	async command(
		runId: string,
		change: (run: RunRecord, definition: CheckedDefinition) => CommandResult,
	): Promise<RunRecord> {
		const result = await this.#serial(runId, async () => {
			const { store } = this.#parts;
			this.#written.forget(runId);
			for (let round = 0; round < MAX_ROUNDS; round++) {
				const stored = await store.get(runId);
				if (stored === null) throw new RunNotFoundError(runId);
				const definition = await this.#parts.definitionFor(stored);
				const { run, stop } = change(stored, definition);
				const written = await store.update(seal(run));
				if (written === null) continue;
				this.#statusEvents(stored.status, written);
				await stopTasks(this.#parts.scheduler, stop);
				return (await this.#advance(runId)) ?? written;
			}
			throw new WorkflowError(`Workflow run \`${runId}\` kept changing; try the command again`, 'ERR_RUN_STATE');
		});
		return result as RunRecord;
	}

	/**
	 * The sweep's look at one open run (as `open()` listed it): advance it only when something may have changed
	 * that this process did not hear of — a step task that ended or is missing, a passed deadline, a callback
	 * due, a run no step runs for. A quiet run with its steps still running costs one task read per running step.
	 * A read failing on an outage hands the run to the recovery and resolves: the sweep goes on to the next runs.
	 */
	async sweepOne(run: RunRecord): Promise<void> {
		let move: boolean;
		try {
			move = await this.#mayMove(run);
		} catch (error) {
			if (!isOutage(error)) throw error;
			this.#recovery.add(run.id);
			if (!this.#closed) this.#parts.emit('error', error as Error);
			return;
		}
		if (move) await this.kick(run.id);
	}

	async #mayMove(run: RunRecord): Promise<boolean> {
		if (isFinalRunStatus(run.status)) return true;
		if (run.deadlineAt !== null && Date.now() >= run.deadlineAt) return true;
		const running = Object.entries(run.steps).filter(([, step]) => step.status === 'running');
		if (running.length === 0) return run.status !== 'paused' && run.status !== 'blocked';
		if (run.status === 'paused' && running.some(([, step]) => step.handBack)) return true;
		for (const [stepId, step] of running) {
			const task = await this.#parts.scheduler.get(stepTaskId(run.id, stepId, step.generation));
			if (task === null || task.status === 'succeeded' || task.status === 'failed' || task.status === 'stopped')
				return true;
		}
		return false;
	}

	/** Stop the deadline timers and wait for the advances in flight. */
	async close(): Promise<void> {
		this.#closed = true;
		this.#recovery.close();
		for (const timer of this.#deadlines.values()) clearTimeout(timer);
		this.#deadlines.clear();
		this.#written.clear();
		await Promise.allSettled([...this.#chains.values()]);
	}

	#serial(runId: string, work: () => Promise<RunRecord | null>): Promise<RunRecord | null> {
		// Begun once the run's previous advance or command has settled, either way; never within this call.
		const next = (this.#chains.get(runId) ?? SETTLED).then(work, work);
		this.#chains.set(runId, next);
		// Two arrows written inline, not one named: a named arrow made per call costs a `name` property under a
		// transpiler that keeps names (tsx), about 0.4 µs.
		next.then(
			() => this.#unchain(runId, next),
			() => this.#unchain(runId, next),
		);
		return next;
	}

	/** Forget the run's chain if `last` is still its end. */
	#unchain(runId: string, last: Promise<RunRecord | null>): void {
		if (this.#chains.get(runId) === last) this.#chains.delete(runId);
	}

	/**
	 * Read the run, plan, write, then apply the effects. In the first round the run is not read when its record is
	 * at hand: `first` (the record just created), or, at a step's end (`known`), the record this process last wrote.
	 * A plan from the latter is applied only through its compare-and-set write, which proves that record still
	 * current; a plan that writes nothing, or a refused write, reads the run and plans again.
	 */
	async #advance(
		runId: string,
		known?: ReadonlyMap<string, KnownTask>,
		first?: RunRecord,
	): Promise<RunRecord | null> {
		const { store, scheduler } = this.#parts;
		let guess = known !== undefined && first === undefined ? this.#written.take(runId) : undefined;
		let ends = known;
		for (let round = 0; round < MAX_ROUNDS; round++) {
			if (this.#closed) return null;
			const guessed = guess !== undefined;
			const stored = guess ?? (round === 0 && first !== undefined ? first : await store.get(runId));
			guess = undefined;
			if (stored === null) return null;
			const definition = this.#parts.definitionAt(stored) ?? (await this.#parts.definitionFor(stored));
			const views = new Map<string, TaskView | null>();
			if (ends !== undefined) {
				// Event-driven: the task that ended is known; the others are left as they are (the sweep reads them).
				for (const [stepId, task] of ends) {
					const step = Object.prototype.hasOwnProperty.call(stored.steps, stepId)
						? stored.steps[stepId]
						: undefined;
					if (step?.status === 'running' && task.generation === step.generation) views.set(stepId, task.view);
				}
			} else {
				const running = Object.entries(stored.steps).filter(([, step]) => step.status === 'running');
				await Promise.all(
					running.map(async ([stepId, step]) => {
						const task = await scheduler.get(stepTaskId(runId, stepId, step.generation));
						views.set(
							stepId,
							task === null
								? null
								: {
										status: task.status,
										output: task.output,
										error: task.error,
										attempts: task.attempts,
									},
						);
					}),
				);
			}
			const now = Date.now();
			const plan = planAdvance(stored, definition, views, now, {
				dispatchGraceMs: this.#parts.dispatchGraceMs,
				hasCallback: definition.onFinished !== undefined,
			});
			// Nothing to write proves a remembered record current: read the run and plan again.
			if (guessed && !plan.changed) continue;
			let current = stored;
			/** The dispatched steps' tasks, stored with the run write (announced once the events are out). */
			let released: readonly TaskRecord[] | null = null;
			if (plan.changed) {
				let written: RunRecord | null;
				const together =
					this.#release === null || plan.dispatch.length === 0
						? undefined
						: await writeReleasing(this.#release, plan.run, definition, plan.dispatch, this.#parts.actions);
				if (together === undefined) written = await store.update(seal(plan.run));
				else {
					written = together?.run ?? null;
					released = together?.added ?? null;
				}
				if (written === null) continue;
				current = written;
				for (let i = 0; i < plan.events.length; i++) {
					const { name, stepId } = plan.events[i] as Plan['events'][number];
					if (this.#parts.listening(name))
						this.#parts.emit(name, {
							run: copyRun(current),
							stepId,
							step: cloneJson(current.steps[stepId]!),
						});
				}
				this.#statusEvents(stored.status, current);
			}
			if (released !== null) this.#release?.tasks.announce(released);
			let adds: ('added' | 'existing' | 'failed')[];
			if (released !== null)
				adds = plan.dispatch.map((d) => (released.some((t) => t.id === d.taskId) ? 'added' : 'existing'));
			else if (plan.dispatch.length === 0) adds = [];
			// A chain's step: its one add awaited alone, no Promise.all.
			else if (plan.dispatch.length === 1)
				adds = [await this.#addStep(current, definition, plan.dispatch[0] as Dispatch)];
			else adds = await Promise.all(plan.dispatch.map((d) => this.#addStep(current, definition, d)));
			if (plan.stop.length > 0) await stopTasks(this.#parts.scheduler, plan.stop);
			if (adds.includes('failed')) continue;
			// A dispatched step whose task was stored already (an earlier try's) may have finished before this write
			// made the step running: its end was then passed over, and nothing else would bring it back before the
			// sweep. Plan again with those ends.
			if (adds.includes('existing')) {
				const ended = await endedAlready(
					this.#parts.scheduler,
					plan.dispatch.filter((_, i) => adds[i] === 'existing'),
				);
				if (ended.size > 0) {
					ends = new Map([...(ends ?? []), ...ended]);
					continue;
				}
			}
			if (mayNotify(current, definition))
				current = await notifyFinished(
					this.#parts,
					current,
					definition,
					plan.changed && !isFinalRunStatus(stored.status),
				);
			this.#deadline(current);
			this.#written.remember(current);
			this.#parts.settled(current);
			return current;
		}
		return null;
	}

	#statusEvents(from: RunStatus, run: RunRecord): void {
		if (from === run.status) return;
		if (this.#parts.listening('run:status')) this.#parts.emit('run:status', { run: copyRun(run), from });
		if (isFinalRunStatus(run.status) && this.#parts.listening('run:finished'))
			this.#parts.emit('run:finished', { run: copyRun(run) });
	}

	/**
	 * Add a step's task unless it exists: `added`, `existing` (stored already, by an earlier try), or `failed` (the
	 * step was failed instead: its item refused).
	 */
	async #addStep(
		run: RunRecord,
		definition: CheckedDefinition,
		dispatch: Dispatch,
	): Promise<'added' | 'existing' | 'failed'> {
		const { scheduler } = this.#parts;
		if (!dispatch.fresh && (await scheduler.get(dispatch.taskId)) !== null) return 'existing';
		if (!definition.steps.has(dispatch.stepId)) return 'added';
		try {
			await this.#adds.add(stepTaskFor(run, definition, dispatch, this.#parts.actions, this.#adds.retention));
			return 'added';
		} catch (error) {
			if (error instanceof DuplicateTaskError) return 'existing';
			// A step whose item is refused fails now; anything else (an outage) is retried by the sweep.
			if (
				error instanceof InvalidTaskError ||
				error instanceof NonRetryableError ||
				!(error instanceof Error && 'code' in error)
			) {
				await failStep(
					this.#parts,
					this.#written,
					{ runId: run.id, stepId: dispatch.stepId, generation: dispatch.generation },
					error,
				);
				return 'failed';
			}
			throw error;
		}
	}

	#deadline(run: RunRecord): void {
		const existing = this.#deadlines.get(run.id);
		if (existing !== undefined) clearTimeout(existing);
		this.#deadlines.delete(run.id);
		if (isFinalRunStatus(run.status) || run.deadlineAt === null || this.#closed) return;
		const timer = setTimeout(
			() => {
				this.#deadlines.delete(run.id);
				void this.kick(run.id);
			},
			Math.min(Math.max(0, run.deadlineAt - Date.now() + 5), 2_147_483_647),
		);
		timer.unref?.();
		this.#deadlines.set(run.id, timer);
	}
}
