/**
 * The two workflow shapes every workflow bench runs (bench/workflows.ts, bench/workflows-redis-commands.ts,
 * bench/sqlite-step-pages.ts and the A/B benches), 10 no-op steps each, and the engine that runs them.
 */
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import {
	Workflows,
	workflowActions,
	type StepDefinition,
	type StepItem,
	type WorkflowStore,
} from 'lightsched/workflows';

/** A 10-step chain: each step depends on the one before. */
export const CHAIN: StepDefinition[] = Array.from({ length: 10 }, (_, i) => ({
	id: `s${i}`,
	action: 'noop',
	...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
}));

/** A 1 -> 8 -> 1 fan-out/join. */
export const FAN_OUT_JOIN: StepDefinition[] = [
	{ id: 'root', action: 'noop' },
	...Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, action: 'noop', dependsOn: ['root'] })),
	{ id: 'join', action: 'noop', dependsOn: Array.from({ length: 8 }, (_, i) => `b${i}`) },
];

/**
 * A scheduler (concurrency 32) running the `noop` action on `container`, and a workflow engine on it and `store`
 * with `steps` defined as `name`. The caller closes both (flows, then scheduler) and the store.
 */
export function noopWorkflows(
	container: TaskContainer,
	store: WorkflowStore,
	steps: StepDefinition[],
	name = 'bench',
): { scheduler: Scheduler<StepItem>; flows: Workflows } {
	const actions = workflowActions({ noop: () => null });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: 32 });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name, steps });
	return { scheduler, flows };
}
