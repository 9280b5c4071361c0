/**
 * `wait(runId)` in a process that does not run the run's steps learns of its end from its sweep (workflows.ts): a
 * safety net read every `sweepMs`. The sweep reads the open runs anyway; a waited run among them is still open, so
 * the sweep reads only the waited runs it did not see open (it read each waited run every sweep before: a thousand
 * waits, a thousand reads every two seconds).
 */
import { afterEach, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { MemoryWorkflowStore, Workflows, type RunRecord, type WorkflowStore } from 'lightsched/workflows';

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.reverse()) await close();
	closers = [];
});

/** A scheduler on a container of its own, and a Workflows on `store`; the runs' steps run no action of this one. */
function engine(store: WorkflowStore, actions: Record<string, () => unknown>): Workflows {
	const scheduler = new Scheduler({
		container: new QueueContainer() as TaskContainer,
		actuator: new FunctionActuator(async () => null),
		concurrency: 4,
	}) as unknown as Scheduler;
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 600_000 });
	closers.push(async () => {
		await flows.close();
		await scheduler.close();
	});
	return flows;
}

it('a sweep reads no waited run it saw open, and settles the waits once the runs end elsewhere', async () => {
	const store = new MemoryWorkflowStore();
	const gets: string[] = [];
	const counted = new Proxy(store, {
		get(target, name, receiver) {
			if (name === 'get')
				return (id: string): Promise<RunRecord | null> => {
					gets.push(id);
					return target.get(id);
				};
			const value = Reflect.get(target, name, receiver) as unknown;
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
		},
	});
	const definition = {
		name: 'held',
		vars: { go: { default: 'no' } },
		steps: [
			{
				id: 'a',
				action: 'noop',
				preCheck: [
					{
						act: 'block' as const,
						when: [{ source: 'vars' as const, key: 'go', op: 'not-in' as const, values: ['yes'] }],
					},
				],
			},
		],
	};
	const runner = engine(store, { noop: () => 1 });
	const waiter = engine(counted, { noop: () => 1 });
	const errors: unknown[] = [];
	for (const flows of [runner, waiter]) flows.on('error', (error) => errors.push(error));
	runner.define(definition);
	waiter.define(definition);
	const ids: string[] = [];
	for (let i = 0; i < 20; i++) ids.push((await runner.start('held')).id);
	await runner.sweep();
	for (const id of ids) expect((await store.get(id))?.status).toBe('blocked');

	let settled = 0;
	const waits = ids.map((id) => waiter.wait(id).then((run) => (settled++, run)));
	await new Promise((resolve) => setImmediate(resolve));
	gets.length = 0;
	await waiter.sweep();
	expect(gets).toEqual([]);
	expect(settled).toBe(0);

	// The runner ends half of the runs: the waiter's next sweep reads those (not open any more) and settles them.
	for (const id of ids.slice(0, 10)) await runner.stop(id);
	await runner.sweep();
	for (const id of ids.slice(0, 10)) expect((await store.get(id))?.open).toBe(false);
	gets.length = 0;
	await waiter.sweep();
	expect(gets.sort()).toEqual(ids.slice(0, 10).sort());
	await new Promise((resolve) => setImmediate(resolve));
	expect(settled).toBe(10);
	for (const id of ids.slice(10)) await runner.stop(id);
	await runner.sweep();
	await waiter.sweep();
	expect((await Promise.all(waits)).map((run) => run.status)).toEqual(ids.map(() => 'stopped'));
	expect(errors).toEqual([]);
});
