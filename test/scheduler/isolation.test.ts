import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { FunctionActuator } from 'lightsched/actuators/function';

// The in-process containers hand the scheduler their stored records (no copy on the hot path); nothing a user
// is given may be a way to change what the container stores.
describe.each([
	['QueueContainer', () => new QueueContainer()],
	['OrderedMapContainer', () => new OrderedMapContainer()],
])('records handed out by a scheduler on %s are copies', (_name, make) => {
	it('the function’s `ctx.task`, `task:started` and `task:succeeded` records can be changed without changing the stored task', async () => {
		const seen: TaskRecord[] = [];
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator(async (item: number, { task }) => {
				expect(task.status).toBe('running');
				task.status = 'failed';
				task.attempts = 99;
				(task as { item: unknown }).item = 'changed';
				seen.push(task);
				return item * 2;
			}),
		});
		scheduler.on('task:started', ({ task }) => {
			task.status = 'stopped';
			task.owner = 'someone else';
		});
		scheduler.on('task:succeeded', ({ task }) => {
			task.output = -1;
			task.status = 'waiting';
		});
		const added = await scheduler.add({ id: 'a', item: 21 });
		added.status = 'running';
		added.attempts = 7;
		await scheduler.onIdle();
		const stored = await scheduler.get('a');
		expect(stored).toMatchObject({ status: 'succeeded', attempts: 1, output: 42, item: 21, owner: null });
		expect(seen).toHaveLength(1);
		expect((await scheduler.counts()).succeeded).toBe(1);
		await scheduler.close();
	});

	it('`ctx.task` is the record of this attempt: its `attempts` counts up across retries', async () => {
		const attempts: number[] = [];
		const scheduler = new Scheduler({
			container: make(),
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 1 },
			actuator: new FunctionActuator((_item: null, { task }) => {
				attempts.push(task.attempts);
				if (task.attempts < 3) throw new Error('again');
				return 'done';
			}),
		});
		await scheduler.add({ id: 'r', item: null });
		await scheduler.onIdle();
		expect(attempts).toEqual([1, 2, 3]);
		expect(await scheduler.get('r')).toMatchObject({ status: 'succeeded', attempts: 3, output: 'done' });
		await scheduler.close();
	});
});
