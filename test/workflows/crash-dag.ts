import type { WorkflowDefinition } from 'lightsched/workflows';

/** The crash test's 6-step DAG: a root, a fan-out of three, a join, a tail. */
export const CRASH_DAG: WorkflowDefinition = {
	name: 'crash-dag',
	steps: [
		{ id: 'root', action: 'work', maxAttempts: 10 },
		{ id: 'b1', action: 'work', dependsOn: ['root'], maxAttempts: 10 },
		{ id: 'b2', action: 'work', dependsOn: ['root'], maxAttempts: 10 },
		{ id: 'b3', action: 'work', dependsOn: ['root'], maxAttempts: 10 },
		{ id: 'join', action: 'work', dependsOn: ['b1', 'b2', 'b3'], maxAttempts: 10 },
		{ id: 'tail', action: 'work', dependsOn: ['join'], maxAttempts: 10 },
	],
};
