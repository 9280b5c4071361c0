/**
 * Actions: what a step's `action` runs. `workflowActions({ name: handler })` makes the function a
 * `FunctionActuator` runs for step tasks: it dispatches by action name and hands each handler its params and a
 * context (the run's shared data, checkpoints, a trace, the outputs of the steps it depends on). For another
 * actuator (Docker, HTTP, a process), give `Workflows` an `ItemBuilders` record instead: each builds that
 * actuator's item from the step's params.
 */
import { NonRetryableError, type TaskRecord } from 'lightsched';
import type { FunctionContext, TaskFunction } from 'lightsched/actuators/function';
import type { RunRecord, StepState, WorkflowStore } from '../src/workflow-store.js';
import { WorkflowError } from './errors.js';
import type { StepItem, StepRef } from './step-task.js';

/** The bounds of a step's trace. */
export interface TraceLimits {
	/** The most lines a step keeps (older lines are dropped). */
	readonly lines: number;
	/** The longest line kept (longer ones are cut, with `…`). */
	readonly lineLength: number;
}

/** The bounds of a step's trace: 200 lines of at most 2,000 characters. */
export const TRACE_LIMITS: TraceLimits = { lines: 200, lineLength: 2000 };

/** What a handler receives besides its params. */
export interface StepContext {
	/** The run's id. */
	readonly runId: string;
	/** The step's id. */
	readonly stepId: string;
	/** The run's vars. */
	readonly vars: Readonly<Record<string, unknown>>;
	/** The outputs of the steps this one depends on, by step id. */
	readonly inputs: Readonly<Record<string, unknown>>;
	/** Which attempt of the step's task this is (1 for the first). */
	readonly attempt: number;
	/** The last checkpoint the step saved (in an earlier attempt, a taken-over task or a retried run), or `undefined`. */
	readonly saved: unknown;
	/** Aborts when the step is stopped or times out. */
	readonly signal: AbortSignal;
	/** Report progress (stored on the step's task). */
	progress(progress: unknown): void;
	/** The run's shared data: persisted at once; concurrent steps writing different keys lose nothing. */
	readonly shared: {
		/** A key's value, read from the store now (`undefined` when absent). */
		get(key: string): Promise<unknown>;
		/** Store a key's value (JSON). */
		set(key: string, value: unknown): Promise<void>;
	};
	/** Save the step's state; a retried or taken-over step receives it as `saved`. */
	checkpoint(state: unknown): Promise<void>;
	/** Append a line to the step's persisted trace (bounded: `TRACE_LIMITS`). */
	trace(line: string): Promise<void>;
}

/** A handler: the step's rendered params and its context; what it returns is the step's output (JSON). */
export type ActionHandler = (params: Record<string, unknown>, ctx: StepContext) => unknown;

/** The function `workflowActions` returns: give it to a `FunctionActuator`, and to `Workflows` as `actions`. */
export type WorkflowActions = TaskFunction<StepItem, unknown> & {
	/** The action names it knows. */
	readonly actionNames: readonly string[];
	/** Connect the handlers to the store their runs live in (`Workflows` does it). @internal */
	attach(store: WorkflowStore): void;
};

/** For actuators other than the FunctionActuator: each action builds its actuator's task item from the step. */
export type ItemBuilders = Readonly<Record<string, (params: Record<string, unknown>, step: StepItem) => unknown>>;

/** Change the step's record in the store with a compare-and-set, again on a conflict; stale steps are refused. */
async function changeStep(
	store: WorkflowStore,
	ref: StepRef,
	change: (run: RunRecord, step: StepState) => void,
): Promise<void> {
	for (let round = 0; round < 100; round++) {
		const run = await store.get(ref.runId);
		const step = run?.steps[ref.stepId];
		if (run === null || step === undefined || step.generation !== ref.generation || step.status !== 'running') {
			throw new NonRetryableError(
				`Step \`${ref.stepId}\` of run \`${ref.runId}\` (generation ${ref.generation}) is no longer running`,
				{ code: 'ERR_STEP_STALE' as never },
			);
		}
		change(run, step);
		if ((await store.update(run)) !== null) return;
	}
	throw new WorkflowError(
		`Step \`${ref.stepId}\` of run \`${ref.runId}\`: its run kept changing; the write was not stored`,
		'ERR_RUN_STATE',
	);
}

/**
 * A later attempt (a retry, a taken-over task): the checkpoint an earlier attempt saved, and the refusal of a step
 * whose run moved on.
 */
async function laterAttempt(
	store: WorkflowStore,
	handler: ActionHandler,
	item: StepItem,
	fctx: FunctionContext<StepItem>,
	attempt: number,
): Promise<unknown> {
	const ref = item.workflow;
	const current = await store.get(ref.runId);
	const step = current?.steps[ref.stepId];
	if (current === null || step === undefined || step.generation !== ref.generation || step.status !== 'running') {
		throw new NonRetryableError(
			`Step \`${ref.stepId}\` of run \`${ref.runId}\` (generation ${ref.generation}) is no longer running`,
			{ code: 'ERR_STEP_STALE' as never },
		);
	}
	return await handler(item.params, new StepCall(store, item, fctx, attempt, step.checkpoint ?? undefined));
}

/**
 * A handler's context. A class, not an object literal: the data are its own fields, and what calls the store or the
 * function context (`signal`, `progress`, `shared`, `checkpoint`, `trace`) is made when first read, so a step that
 * uses none of them costs no closure (a literal with a getter and five closures was most of what a no-op step's
 * handler call allocated). Each is still a function of its own, so `const { checkpoint } = ctx` works.
 */
