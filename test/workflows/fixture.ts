/** A scheduler on an in-process container, a FunctionActuator running workflowActions, and Workflows over them. */
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';
import {
	MemoryWorkflowStore,
	Workflows,
	workflowActions,
	type ActionHandler,
	type WorkflowStore,
	type WorkflowsOptions,
} from 'lightsched/workflows';

export type ContainerKind = 'QueueContainer' | 'OrderedMapContainer';
export const CONTAINER_KINDS: readonly ContainerKind[] = ['QueueContainer', 'OrderedMapContainer'];

export interface FlowSetup {
	readonly scheduler: Scheduler;
	readonly flows: Workflows;
	readonly store: WorkflowStore;
	readonly actions: ReturnType<typeof workflowActions>;
	/** Another Workflows on the same scheduler and store (a second process's view, for takeover tests). */
	another(options?: Partial<Omit<WorkflowsOptions, 'scheduler' | 'store' | 'actions'>>): Workflows;
	close(): Promise<void>;
}

export function makeFlows(
	kind: ContainerKind | TaskContainer,
	handlers: Record<string, ActionHandler>,
	options: Partial<Omit<WorkflowsOptions, 'scheduler' | 'actions'>> = {},
): FlowSetup {
	const container =
		typeof kind !== 'string' ? kind : kind === 'QueueContainer' ? new QueueContainer() : new OrderedMapContainer();
	const actions = workflowActions(handlers);
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(actions),
		concurrency: 8,
		backoff: { type: 'fixed', delayMs: 10 },
	}) as unknown as Scheduler;
	const store = options.store ?? new MemoryWorkflowStore();
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 50, ...options });
	const extra: Workflows[] = [];
	return {
		scheduler,
		flows,
		store,
		actions,
		another: (more = {}) => {
			const next = new Workflows({ scheduler, actions, store, sweepMs: 50, ...more });
			extra.push(next);
			return next;
		},
		close: async () => {
			for (const other of extra) await other.close();
			await flows.close();
			await scheduler.close();
			await store.close();
		},
	};
}

/** A promise with its resolve, for steps that wait on the test. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
	let open!: (value: T) => void;
	const promise = new Promise<T>((resolve) => (open = resolve));
	return { promise, open };
}

/** Resolves when `check` holds, polling every 10 ms (fails after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
	const end = Date.now() + ms;
	while (!(await check())) {
		if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** Waits until the handler sees its signal abort, then throws its reason (a step that honours stop). */
export function untilAborted(signal: AbortSignal): Promise<never> {
	return new Promise((_, reject) => {
		if (signal.aborted) reject(signal.reason);
		signal.addEventListener('abort', () => reject(signal.reason), { once: true });
	});
}
