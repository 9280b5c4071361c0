import { describe, expect, it } from 'vitest';
import { Scheduler, type Persistencer, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { nextEvent } from '../support/scheduler.js';

describe('persistencer', () => {
	it('receives the output before the task is succeeded', async () => {
		const container = new QueueContainer();
		const seen: { output: unknown; statusDuring: string | undefined; eventsBefore: number }[] = [];
		let succeededEvents = 0;
		const persistencer: Persistencer<number> = {
			async persist(task: TaskRecord<unknown, number>, output: number) {
				seen.push({
					output,
					statusDuring: (await container.get(task.id))?.status,
					eventsBefore: succeededEvents,
				});
			},
		};
		const scheduler = new Scheduler({
			container,
			persistencer,
			actuator: new FunctionActuator(({ a, b }: { a: number; b: number }) => a + b),
		});
		scheduler.on('task:succeeded', () => succeededEvents++);
		await scheduler.add({ id: 's', item: { a: 2, b: 3 } });
		await scheduler.onIdle();
		expect(seen).toEqual([{ output: 5, statusDuring: 'exporting', eventsBefore: 0 }]);
		expect(await scheduler.get('s')).toMatchObject({ status: 'succeeded', output: 5 });
		await scheduler.close();
	});

	it('fails the attempt when persisting fails, and follows the retry policy', async () => {
		let persistCalls = 0;
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 5 },
			persistencer: {
				persist() {
					persistCalls++;
					throw new Error('disk full');
				},
			},
			actuator: new FunctionActuator(() => 'result'),
		});
		const retrying = nextEvent(scheduler, 'task:retrying');
		const failed = nextEvent(scheduler, 'task:failed');
		await scheduler.add({ id: 'p', item: 1 });
		expect((await retrying)[0].error.message).toMatch(/disk full/);
		const [{ task }] = await failed;
		expect(persistCalls).toBe(2);
		expect(task).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'ERR_PERSIST' } });
		expect(task.error?.message).toContain('disk full');
		await scheduler.close();
	});

	it('keeps the output on the task record without a persistencer', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => ({ rows: 3 })),
		});
		await scheduler.add({ id: 'o', item: 1 });
		await scheduler.onIdle();
		expect((await scheduler.get('o'))?.output).toEqual({ rows: 3 });
		await scheduler.close();
	});
});
