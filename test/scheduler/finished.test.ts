import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

describe('finished()', () => {
	it('yields every finished task, none dropped, under a burst of 10,000 read late', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			concurrency: 50,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 0 },
			actuator: new FunctionActuator((n: number, { task }) => {
				if (n % 10 === 0 && task.attempts === 1) throw new Error('retry me');
				if (n % 97 === 0) throw new Error('fail for good');
				return n * 2;
			}),
		});
		const stream = scheduler.finished();
		await scheduler.add(Array.from({ length: 10_000 }, (_, n) => ({ id: `t${n}`, item: n })));
		await scheduler.onIdle();
		// Nothing was read while the burst ran: all of it must be buffered.
		const seen = new Map<string, TaskRecord>();
		for await (const task of stream) {
			expect(seen.has(task.id)).toBe(false);
			seen.set(task.id, task);
			if (seen.size === 10_000) break;
		}
		expect(seen.size).toBe(10_000);
		const failed = [...seen.values()].filter((t) => t.status === 'failed').length;
		expect(failed).toBe(Array.from({ length: 10_000 }, (_, n) => n).filter((n) => n % 97 === 0).length);
		await scheduler.close();
	});

	it('serves several readers and ends after close', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator((n: number) => n),
		});
		const a = scheduler.finished();
		const b = scheduler.finished();
		await scheduler.add([
			{ id: 'x', item: 1 },
			{ id: 'y', item: 2 },
		]);
		await scheduler.onIdle();
		await scheduler.close();
		const read = async (s: AsyncIterable<TaskRecord>) => {
			const ids: string[] = [];
			for await (const t of s) ids.push(t.id);
			return ids;
		};
		expect(await read(a)).toEqual(['x', 'y']);
		expect(await read(b)).toEqual(['x', 'y']);
	});
});
