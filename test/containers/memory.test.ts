import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { describe, expect, it } from 'vitest';
import { describeContainerContract, records } from '../contracts/container.contract.js';

describeContainerContract('QueueContainer', () => new QueueContainer(), {
	priority: false,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
});
describeContainerContract('OrderedMapContainer', () => new OrderedMapContainer(), {
	priority: true,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
});

describe('memory containers keep a bounded history of finished tasks', () => {
	it.each([
		['QueueContainer', (keepFinished: number) => new QueueContainer({ keepFinished })],
		['OrderedMapContainer', (keepFinished: number) => new OrderedMapContainer({ keepFinished })],
	])('%s forgets the oldest finished tasks past keepFinished, never unfinished ones', async (_name, make) => {
		const container = make(3);
		await container.add(records(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, item: i }))));
		const claimed = await container.claim(5, 'o', 10_000, Date.now());
		for (const task of claimed)
			await container.transition(task.id, 'running', 'succeeded', { finishedAt: Date.now() }, 'o');
		expect(await container.counts()).toMatchObject({ succeeded: 3, waiting: 1 });
		expect(await container.get('t0')).toBeNull();
		expect(await container.get('t1')).toBeNull();
		expect((await container.get('t4'))?.status).toBe('succeeded');
		expect((await container.get('t5'))?.status).toBe('waiting');
		expect((await container.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['t2', 't3', 't4']);
	});

	it('rejects a bad keepFinished clearly', () => {
		expect(() => new QueueContainer({ keepFinished: -1 })).toThrow(
			'Expected `keepFinished` to be an integer >= 0 or Infinity, got -1 (number)',
		);
	});
});

describe.each([
	['QueueContainer', () => new QueueContainer({ keepFinished: 1 })],
	['OrderedMapContainer', () => new OrderedMapContainer({ keepFinished: 1 })],
])('%s: the synchronous face', (_name, make) => {
	it('claim hands out the stored records; transition takes them, or any record with the id', async () => {
		const container = make();
		const sync = container.sync;
		sync.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
			]),
		);
		const [a, b] = sync.claim(2, 'o', 10_000, Date.now());
		expect(a?.status).toBe('running');
		// The stored record itself: what the scheduler sees is what get() copies.
		expect(await container.get('a')).toEqual({ ...a });
		expect(sync.transition(a!, 'running', 'succeeded', { finishedAt: 5 }, 'o')).toBe(a);
		// A copy (not the stored object) is found by its id; a wrong owner or status is refused.
		expect(sync.transition({ ...b! }, 'running', 'failed', {}, 'someone else')).toBeNull();
		expect(sync.transition({ ...b! }, 'waiting', 'failed', {}, 'o')).toBeNull();
		expect(sync.transition({ ...b! }, 'running', 'stopped', { finishedAt: 6 }, 'o')?.status).toBe('stopped');
		// keepFinished 1: `a` is forgotten; its old record no longer moves anything stored.
		expect(await container.get('a')).toBeNull();
		expect(sync.transition(a!, 'succeeded', 'waiting', {})).toBeNull();
		expect(await container.counts()).toMatchObject({ waiting: 0, stopped: 1, succeeded: 0 });
	});

	it('add keeps records of its own: the records given stay the caller’s (the scheduler hands them out)', async () => {
		const container = make();
		const given = records([{ id: 'g', item: { n: 1 } }]);
		container.sync.add(given);
		const [record] = given;
		expect(record?.seq).toBeGreaterThan(0);
		record!.status = 'failed';
		record!.attempts = 5;
		record!.runAt = Date.now() + 60_000;
		expect(await container.get('g')).toMatchObject({ status: 'waiting', attempts: 0, seq: record?.seq });
		const [claimed] = container.sync.claim(1, 'o', 10_000, Date.now());
		expect(claimed).toMatchObject({ id: 'g', status: 'running', attempts: 1 });
		expect(claimed).not.toBe(record);
	});

	it('a record claimed from another container moves only this container’s task of that id', async () => {
		const one = make();
		const two = make();
		one.sync.add(records([{ id: 'c', item: 1 }]));
		two.sync.add(records([{ id: 'c', item: 2 }]));
		const [fromOne] = one.sync.claim(1, 'o', 10_000, Date.now());
		two.sync.claim(1, 'o', 10_000, Date.now());
		const moved = two.sync.transition(fromOne!, 'running', 'succeeded', { finishedAt: 1 }, 'o');
		expect(moved).toMatchObject({ id: 'c', item: 2, status: 'succeeded' });
		expect(moved).not.toBe(fromOne);
		expect((await one.get('c'))?.status).toBe('running');
		expect(await two.get('c')).toMatchObject({ item: 2, status: 'succeeded' });
	});

	it('a re-run of a forgotten or finished id is a new record; the old one stays as it was', async () => {
		const container = make();
		const sync = container.sync;
		sync.add(records([{ id: 'x', item: 'first' }]));
		const [first] = sync.claim(1, 'o', 10_000, Date.now());
		sync.transition(first!, 'running', 'succeeded', { finishedAt: 1, output: 'one' }, 'o');
		sync.add(records([{ id: 'x', item: 'second' }]));
		const [second] = sync.claim(1, 'o', 10_000, Date.now());
		expect(second).not.toBe(first);
		expect(second).toMatchObject({ item: 'second', status: 'running', attempts: 1 });
		expect(first).toMatchObject({ item: 'first', status: 'succeeded', output: 'one' });
		// The old record, final, moves nothing: the stored task is the re-run.
		expect(sync.transition(first!, 'succeeded', 'waiting', {})).toBeNull();
		expect((await container.get('x'))?.status).toBe('running');
	});
});
