/**
 * The operator commands (stop, pause, resume, retry, retryFrom, continue, skip, and retryFailed in bulk) for a
 * process that has the store and the scheduler but not the app's actions: a shell (`lightsched runs`), a dashboard, an
 * admin service (exported from `lightsched/workflows`). A command is the same compare-and-set write of the run as
 * `Workflows` makes (`applyCommand`, commands.ts), then the stop of the step tasks it names; it does not advance the
 * run. The advance (dispatching steps, ending a stopped run once its steps' tasks
 * have ended) is done by the `Workflows` of the processes that run the steps: on their next step event, or in their
 * periodic sweep (`sweepMs`), which looks at every open run.
 */
import type { Scheduler } from 'lightsched';
import type { RunRecord, WorkflowStore } from '../src/workflow-store.js';
import {
	applyCommand,
	retryFailedRuns,
	retryLimit,
	type CommandName,
	type FailedRunQuery,
	type RetryFailedOptions,
} from './commands.js';
import { copyRun } from './advance.js';
import { DefinitionRegistry } from './definition-registry.js';
import { RunNotFoundError, WorkflowError } from './errors.js';
import { MAX_ROUNDS, stopTasks } from './run-effects.js';
import { seal } from './sealed.js';

/** What `RunOperator` needs: the run store and a scheduler on the container of the step tasks. */
export interface RunOperatorOptions {
	/** The run store the workers' `Workflows` use. */
	readonly store: WorkflowStore;
	/** A scheduler on the step tasks' container (it need not run anything: `autoStart: false`). */
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	readonly scheduler: Scheduler<any, any>;
}

/**
 * The operator commands of `Workflows` without the engine, for a process that has the run store but not the app's
 * actions (an admin service, a shell): each is the same compare-and-set write and resolves with the run as written
 * (a copy); the workers' `Workflows` carry it on in their sweep.
 */
export class RunOperator {
	readonly #parts: RunOperatorOptions;
	/** Stored definitions only (checked without action names), read once per version. */
	readonly #definitions: DefinitionRegistry;

	constructor(options: RunOperatorOptions) {
		this.#parts = options;
		this.#definitions = new DefinitionRegistry(options.store, new Set());
	}

	/** The run store the commands write (not closed by this class). */
	get store(): WorkflowStore {
		return this.#parts.store;
	}

	/** See `Workflows.stop`: the run ends stopped; its running steps' tasks are stopped. */
	stop(runId: string): Promise<RunRecord> {
		return this.command(runId, 'stop', {});
	}

	/** See `Workflows.pause`. */
	pause(runId: string, options: { readonly now?: boolean } = {}): Promise<RunRecord> {
		return this.command(runId, 'pause', { now: options.now === true });
	}

	/** See `Workflows.resume`. */
	resume(runId: string): Promise<RunRecord> {
		return this.command(runId, 'resume', {});
	}

	/** See `Workflows.retry`. */
	retry(runId: string): Promise<RunRecord> {
		return this.command(runId, 'retry', {});
	}

	/** See `Workflows.retryFrom`. */
	retryFrom(runId: string, stepId: string): Promise<RunRecord> {
		return this.command(runId, 'retryFrom', { stepId });
	}

	/** See `Workflows.continue`. */
	continue(runId: string, stepId: string): Promise<RunRecord> {
		return this.command(runId, 'continue', { stepId });
	}

	/** See `Workflows.skip`. */
	skip(runId: string, stepId: string): Promise<RunRecord> {
		return this.command(runId, 'skip', { stepId });
	}

	/**
	 * See `Workflows.retryFailed`: `retry` on every failed run matching `query`, or on the oldest `limit` of them; a
	 * run retried meanwhile (by another process) is passed over. Resolves with the ids retried.
	 */
	retryFailed(query: FailedRunQuery = {}, options: RetryFailedOptions = {}): Promise<string[]> {
		const limit = retryLimit(options);
		return retryFailedRuns(this.#parts.store, (id) => this.retry(id), query, limit);
	}

	/**
	 * Apply `command` with a compare-and-set (read again on a conflict, as `Workflows` does), then stop the tasks it
	 * names. Rejects with `RunNotFoundError`, `RunStateError`, or `ERR_RUN_STATE` when the run kept changing.
	 */
	async command(
		runId: string,
		command: CommandName,
		args: { readonly stepId?: string; readonly now?: boolean },
	): Promise<RunRecord> {
		const { store, scheduler } = this.#parts;
		for (let round = 0; round < MAX_ROUNDS; round++) {
			const stored = await store.get(runId);
			if (stored === null) throw new RunNotFoundError(runId);
			const definition = await this.#definitions.forRun(stored);
			const { run, stop } = applyCommand(stored, definition, command, args, Date.now());
			const written = await store.update(seal(run));
			if (written === null) continue;
			await stopTasks(scheduler, stop);
			return copyRun(written);
		}
		throw new WorkflowError(`Workflow run \`${runId}\` kept changing; try the command again`, 'ERR_RUN_STATE');
	}
}
