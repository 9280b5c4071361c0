/** What `Workflows` and its calls take, with the checks of their options. */
import type { Scheduler } from 'lightsched';
import { describeValue } from '../src/errors.js';
import { isWellFormedText } from '../src/json-check.js';
import type { ItemBuilders, WorkflowActions } from './actions.js';
import type { WorkflowStore } from '../src/workflow-store.js';
import type { RunRetentionOptions } from './run-retention.js';

/** What `new Workflows()` takes. */
export interface WorkflowsOptions {
	/** The scheduler whose container holds the step tasks and whose actuator runs them. */
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	readonly scheduler: Scheduler<any, any>;
	/**
	 * The actions steps may name: `workflowActions({...})` (the function the scheduler's `FunctionActuator` runs),
	 * or, for another actuator, an `ItemBuilders` record that builds its task item from a step's params.
	 */
	readonly actions: WorkflowActions | ItemBuilders;
	/**
	 * Where runs live. Use a shared store (SQL) with a shared container, so another process can finish a run.
	 * @default a new MemoryWorkflowStore (closed by `close()`; a store you pass is yours to close)
	 */
	readonly store?: WorkflowStore;
	/**
	 * How often the open runs are swept (step ends heard from other processes, crashed advances, deadlines), in
	 * milliseconds.
	 * @default 2000
	 */
	readonly sweepMs?: number;
	/**
	 * How long a dispatched step's task may be missing before the step is dispatched again (the process that
	 * dispatched it may have died before adding it), and how long a final run's callback may stay uncalled
	 * before another process calls it, in milliseconds.
	 * @default 10000
	 */
	readonly dispatchGraceMs?: number;
	/**
	 * Delete finished runs, and their step tasks, by age or count per final status, in a background pass of every
	 * process (see `Workflows.clean` for one pass by hand).
	 * @default none: finished runs are kept until removed
	 */
	readonly retention?: RunRetentionOptions;
}

/** What `start` takes. */
export interface StartOptions {
	/** Values for the definition's vars (each must be declared; JSON). */
	readonly vars?: Readonly<Record<string, unknown>>;
	/** A business key to find the run by (`list({ key })`). */
	readonly key?: string;
	/** Refuse the start while another unfinished run with `unique` holds the same key. */
	readonly unique?: boolean;
	/** The definition version to run. @default the latest defined in this process */
	readonly version?: number;
	/**
	 * The run's id (at most 256 characters): a second start with the same id is refused with `DuplicateRunError`,
	 * so a start can be repeated safely (idempotent start). @default a random UUID
	 */
	readonly id?: string;
}

/** A definition version that `define` or `load` added. */
export interface DefinedVersion {
	/** The definition's name. */
	readonly name: string;
	/** Its version. */
	readonly version: number;
}

/** What `wait` takes. */
export interface WaitOptions {
	/** Reject with `ERR_RUN_STATE` after this many milliseconds. No limit when absent. */
	readonly timeoutMs?: number;
}

export const OPTION_NAMES = ['scheduler', 'actions', 'store', 'sweepMs', 'dispatchGraceMs', 'retention'];
export const START_NAMES = ['vars', 'key', 'unique', 'version', 'id'];

/**
 * The longest run id `start` takes: a step task's id is `wf:<runId>:<stepId>:<generation>` (step ids of at most
 * 100 characters), within the 512 characters a task id and a stored run id may have.
 */
export const MAX_RUN_ID_LENGTH = 256;

/** A caller's run id: a non-empty, well-formed string of at most `MAX_RUN_ID_LENGTH` characters. */
export function checkRunId(id: unknown): string {
	if (typeof id !== 'string' || id.length === 0 || id.length > MAX_RUN_ID_LENGTH || !isWellFormedText(id)) {
		throw new TypeError(
			`Expected \`id\` to be a non-empty string of at most ${MAX_RUN_ID_LENGTH} characters without lone surrogates, got ${describeValue(id)}`,
		);
	}
	return id;
}

/** An integer number of milliseconds (or a count) from `min`, else a `TypeError` naming `name`. */
export function checkMs(name: string, value: unknown, min: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2_147_483_647) {
		throw new TypeError(
			`Expected \`${name}\` to be an integer from ${min} to 2147483647 (milliseconds), got ${String(value)}`,
		);
	}
	return value;
}
