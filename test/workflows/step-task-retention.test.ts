/**
 * A step task's end is the engine's only record of it until its run is written. The scheduler's `retention` option
 * must not delete it first: a process recovering the run (after a crash, or a store outage as here) would find no
 * task and dispatch the step again, running finished work twice. Before the fix the retention pass deleted the
 * finished step task like any other, and the step ran twice.
 */
import { afterEach, expect, it } from 'vitest';
import { ContainerError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { MemoryWorkflowStore, Workflows, workflowActions, type RunRecord } from 'lightsched/workflows';
import { gate, until } from './fixture.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closing.splice(0).reverse()) await close();
});

it("keeps a finished step task from the scheduler's retention until its run has it: the step never runs twice", async () => {
	let down = false;
	const inner = new MemoryWorkflowStore();
	// The run store refuses writes while `down` (an outage of the store alone).
	const store = new Proxy(inner, {
		get(target, name) {
			if (name === 'update') {
				return async (run: RunRecord, ...rest: unknown[]) => {
					if (down) throw new ContainerError('the run store is down (test)');
					return (target.update as (...a: unknown[]) => Promise<unknown>).call(target, run, ...rest);
				};
			}
			const value: unknown = Reflect.get(target, name, target);
			return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
		},
	});
	let calls = 0;
	const hold = gate();
	const actions = workflowActions({
		once: async () => {
			if (++calls === 1) await hold.promise;
			return calls;
		},
	});
	const scheduler = new Scheduler({
		container: new QueueContainer(),
		actuator: new FunctionActuator(actions),
		concurrency: 4,
		// Finished tasks deleted as soon as a pass sees them (every 10 ms).
		retention: { succeeded: { maxAgeMs: 0 }, failed: { maxAgeMs: 0 }, intervalMs: 10 },
	});
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 50 });
	closing.push(async () => {
		await flows.close();
		await scheduler.close();
	});
	flows.define({ name: 'one', steps: [{ id: 'x', action: 'once' }] });
	const run = await flows.start('one');
	await until(() => calls === 1, 5000, 'the step to start');
	down = true;
	hold.open();
	const taskId = `wf:${run.id}:x:1`;
	await until(async () => (await scheduler.get(taskId))?.status !== 'running', 5000, 'the step task to end');
	// A task that is no step (it fails: no action) finished after it: once it is gone, a retention pass has had the
	// step task in reach.
	const plain = await scheduler.add({ item: 'not a step' as never });
	await until(async () => (await scheduler.get(plain.id)) === null, 5000, 'the retention pass');
	expect(await scheduler.get(taskId)).toMatchObject({ status: 'succeeded' });
	down = false;
	const done = await flows.wait(run.id, { timeoutMs: 5000 });
	expect(done.steps.x).toMatchObject({ status: 'succeeded', output: 1 });
	expect(calls).toBe(1);
});
