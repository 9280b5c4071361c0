import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { describe, expect, it } from 'vitest';
import { describeContainerContract, records } from '../contracts/container.contract.js';

describeContainerContract('QueueContainer', () => new QueueContainer(), { priority: false, json: false });
describeContainerContract('OrderedMapContainer', () => new OrderedMapContainer(), { priority: true, json: false });

describe('memory containers keep a bounded history of finished tasks', () => {
	it.each([
		['QueueContainer', (keepFinished: number) => new QueueContainer({ keepFinished })],
		['OrderedMapContainer', (keepFinished: number) => new OrderedMapContainer({ keepFinished })],
	])('%s forgets the oldest finished tasks past keepFinished, never unfinished ones', async (_name, make) => {
		const container = make(3);
		await container.add(records(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, item: i }))));
		const claimed = await container.claim(5, 'o', 10_000, Date.now());
		for (const task of claimed) await container.transition(task.id, 'running', 'succeeded', { finishedAt: Date.now() }, 'o');
		expect(await container.counts()).toMatchObject({ succeeded: 3, waiting: 1 });
		expect(await container.get('t0')).toBeNull();
		expect(await container.get('t1')).toBeNull();
		expect((await container.get('t4'))?.status).toBe('succeeded');
		expect((await container.get('t5'))?.status).toBe('waiting');
		expect((await container.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['t2', 't3', 't4']);
	});

	it('rejects a bad keepFinished clearly', () => {
		expect(() => new QueueContainer({ keepFinished: -1 })).toThrow('Expected `keepFinished` to be an integer >= 0 or Infinity, got -1 (number)');
	});
});
