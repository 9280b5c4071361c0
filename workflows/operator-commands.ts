/**
 * The operator commands (stop, pause, resume, retry, retryFrom, continue, skip) for a process that has the store and
 * the scheduler but not the app's actions: a shell (`lightsched runs`), a dashboard. A command is the same
 * compare-and-set write of the run as `Workflows` makes (`applyCommand`, commands.ts), then the stop of the step tasks
 * it names; it does not advance the run. The advance (dispatching steps, ending a stopped run once its steps' tasks
 * have ended) is done by the `Workflows` of the processes that run the steps: on their next step event, or in their
 * periodic sweep (`sweepMs`), which looks at every open run.
 */
import type { Scheduler } from 'lightsched';
import type { RunRecord, WorkflowStore } from '../src/workflow-store.js';
import { applyCommand, type CommandName } from './commands.js';
import { copyRun } from './advance.js';
import { DefinitionRegistry } from './definition-registry.js';
import { RunNotFoundError, WorkflowError } from './errors.js';
import { MAX_ROUNDS, stopTasks } from './run-effects.js';
import { seal } from './sealed.js';

/** What the commands need: the run store and a scheduler on the container of the step tasks. */
export interface OperatorParts {
	/** The run store the workers' `Workflows` use. */
	readonly store: WorkflowStore;
	/** A scheduler on the step tasks' container (it need not run anything: `autoStart: false`). */
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	readonly scheduler: Scheduler<any, any>;
}

/** The operator commands without the engine: each resolves with the run as written (a copy). */
export class RunOperator {
	readonly #parts: OperatorParts;
	/** Stored definitions only (checked without action names), read once per version. */
	readonly #definitions: DefinitionRegistry;

	constructor(parts: OperatorParts) {
		this.#parts = parts;
		this.#definitions = new DefinitionRegistry(parts.store, new Set());
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