class StepCall implements StepContext {
	readonly runId: string;
	readonly stepId: string;
	readonly vars: Readonly<Record<string, unknown>>;
	readonly inputs: Readonly<Record<string, unknown>>;
	readonly attempt: number;
	readonly saved: unknown;
	readonly #store: WorkflowStore;
	readonly #ref: StepRef;
	readonly #fctx: FunctionContext<StepItem>;
	#shared: StepContext['shared'] | undefined;
	#checkpoint: StepContext['checkpoint'] | undefined;
	#trace: StepContext['trace'] | undefined;

	constructor(
		store: WorkflowStore,
		item: StepItem,
		fctx: FunctionContext<StepItem>,
		attempt: number,
		saved: unknown,
	) {
		this.runId = item.workflow.runId;
		this.stepId = item.workflow.stepId;
		this.vars = item.vars;
		this.inputs = item.inputs;
		this.attempt = attempt;
		this.saved = saved;
		this.#store = store;
		this.#ref = item.workflow;
		this.#fctx = fctx;
	}

	/** Read on demand: the function context makes its AbortController only when the work asks for it. */
	get signal(): AbortSignal {
		return this.#fctx.signal;
	}

	get progress(): (progress: unknown) => void {
		return this.#fctx.progress;
	}

	get shared(): StepContext['shared'] {
		const store = this.#store;
		const ref = this.#ref;
		return (this.#shared ??= {
			get: async (key) => (await store.get(ref.runId))?.shared[key],
			set: (key, value) =>
				changeStep(store, ref, (r) => {
					r.shared[key] = value;
				}),
		});
	}

	get checkpoint(): StepContext['checkpoint'] {
		const store = this.#store;
		const ref = this.#ref;
		return (this.#checkpoint ??= (state) =>
			changeStep(store, ref, (_r, s) => {
				s.checkpoint = state ?? null;
			}));
	}

	get trace(): StepContext['trace'] {
		const store = this.#store;
		const ref = this.#ref;
		return (this.#trace ??= (line) =>
			changeStep(store, ref, (_r, s) => {
				const text = String(line);
				s.trace.push(
					text.length > TRACE_LIMITS.lineLength ? `${text.slice(0, TRACE_LIMITS.lineLength)}…` : text,
				);
				if (s.trace.length > TRACE_LIMITS.lines) s.trace.splice(0, s.trace.length - TRACE_LIMITS.lines);
			}));
	}
}

/** The function for a `FunctionActuator` that runs step tasks by action name. */
export function workflowActions(handlers: Readonly<Record<string, ActionHandler>>): WorkflowActions {
	if (typeof handlers !== 'object' || handlers === null)
		throw new TypeError('Expected `handlers` of workflowActions to be an object of functions by action name');
	for (const [name, handler] of Object.entries(handlers)) {
		if (typeof handler !== 'function')
			throw new TypeError(
				`Expected \`handlers.${name}\` of workflowActions to be a function, got ${typeof handler}`,
			);
	}
	let store: WorkflowStore | undefined;
	// Not async: a first attempt reads nothing before its handler, so a handler that returns at once ends its task
	// at once (the FunctionActuator takes a value or a promise); a throw fails the attempt either way.
	const run = (item: StepItem, fctx: FunctionContext<StepItem>): unknown => {
		const handler = Object.prototype.hasOwnProperty.call(handlers, item?.action)
			? handlers[item.action]
			: undefined;
		if (handler === undefined)
			throw new NonRetryableError(
				`No handler for action \`${String(item?.action)}\` (known: ${Object.keys(handlers).join(', ')})`,
			);
		if (store === undefined)
			throw new NonRetryableError(
				'These workflowActions are not attached to a store: pass them to `new Workflows({ actions })` first',
			);
		const attempt = (fctx.task as TaskRecord).attempts;
		if (attempt <= 1 && Object.prototype.hasOwnProperty.call(item, 'saved')) {
			// A first attempt: its item carries the checkpoint as it was when the step was dispatched, and nothing
			// else writes this generation's checkpoint before it runs; no run read. (A first attempt is stale only
			// if its adder stalled past `dispatchGraceMs`: its output is then never recorded, and its calls below
			// are refused.)
			return handler(item.params, new StepCall(store, item, fctx, attempt, item.saved ?? undefined));
		}
		return laterAttempt(store, handler, item, fctx, attempt);
	};
	return Object.assign(run, {
		actionNames: Object.keys(handlers),
		attach(next: WorkflowStore): void {
			if (store !== undefined && store !== next)
				throw new TypeError(
					'These workflowActions are attached to another store already: make one set per store',
				);
			store = next;
		},
	});
}

/** Whether `actions` came from `workflowActions`. */
export function isWorkflowActions(actions: unknown): actions is WorkflowActions {
	return typeof actions === 'function' && Array.isArray((actions as Partial<WorkflowActions>).actionNames);
}

/** The action names `actions` offers (`Workflows`' `actions` option), or a `TypeError` saying what it takes. */
export function actionNamesOf(actions: unknown): Set<string> {
	if (isWorkflowActions(actions)) return new Set(actions.actionNames);
	if (
		typeof actions === 'object' &&
		actions !== null &&
		Object.values(actions).every((builder) => typeof builder === 'function')
	)
		return new Set(Object.keys(actions));
	throw new TypeError(
		'Expected `actions` of Workflows to be workflowActions({...}) or an object of item builders by action name',
	);
}
