import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { describe, expect, it } from 'vitest';
import { describeContainerContract, records } from '../contracts/container.contract.js';

describeContainerContract('QueueContainer', () => new QueueContainer(), {
	priority: false,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	sync: true,
});
describeContainerContract('OrderedMapContainer', () => new OrderedMapContainer(), {
	priority: true,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	sync: true,
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

describe.each([
	['QueueContainer', () => new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY })],
	['OrderedMapContainer', () => new OrderedMapContainer({ keepFinished: Number.POSITIVE_INFINITY })],
])('%s: arrival order and look-ups by id, thousands of tasks', (_name, make) => {
	it('adds of fresh ids, holes left by removes anywhere, re-runs: every task found by id, listed in arrival order', async () => {
		const container = make();
		const sync = container.sync;
		const added = records(Array.from({ length: 5000 }, (_, i) => ({ item: i })));
		// Half added before any look-up by id, half after one (the index then covers only the first half).
		for (const task of added.slice(0, 2500)) sync.add([task], true);
		expect((await container.get(added[1]!.id))?.item).toBe(1);
		for (const task of added.slice(2500)) sync.add([task], true);
		for (const task of sync.claim(5000, 'o', 10_000, Date.now()))
			sync.transition(task, 'running', 'succeeded', { finishedAt: 1 }, 'o');
		// Two thirds removed, newest first: holes everywhere but at the head, past the compaction threshold.
		const removed = new Set<string>();
		for (let i = added.length - 1; i >= 0; i--) {
			if (i % 3 === 0) continue;
			expect(await container.remove(added[i]!.id)).toBe(true);
			removed.add(added[i]!.id);
		}
		const rerun = [added[0]!.id, added[2997]!.id];
		sync.add(records(rerun.map((id) => ({ id, item: 'again' }))));
		const late = records([{ item: 'late' }]);
		sync.add(late, true);
		const expected = added
			.filter((task, i) => i % 3 === 0 && !rerun.includes(task.id))
			.map((task) => task.id)
			.concat(rerun, [late[0]!.id]);
		expect((await container.list({ limit: 10_000 })).tasks.map((task) => task.id)).toEqual(expected);
		expect((await container.list({ limit: 10_000, order: 'desc' })).tasks.map((task) => task.id)).toEqual(
			[...expected].reverse(),
		);
		expect((await container.list({ offset: 1, limit: 2, status: 'waiting' })).tasks.map((task) => task.id)).toEqual(
			[added[2997]!.id, late[0]!.id],
		);
		for (const task of added) expect((await container.get(task.id)) === null).toBe(removed.has(task.id));
		expect((await container.get(late[0]!.id))?.item).toBe('late');
		expect(await container.counts()).toMatchObject({ succeeded: expected.length - 3, waiting: 3 });
	});
});
