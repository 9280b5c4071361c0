/**
 * A dispatched step becomes a task: `stepTaskFor` builds it (its id, the item the actuator receives, the step's
 * attempts, timeout and priority), and `StepAdds` adds step tasks asked for in the same tick in one container add
 * (a fan-out's steps, the steps of other runs advancing at the same time): one transaction or round trip for many.
 */
import { NonRetryableError, taskRelease, type NewTask, type TaskRelease, type TaskRetention } from 'lightsched/kit';
import type { RunRecord } from '../src/workflow-store.js';
import { isWorkflowActions, type ItemBuilders, type WorkflowActions } from './actions.js';
import { cloneJson, type Dispatch } from './advance.js';
import type { CheckedDefinition } from './definition.js';
import type { WorkflowsOptions } from './options.js';
import { stepTaskRetention } from './step-retention.js';
import type { StepItem } from './step-task.js';

/**
 * The task of a dispatched step: the step's item (or its action's item builder's), attempts, timeout, priority, and
 * `retention`, the rule of step-retention.ts under the scheduler's option.
 */
export function stepTaskFor(
	run: RunRecord,
	definition: CheckedDefinition,
	dispatch: Dispatch,
	actions: WorkflowActions | ItemBuilders,
	retention: TaskRetention | undefined,
): NewTask {
	const def = definition.steps.get(dispatch.stepId);
	if (def === undefined) throw new NonRetryableError(`No step \`${dispatch.stepId}\` in the definition`);
	const item: StepItem = {
		workflow: {
			runId: run.id,
			stepId: dispatch.stepId,
			generation: dispatch.generation,
			definition: run.definition,
			version: run.version,
		},
		action: def.action,
		params: cloneJson(dispatch.params),
		// Copies: the run record shares these with the engine's records (see planAdvance), and an actuator may be
		// handed the item itself (an in-memory container).
		inputs: cloneJson(dispatch.inputs),
		vars: cloneJson(run.vars),
		saved: cloneJson(dispatch.saved),
	};
	const task: { -readonly [K in keyof NewTask]: NewTask[K] } = { id: dispatch.taskId, item };
	if (def.maxAttempts !== undefined) task.maxAttempts = def.maxAttempts;
	if (def.timeoutMs !== undefined) task.timeoutMs = def.timeoutMs;
	if (def.priority !== undefined) task.priority = def.priority;
	if (retention !== undefined) task.retention = retention;
	if (!isWorkflowActions(actions)) {
		const build = actions[def.action];
		if (build === undefined) throw new NonRetryableError(`No item builder for action \`${def.action}\``);
		task.item = build(item.params, item);
	}
	return task;
}

/** The most step tasks one container add stores. */
const MAX_BATCH = 500;

/** A step task waiting for the next batched add. */
interface PendingAdd {
	readonly task: NewTask;
	resolve(): void;
	reject(error: unknown): void;
}

/** Step tasks asked for in the same tick, added in one container add. */
export class StepAdds {
	readonly #scheduler: WorkflowsOptions['scheduler'];
	readonly #pending: PendingAdd[] = [];
	#adding = false;
	/** The own retention rule of the step tasks (see `stepTaskFor`). */
	readonly retention: TaskRetention | undefined;

	constructor(scheduler: WorkflowsOptions['scheduler']) {
		this.#scheduler = scheduler;
		const release = (scheduler as { [taskRelease]?: () => TaskRelease })[taskRelease]?.();
		this.retention = stepTaskRetention(release?.retention);
	}

	/**
	 * Add one step task with the others asked for meanwhile. A refused batch (all or nothing: one duplicate or
	 * invalid task) is tried again task by task, so each gets its own outcome.
	 */
	add(task: NewTask): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			this.#pending.push({ task, resolve, reject });
			if (this.#adding) return;
			this.#adding = true;
			queueMicrotask(() => void this.#flush());
		});
	}

	async #flush(): Promise<void> {
		const scheduler = this.#scheduler;
		try {
			while (this.#pending.length > 0) {
				const batch = this.#pending.splice(0, MAX_BATCH);
				if (batch.length === 1) {
					await this.#alone(batch[0] as PendingAdd);
					continue;
				}
				try {
					await scheduler.add(batch.map((pending) => pending.task));
				} catch {
					await Promise.all(batch.map((pending) => this.#alone(pending)));
					continue;
				}
				for (const pending of batch) pending.resolve();
			}
		} finally {
			this.#adding = false;
		}
	}

	/** Add one pending task by itself, settling its promise. */
	async #alone(pending: PendingAdd): Promise<void> {
		try {
			await this.#scheduler.add(pending.task);
			pending.resolve();
		} catch (error) {
			pending.reject(error);
		}
	}
}
