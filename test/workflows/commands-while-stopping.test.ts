/**
 * Commands given while a step's stop is still on its way: the operator's process asks the step task's owner (another
 * process) to stop it, and the owner hears it at its next renewal. A command given meanwhile must win over the stop
 * that lands after it. Before the fix, `pause({ now: true })` then `resume`, or `retry` of a run stopped while its
 * step ran, ended the run `stopped` again when the stop landed: the step was settled stopped, not handed back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';
import { MemoryWorkflowStore, Workflows, workflowActions } from 'lightsched/workflows';
import { CONTAINER_KINDS, until, untilAborted, type ContainerKind } from './fixture.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closing.splice(0).reverse()) await close();
});

/**
 * A worker process (its scheduler runs the steps) and an operator's process (its scheduler runs nothing) on one
 * container and store. The `long` step waits for its stop on its first call and returns at once on the next.
 */
function twoProcesses(kind: ContainerKind) {
	const container: TaskContainer = kind === 'QueueContainer' ? new QueueContainer() : new OrderedMapContainer();
	const store = new MemoryWorkflowStore();
	const calls = { long: 0 };
	const actions = workflowActions({
		long: async (_params, ctx) => {
			if (++calls.long === 1) await untilAborted(ctx.signal);
			return 'again';
		},
		after: () => 'next',
	});
	const worker = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: 4 });
	const operator = new Scheduler({ container, actuator: new FunctionActuator(actions), autoStart: false });
	const atWorker = new Workflows({ scheduler: worker, actions, store, sweepMs: 50 });
	const atOperator = new Workflows({ scheduler: operator, actions, store, sweepMs: 50 });
	closing.push(async () => {
		await atOperator.close();
		await atWorker.close();
		await operator.close();
		await worker.close();
	});
	const definition = {
		name: 'two-steps',
		steps: [
			{ id: 'long', action: 'long' },
			{ id: 'after', action: 'after', dependsOn: ['long'] },
		],
	};
	atWorker.define(definition);
	atOperator.define(definition);
	/** The owner hears the stop request of the step's first task (as at its next renewal). */
	const stopLands = (runId: string) => worker.stop(`wf:${runId}:long:1`);
	return { calls, worker, atWorker, atOperator, stopLands };
}

describe.each(CONTAINER_KINDS)('commands while a stop is on its way, on %s', (kind) => {
	it('pause({ now: true }) then resume: the step is handed back and runs again; the run succeeds', async () => {
		const { calls, worker, atWorker, atOperator, stopLands } = twoProcesses(kind);
		const run = await atWorker.start('two-steps');
		await until(() => calls.long === 1, 5000, 'the long step to start');
		expect((await atOperator.pause(run.id, { now: true })).status).toBe('paused');
		expect((await atOperator.resume(run.id)).status).toBe('running');
		await stopLands(run.id);
		const done = await atOperator.wait(run.id, { timeoutMs: 5000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.long).toMatchObject({ status: 'succeeded', output: 'again', generation: 2 });
		expect(done.steps.after?.status).toBe('succeeded');
		expect(calls.long).toBe(2);
		expect(await worker.get(`wf:${run.id}:long:1`)).toMatchObject({ status: 'stopped' });
	});

	it('retry of a run stopped while its step ran: the step runs again once its stop lands; the run succeeds', async () => {
		const { calls, atWorker, atOperator, stopLands } = twoProcesses(kind);
		const run = await atWorker.start('two-steps');
		await until(() => calls.long === 1, 5000, 'the long step to start');
		expect((await atOperator.stop(run.id)).status).toBe('stopped');
		const retried = await atOperator.retry(run.id);
		expect(retried.status).toBe('running');
		expect(retried.steps.long?.status).toBe('running');
		await stopLands(run.id);
		const done = await atOperator.wait(run.id, { timeoutMs: 5000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.long).toMatchObject({ status: 'succeeded', output: 'again' });
		expect(done.steps.after?.status).toBe('succeeded');
		expect(calls.long).toBe(2);
	});

	it('a stop that lands after pause({ now: true }) and stop still ends the step and the run stopped', async () => {
		const { calls, atWorker, atOperator, stopLands } = twoProcesses(kind);
		const run = await atWorker.start('two-steps');
		await until(() => calls.long === 1, 5000, 'the long step to start');
		await atOperator.pause(run.id, { now: true });
		await atOperator.stop(run.id);
		await stopLands(run.id);
		const done = await atOperator.wait(run.id, { timeoutMs: 5000 });
		expect(done.status).toBe('stopped');
		expect(done.steps.long?.status).toBe('stopped');
		expect(done.steps.after?.status).toBe('stopped');
		expect(calls.long).toBe(1);
	});
});
