import type { WorkflowDefinition } from 'lightsched/workflows';

/**
 * The crash test's 6-step DAG: a root, a fan-out of three, a join, a tail. Deeper steps have a higher priority, so
 * runs under way finish before new ones start (as a team running many runs would set it): a step taken over after a
 * kill is not queued behind the roots of every run not yet begun, and its takeover time measures the recovery.
 */
export const CRASH_DAG: WorkflowDefinition = {
	name: 'crash-dag',
	steps: [
		{ id: 'root', action: 'work', maxAttempts: 10 },
		{ id: 'b1', action: 'work', dependsOn: ['root'], maxAttempts: 10, priority: 1 },
		{ id: 'b2', action: 'work', dependsOn: ['root'], maxAttempts: 10, priority: 1 },
		{ id: 'b3', action: 'work', dependsOn: ['root'], maxAttempts: 10, priority: 1 },
		{ id: 'join', action: 'work', dependsOn: ['b1', 'b2', 'b3'], maxAttempts: 10, priority: 2 },
		{ id: 'tail', action: 'work', dependsOn: ['join'], maxAttempts: 10, priority: 3 },
	],
};
