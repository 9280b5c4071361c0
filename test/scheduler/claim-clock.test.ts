/**
 * On an in-process container a finish's clock read is reused by the claim that follows it in the same call (one
 * read less per task). Never across code of the user's: a `task:succeeded` listener or the callback may take any
 * time, and the next task's `startedAt` must not be early by it.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

function busyWait(ms: number): number {
	const until = Date.now() + ms;
	while (Date.now() < until) {
		// A listener that blocks the loop.
	}
	return Date.now();
}

describe('the claim after a finish', () => {
	it('starts the next task after a slow task:succeeded listener, not at the finish time', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async () => 'done'),
			concurrency: 1,
		});
		let listenerEnd = 0;
		scheduler.on('task:succeeded', ({ task }) => {
			if (task.item === 1) listenerEnd = busyWait(30);
		});
		const [, second] = await scheduler.add([{ item: 1 }, { item: 2 }]);
		await scheduler.onIdle();
		const stored = (await scheduler.get((second as TaskRecord).id)) as TaskRecord;
		expect(stored.status).toBe('succeeded');
		expect(stored.startedAt).toBeGreaterThanOrEqual(listenerEnd);
		await scheduler.close();
	});

	it('starts the next task after a slow callback', async () => {
		let callbackEnd = 0;
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async () => 'done'),
			concurrency: 1,
			callback: (task) => {
				if (task.item === 1) callbackEnd = busyWait(30);
			},
		});
		const [, second] = await scheduler.add([{ item: 1 }, { item: 2 }]);
		await scheduler.onIdle();
		const stored = (await scheduler.get((second as TaskRecord).id)) as TaskRecord;
		expect(stored.startedAt).toBeGreaterThanOrEqual(callbackEnd);
		await scheduler.close();
	});
});
