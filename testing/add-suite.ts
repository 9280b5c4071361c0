/**
 * The container contract's adds: a duplicate id of an unfinished task is refused all or nothing, a finished one is
 * added again as a re-run; concurrent adds settle each on its own; the synchronous face's adds (when the container
 * has it) keep the same clauses; a JSON container refuses an item JSON cannot carry. Declared by
 * `describeContainerContract`.
 */
import { expect, it } from 'vitest';
import { DuplicateKeyError, DuplicateTaskError, type TaskContainer, type TaskRecord } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/**
 * Declare the add cases for the containers `make` makes.
 * @param offers what decides which cases run: the container persists items as JSON, has the synchronous face
 */
export function describeAdds(
	make: () => Promise<TaskContainer>,
	offers: { readonly json: boolean; readonly sync: boolean },
): void {
	it('rejects a duplicate id of an unfinished task, all or nothing; re-adds a finished one', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		await expect(
			c.add(
				taskRecords([
					{ id: 'new', item: 1 },
					{ id: 'a', item: 2 },
				]),
			),
		).rejects.toBeInstanceOf(DuplicateTaskError);
		expect(await c.get('new')).toBeNull();
		expect((await c.get('a'))?.item).toBe(1);
		await expect(
			c.add(
				taskRecords([
					{ id: 'x', item: 1 },
					{ id: 'x', item: 2 },
				]),
			),
		).rejects.toBeInstanceOf(DuplicateTaskError);
		expect(await c.get('x')).toBeNull();
		await c.claim(1, 'o', LEASE, Date.now());
		await c.transition('a', 'running', 'failed', { error: { message: 'no', code: 'E' }, finishedAt: 1 }, 'o');
		await c.add(taskRecords([{ id: 'a', item: 'again' }]));
		expect(await c.get('a')).toMatchObject({
			status: 'waiting',
			item: 'again',
			attempts: 0,
			error: null,
			finishedAt: null,
		});
		expect(await c.counts()).toMatchObject({ waiting: 1, failed: 0 });
	});

	if (offers.sync)
		it('synchronous add of fresh ids: stored as any add, found by id, refused again while unfinished, re-run once finished', async () => {
			const c = await make();
			const sync = c.sync;
			if (sync === undefined)
				throw new Error('Expected the container to have `sync` (the `sync` option says so)');
			const one = taskRecords([{ item: 1 }]);
			const many = taskRecords([{ item: 2 }, { item: 3, key: 'k' }]);
			sync.add(one, true);
			sync.add(many, true);
			const ids = [...one, ...many].map((task) => task.id);
			expect((await c.list()).tasks.map((task) => [task.id, task.seq])).toEqual(
				[...one, ...many].map((task) => [task.id, task.seq]),
			);
			for (const [i, id] of ids.entries()) expect((await c.get(id))?.item).toBe(i + 1);
			// The clauses a fresh id skips no check of: an id given that a fresh one took, a key held.
			expect(() => sync.add(taskRecords([{ id: ids[2] as string, item: 'again' }]))).toThrow(DuplicateTaskError);
			expect(() => sync.add(taskRecords([{ item: 4, key: 'k' }]), true)).toThrow(DuplicateKeyError);
			expect(await c.counts()).toMatchObject({ waiting: 3 });
			const [first] = sync.claim(1, 'o', LEASE, Date.now());
			expect(first?.id).toBe(ids[0]);
			sync.transition(first as TaskRecord, 'running', 'succeeded', { finishedAt: Date.now() }, 'o');
			sync.add(taskRecords([{ id: ids[0] as string, item: 'again' }]));
			expect(await c.get(ids[0] as string)).toMatchObject({ status: 'waiting', item: 'again', attempts: 0 });
			expect(await c.counts()).toMatchObject({ waiting: 3, succeeded: 0 });
		});

	it('settles concurrent adds each on its own: a refused one stores nothing, the others are all stored', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'done', item: 'first run' }]));
		await c.add(taskRecords([{ id: 'done-too', item: 'first run' }]));
		await c.claim(2, 'o', LEASE, Date.now());
		await c.transition('done', 'running', 'succeeded', { output: 1, finishedAt: 1 }, 'o');
		await c.transition('done-too', 'running', 'succeeded', { output: 2, finishedAt: 2 }, 'o');
		await c.add(taskRecords([{ id: 'held', item: 'kept', key: 'k-held' }]));
		// 500 single adds at once, among them: an id a waiting task holds, a key it holds, the same new id
		// twice, a re-run of a finished task, and a re-run of another one beside a held id (refused: the
		// finished task stays as it was).
		const calls: { id: string; tasks: TaskRecord[]; refusal?: string }[] = Array.from({ length: 500 }, (_, i) => ({
			id: `n${i}`,
			tasks: taskRecords([{ id: `n${i}`, item: i }]),
		}));
		calls[100] = { id: 'held', tasks: taskRecords([{ id: 'held', item: 'again' }]), refusal: 'ERR_DUPLICATE_TASK' };
		calls[200] = {
			id: 'keyed',
			tasks: taskRecords([{ id: 'keyed', item: 1, key: 'k-held' }]),
			refusal: 'ERR_DUPLICATE_KEY',
		};
		calls[300] = { id: 'twin', tasks: taskRecords([{ id: 'twin', item: 'first' }]) };
		calls[301] = {
			id: 'twin',
			tasks: taskRecords([{ id: 'twin', item: 'second' }]),
			refusal: 'ERR_DUPLICATE_TASK',
		};
		calls[400] = { id: 'done', tasks: taskRecords([{ id: 'done', item: 'second run' }]) };
		calls[401] = {
			id: 'done-too',
			tasks: taskRecords([
				{ id: 'done-too', item: 'second run' },
				{ id: 'held', item: 'again' },
			]),
			refusal: 'ERR_DUPLICATE_TASK',
		};
		const settled = await Promise.allSettled(calls.map((call) => c.add(call.tasks)));
		const outcomes = settled.map((s) =>
			s.status === 'fulfilled' ? 'stored' : String((s.reason as { code?: unknown }).code),
		);
		expect(outcomes).toEqual(calls.map((call) => call.refusal ?? 'stored'));
		const refused = settled.filter((s) => s.status === 'rejected').map((s) => s.reason as Error);
		expect(refused[0]).toBeInstanceOf(DuplicateTaskError);
		expect(refused[1]).toMatchObject({ key: 'k-held', existingId: 'held' });
		for (let i = 0; i < 500; i++) {
			if (calls[i]?.id !== `n${i}`) continue;
			expect(await c.get(`n${i}`)).toMatchObject({ status: 'waiting', item: i });
		}
		expect(await c.get('held')).toMatchObject({ status: 'waiting', item: 'kept' });
		expect(await c.get('keyed')).toBeNull();
		expect(await c.get('twin')).toMatchObject({ status: 'waiting', item: 'first' });
		expect(await c.get('done')).toMatchObject({ status: 'waiting', item: 'second run', output: null });
		expect(await c.get('done-too')).toMatchObject({ status: 'succeeded', item: 'first run', output: 2 });
		// Each stored task has its own arrival number, in the order of the calls.
		const waiting = await c.list({ status: 'waiting', limit: 1_000 });
		expect(waiting.total).toBe(1 + 494 + 2);
		const seqs = waiting.tasks.map((task) => task.seq);
		expect(new Set(seqs).size).toBe(seqs.length);
		const order = waiting.tasks
			.filter((task) => task.id.startsWith('n'))
			.sort((a, b) => a.seq - b.seq)
			.map((task) => Number(task.id.slice(1)));
		expect(order).toEqual([...order].sort((a, b) => a - b));
	});

	if (offers.json) {
		it('rejects an item JSON cannot carry, naming the field, storing nothing', async () => {
			const c = await make();
			const bad = taskRecords([
				{ id: 'ok', item: 1 },
				{ id: 'bad', item: { when: new Date(0), f: () => 1 } },
			]);
			await expect(c.add(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
			await expect(c.add(bad)).rejects.toThrow(/item/);
			expect(await c.get('ok')).toBeNull();
			const big = taskRecords([{ id: 'big', item: { n: 10n } }]);
			await expect(c.add(big)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
			expect((await c.counts()).waiting).toBe(0);
		});
	}
}
