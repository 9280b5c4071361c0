/**
 * Event payloads, the `onFinished` callback's run and `run:created`'s are copies made by hand (`copyRun`, not
 * `structuredClone`): a listener that changes what it is handed changes nothing stored, nothing the engine plans
 * from, and nothing another listener or a later event is handed.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { MemoryWorkflowStore, Workflows, workflowActions, type RunRecord } from 'lightsched/workflows';

/** Change everything a listener can reach in a run record. */
function spoil(run: RunRecord): void {
	run.status = 'failed';
	(run.vars as { list: number[] }).list.push(-1);
	for (const step of Object.values(run.steps)) {
		step.status = 'failed';
		step.trace.push('spoiled');
		if (step.output !== null) (step.output as { list: number[] }).list.push(-1);
	}
	run.shared['spoiled'] = true;
}

describe('Event payloads', () => {
	it('are copies: a listener changing them changes no stored run and no other payload', async () => {
		const store = new MemoryWorkflowStore();
		const actions = workflowActions({ work: (_params, ctx) => ({ list: [Object.keys(ctx.inputs).length] }) });
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(actions) });
		const flows = new Workflows({ scheduler, actions, store, sweepMs: 60_000 });
		const callback: RunRecord[] = [];
		try {
			flows.define({
				name: 'chain',
				vars: { list: { default: [1] } },
				steps: [
					{ id: 'a', action: 'work' },
					{ id: 'b', action: 'work', dependsOn: ['a'] },
				],
				onFinished: (run) => {
					callback.push(structuredClone(run));
					spoil(run);
				},
			});
			const seen: string[] = [];
			for (const name of ['run:created', 'run:status', 'run:finished'] as const)
				flows.on(name, ({ run }) => {
					seen.push(`${name} ${run.status} ${JSON.stringify(run.vars)}`);
					spoil(run);
				});
			for (const name of ['step:started', 'step:succeeded'] as const)
				flows.on(name, ({ run, stepId, step }) => {
					seen.push(
						`${name} ${stepId} ${step.status} ${run.steps[stepId]?.status} ${JSON.stringify(run.vars)}`,
					);
					step.status = 'failed';
					spoil(run);
				});
			const started = await flows.start('chain');
			const done = await flows.wait(started.id);
			expect(done.status).toBe('succeeded');
			expect(done.vars).toEqual({ list: [1] });
			expect(done.shared).toEqual({});
			expect(done.steps['a']?.output).toEqual({ list: [0] });
			expect(done.steps['b']?.output).toEqual({ list: [1] });
			expect(done.steps['b']?.trace).toEqual([]);
			expect(await store.get(started.id)).toEqual(done);
			expect(callback).toHaveLength(1);
			expect(callback[0]?.status).toBe('succeeded');
			expect(callback[0]?.vars).toEqual({ list: [1] });
			expect(seen).toEqual([
				'run:created waiting {"list":[1]}',
				'step:started a running running {"list":[1]}',
				'run:status running {"list":[1]}',
				'step:succeeded a succeeded succeeded {"list":[1]}',
				'step:started b running running {"list":[1]}',
				'step:succeeded b succeeded succeeded {"list":[1]}',
				'run:status succeeded {"list":[1]}',
				'run:finished succeeded {"list":[1]}',
			]);
		} finally {
			await flows.close();
			await scheduler.close();
		}
	});
});
