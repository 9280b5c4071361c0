/**
 * The container contract suite: what the scheduler relies on from every `TaskContainer` (storage, claim order,
 * compare-and-set transitions, leases and the reclaim rule, duplicates, JSON items, list, remove, stop requests,
 * close). Every container of the kit runs it; a third party's container runs the same suite in its own vitest:
 *
 * ```ts
 * // my-container.test.ts
 * import { describeContainerContract } from 'lightsched/testing';
 * describeContainerContract('MyContainer', () => new MyContainer(), { priority: true, json: true });
 * ```
 *
 * The factory makes a fresh, empty container for each test (closed after it). Needs `vitest` (a peer dependency).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
	DuplicateKeyError,
	DuplicateTaskError,
	InvalidStateError,
	type NewTask,
	type TaskContainer,
	type TaskRecord,
} from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { describeKeys } from './key-suite.js';
import { describeGroups } from './group-suite.js';
import { describeOperations, type ContainerOperations } from './operations-suite.js';

/** What the container offers beyond the contract's core; decides which tests run. */
export interface ContainerContractOptions {
	/** The container orders by priority (higher first). */
	readonly priority: boolean;
	/** The container persists items as JSON and must reject what JSON cannot carry. */
	readonly json: boolean;
	/**
	 * The optional operations it offers (queue-wide pause, bulk clean); each offered one is tested, each other one
	 * must be absent.
	 * @default none
	 */
	readonly operations?: Partial<ContainerOperations>;
	/**
	 * The container has the synchronous face (`sync`, an in-process container's): its own clauses are tested too.
	 * @default false
	 */
	readonly sync?: boolean;
}

/** Makes a fresh, empty container (each test calls it once and closes what it made). */
export type ContainerFactory = () => Promise<TaskContainer> | TaskContainer;

/**
 * Build task records as the scheduler would (`createTaskRecord` for each, named `tasks[i]` in errors), to give
 * a container's `add` directly.
 * @param now the time they are created at (and due at, unless a task gives `runAt`)
 * @param maxAttempts the attempts each task allows, unless it gives its own
 */
export function records(tasks: readonly NewTask[], now = Date.now(), maxAttempts = 3): TaskRecord[] {
	return tasks.map((task, i) => createTaskRecord(task, `tasks[${i}]`, { maxAttempts }, now));
}

const LEASE = 10_000;

/**
 * Declare the contract's tests (one vitest `describe` block named `<name>: container contract`) for the
 * containers `factory` makes. Call it at the top level of a `*.test.ts` file.
 * @param name how the container set-up is named in the test report
 */
export function describeContainerContract(
	name: string,
	factory: ContainerFactory,
	options: ContainerContractOptions,
): void {
	describe(`${name}: container contract`, () => {
		const opened: TaskContainer[] = [];
		const make = async (): Promise<TaskContainer> => {
			const container = await factory();
			opened.push(container);
			return container;
		};
		afterEach(async () => {
			for (const container of opened.splice(0)) await container.close();
		});

		it('stores added tasks as waiting, with arrival order', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: { n: 1 } },
					{ id: 'b', item: 'two' },
				]),
			);
			const a = await c.get('a');
			const b = await c.get('b');
			expect(a).toMatchObject({
				id: 'a',
				item: { n: 1 },
				status: 'waiting',
				attempts: 0,
				maxAttempts: 3,
				priority: 0,
			});
			expect(b?.item).toBe('two');
			expect((b?.seq ?? 0) > (a?.seq ?? 0)).toBe(true);
			expect(await c.get('missing')).toBeNull();
			expect(await c.counts()).toMatchObject({ waiting: 2, running: 0, succeeded: 0, failed: 0, stopped: 0 });
		});

		it('hands out copies: changing a returned record changes nothing stored', async () => {
			const c = await make();
			await c.add(records([{ id: 'a', item: { n: 1 } }]));
			const got = await c.get('a');
			if (got === null) throw new Error('missing');
			got.status = 'failed';
			got.attempts = 42;
			expect(await c.get('a')).toMatchObject({ status: 'waiting', attempts: 0 });
		});

		it('claims first in, first out within a priority, at most `max`', async () => {
			const c = await make();
			await c.add(records(Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, item: i }))));
			const now = Date.now();
			const first = await c.claim(2, 'owner-1', LEASE, now);
			expect(first.map((t) => t.id)).toEqual(['t0', 't1']);
			for (const task of first) {
				expect(task).toMatchObject({
					status: 'running',
					owner: 'owner-1',
					attempts: 1,
					startedAt: now,
					leaseUntil: now + LEASE,
				});
			}
			const rest = await c.claim(10, 'owner-1', LEASE, now);
			expect(rest.map((t) => t.id)).toEqual(['t2', 't3', 't4']);
			expect(await c.claim(10, 'owner-1', LEASE, now)).toEqual([]);
			expect(await c.counts()).toMatchObject({ waiting: 0, running: 5 });
		});

		if (options.priority) {
			it('claims the highest priority first, FIFO within a priority', async () => {
				const c = await make();
				await c.add(
					records([
						{ id: 'low-1', item: 1, priority: -1 },
						{ id: 'mid-1', item: 1 },
						{ id: 'high-1', item: 1, priority: 10 },
						{ id: 'mid-2', item: 1 },
						{ id: 'high-2', item: 1, priority: 10 },
					]),
				);
				const order = (await c.claim(10, 'o', LEASE, Date.now())).map((t) => t.id);
				expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1']);
			});
		}

		it('gives each task to exactly one of many concurrent claimers', async () => {
			const c = await make();
			const total = 300;
			await c.add(records(Array.from({ length: total }, (_, i) => ({ id: `t${i}`, item: i }))));
			const seen = new Map<string, string>();
			const claimer = async (owner: string): Promise<void> => {
				for (;;) {
					const batch = await c.claim(7, owner, LEASE, Date.now());
					if (batch.length === 0) return;
					for (const task of batch) {
						expect(seen.has(task.id), `${task.id} claimed twice`).toBe(false);
						seen.set(task.id, owner);
					}
				}
			};
			await Promise.all(Array.from({ length: 6 }, (_, i) => claimer(`owner-${i}`)));
			expect(seen.size).toBe(total);
			expect((await c.counts()).running).toBe(total);
		});

		it('does not claim a task before its runAt, and says when the next is due', async () => {
			const c = await make();
			const now = Date.now();
			await c.add(
				records(
					[
						{ id: 'later', item: 1, runAt: now + 60_000 },
						{ id: 'now', item: 2 },
					],
					now,
				),
			);
			expect((await c.claim(10, 'o', LEASE, now)).map((t) => t.id)).toEqual(['now']);
			expect(await c.nextDueAt(now)).toBe(now + 60_000);
			expect((await c.claim(10, 'o', LEASE, now + 60_001)).map((t) => t.id)).toEqual(['later']);
			expect(await c.nextDueAt(now + 60_001)).toBeNull();
		});

		it('transitions by compare-and-set on status and owner', async () => {
			const c = await make();
			await c.add(records([{ id: 'a', item: 1 }]));
			const [task] = await c.claim(1, 'owner-1', LEASE, Date.now());
			expect(task?.id).toBe('a');
			expect(await c.transition('a', 'waiting', 'stopped', {})).toBeNull();
			expect(await c.transition('a', 'running', 'succeeded', {}, 'owner-2')).toBeNull();
			expect(await c.transition('missing', 'running', 'succeeded', {})).toBeNull();
			const done = await c.transition(
				'a',
				'running',
				'succeeded',
				{ output: { sum: 3 }, finishedAt: 123, owner: null },
				'owner-1',
			);
			expect(done).toMatchObject({ status: 'succeeded', output: { sum: 3 }, finishedAt: 123, owner: null });
			expect(await c.transition('a', 'running', 'failed', {}, 'owner-1')).toBeNull();
			expect(await c.get('a')).toMatchObject({ status: 'succeeded', output: { sum: 3 } });
			expect(await c.counts()).toMatchObject({ running: 0, succeeded: 1 });
		});

		it('stores progress, ref and error as given', async () => {
			const c = await make();
			await c.add(records([{ id: 'a', item: 1 }]));
			await c.claim(1, 'o', LEASE, Date.now());
			await c.transition('a', 'running', 'running', { progress: { pct: 50 }, ref: 'job-7' }, 'o');
			await c.transition('a', 'running', 'failed', { error: { message: 'boom', code: 'E_BOOM' } }, 'o');
			expect(await c.get('a')).toMatchObject({
				progress: { pct: 50 },
				ref: 'job-7',
				error: { message: 'boom', code: 'E_BOOM' },
			});
		});

		it('makes a task claimable again when it goes back to waiting, after its runAt', async () => {
			const c = await make();
			await c.add(records([{ id: 'a', item: 1 }]));
			const now = Date.now();
			await c.claim(1, 'o', LEASE, now);
			const back = await c.transition(
				'a',
				'running',
				'waiting',
				{ runAt: now + 5_000, owner: null, leaseUntil: null },
				'o',
			);
			expect(back).toMatchObject({ status: 'waiting', attempts: 1 });
			expect(await c.claim(1, 'o', LEASE, now + 1_000)).toEqual([]);
			expect(await c.nextDueAt(now + 1_000)).toBe(now + 5_000);
			const again = await c.claim(1, 'o2', LEASE, now + 5_000);
			expect(again.map((t) => [t.id, t.attempts, t.owner])).toEqual([['a', 2, 'o2']]);
		});

		it('renews leases of owned running tasks and reports lost and stop-requested ones', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: 1 },
					{ id: 'b', item: 2 },
					{ id: 'c', item: 3 },
				]),
			);
			const now = Date.now();
			await c.claim(2, 'me', LEASE, now);
			await c.claim(1, 'other', LEASE, now);
			expect(await c.requestStop('b')).toMatchObject({ id: 'b', stopRequested: true });
			const result = await c.renew('me', ['a', 'b', 'c', 'missing'], LEASE, now + 1_000);
			expect(result.lost.sort()).toEqual(['c', 'missing']);
			expect(result.stopRequested).toEqual(['b']);
			expect((await c.get('a'))?.leaseUntil).toBe(now + 1_000 + LEASE);
		});

		it('reclaims expired leases: back to waiting, failed when attempts are spent, stopped when asked', async () => {
			const c = await make();
			const now = Date.now();
			await c.add([
				...records(
					[
						{ id: 'retry', item: 1 },
						{ id: 'stop', item: 3 },
					],
					now,
					3,
				),
				...records([{ id: 'spent', item: 2 }], now, 1),
			]);
			await c.claim(3, 'dead', 1_000, now);
			await c.requestStop('stop');
			expect(await c.reclaimExpired(now + 500)).toEqual([]);
			const moved = await c.reclaimExpired(now + 1_001);
			const byId = Object.fromEntries(moved.map((t) => [t.id, t.status]));
			expect(byId).toEqual({ retry: 'waiting', spent: 'failed', stop: 'stopped' });
			expect(await c.get('spent')).toMatchObject({
				status: 'failed',
				error: { code: 'ERR_LEASE_EXPIRED' },
				owner: null,
			});
			expect(await c.transition('retry', 'running', 'succeeded', {}, 'dead')).toBeNull();
			const again = await c.claim(5, 'alive', LEASE, now + 1_002);
			expect(again.map((t) => [t.id, t.attempts])).toEqual([['retry', 2]]);
		});

		describe('the reclaim rule', () => {
			/**
			 * Tasks claimed by a dead owner with a 1 s lease, some moved on to `exporting`, some asked to stop, each with
			 * progress, ref and output set; plus one claimed by a live owner whose lease has not expired.
			 */
			const setUp = async (c: TaskContainer, now: number): Promise<void> => {
				await c.add([
					...records(
						[
							{ id: 'retry', item: 1 },
							{ id: 'stop', item: 2 },
							{ id: 'x-retry', item: 3 },
							{ id: 'x-stop', item: 4 },
						],
						now,
						3,
					),
					...records(
						[
							{ id: 'spent', item: 5 },
							{ id: 'x-spent', item: 6 },
							{ id: 'stop-spent', item: 7 },
						],
						now,
						1,
					),
				]);
				expect(await c.claim(10, 'dead', 1_000, now)).toHaveLength(7);
				for (const id of ['retry', 'stop', 'x-retry', 'x-stop', 'spent', 'x-spent', 'stop-spent']) {
					const kept = { progress: { of: id }, ref: `ref-${id}`, output: { partial: id } };
					expect(
						await c.transition(id, 'running', id.startsWith('x-') ? 'exporting' : 'running', kept, 'dead'),
					).not.toBeNull();
				}
				for (const id of ['stop', 'x-stop', 'stop-spent'])
					expect(await c.requestStop(id)).toMatchObject({ stopRequested: true });
				await c.add(records([{ id: 'alive', item: 8 }], now, 3));
				expect((await c.claim(1, 'live', LEASE, now)).map((t) => t.id)).toEqual(['alive']);
			};
			const kept = (id: string): Partial<TaskRecord> => ({
				progress: { of: id },
				ref: `ref-${id}`,
				output: { partial: id },
				attempts: 1,
				owner: null,
				leaseUntil: null,
			});

			it('leaves a lease that has not expired before now untouched', async () => {
				const c = await make();
				const now = Date.now();
				await setUp(c, now);
				const before = (await c.list({ limit: 100 })).tasks;
				// A lease expires *before* now: leaseUntil = now + 1000 still holds at now + 1000.
				expect(await c.reclaimExpired(now + 1_000)).toEqual([]);
				const after = (await c.list({ limit: 100 })).tasks;
				expect(after.map(({ updatedAt: _u, ...rest }) => rest)).toEqual(
					before.map(({ updatedAt: _u, ...rest }) => rest),
				);
			});

			it('moves expired running and exporting tasks: stopped when asked, waiting while attempts remain, else failed', async () => {
				const c = await make();
				const now = Date.now();
				await setUp(c, now);
				const at = now + 1_001;
				const moved = await c.reclaimExpired(at);
				const byId = Object.fromEntries(moved.map((t) => [t.id, t]));
				expect(Object.keys(byId).sort()).toEqual([
					'retry',
					'spent',
					'stop',
					'stop-spent',
					'x-retry',
					'x-spent',
					'x-stop',
				]);
				for (const id of ['retry', 'x-retry']) {
					// Claimable at once; the attempt that ran stays counted; nothing finished.
					const expected = {
						...kept(id),
						status: 'waiting',
						runAt: at,
						startedAt: now,
						finishedAt: null,
						error: null,
						stopRequested: false,
					};
					expect(byId[id], id).toMatchObject(expected);
					expect(await c.get(id), id).toMatchObject(expected);
				}
				for (const id of ['stop', 'x-stop', 'stop-spent']) {
					// A stop request wins over both retrying and failing.
					const expected = {
						...kept(id),
						status: 'stopped',
						finishedAt: at,
						startedAt: now,
						error: null,
						stopRequested: true,
					};
					expect(byId[id], id).toMatchObject(expected);
					expect(await c.get(id), id).toMatchObject(expected);
				}
				for (const id of ['spent', 'x-spent']) {
					const expected = {
						...kept(id),
						status: 'failed',
						finishedAt: at,
						startedAt: now,
						error: { code: 'ERR_LEASE_EXPIRED' },
					};
					expect(byId[id], id).toMatchObject(expected);
					expect(await c.get(id), id).toMatchObject(expected);
				}
				expect(await c.get('alive')).toMatchObject({
					status: 'running',
					owner: 'live',
					leaseUntil: now + LEASE,
				});
				expect(await c.counts()).toMatchObject({ waiting: 2, running: 1, exporting: 0, failed: 2, stopped: 3 });
				// The dead owner's late reports are refused; a second reclaim finds nothing; the retries run again.
				expect(await c.transition('x-retry', 'exporting', 'succeeded', {}, 'dead')).toBeNull();
				expect(await c.reclaimExpired(at + 1)).toEqual([]);
				const again = await c.claim(10, 'next', LEASE, at);
				expect(again.map((t) => [t.id, t.attempts, t.owner]).sort()).toEqual([
					['retry', 2, 'next'],
					['x-retry', 2, 'next'],
				]);
			});
		});

		it('rejects a duplicate id of an unfinished task, all or nothing; re-adds a finished one', async () => {
			const c = await make();
			await c.add(records([{ id: 'a', item: 1 }]));
			await expect(
				c.add(
					records([
						{ id: 'new', item: 1 },
						{ id: 'a', item: 2 },
					]),
				),
			).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await c.get('new')).toBeNull();
			expect((await c.get('a'))?.item).toBe(1);
			await expect(
				c.add(
					records([
						{ id: 'x', item: 1 },
						{ id: 'x', item: 2 },
					]),
				),
			).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await c.get('x')).toBeNull();
			await c.claim(1, 'o', LEASE, Date.now());
			await c.transition('a', 'running', 'failed', { error: { message: 'no', code: 'E' }, finishedAt: 1 }, 'o');
			await c.add(records([{ id: 'a', item: 'again' }]));
			expect(await c.get('a')).toMatchObject({
				status: 'waiting',
				item: 'again',
				attempts: 0,
				error: null,
				finishedAt: null,
			});
			expect(await c.counts()).toMatchObject({ waiting: 1, failed: 0 });
		});

		if (options.sync === true)
			it('synchronous add of fresh ids: stored as any add, found by id, refused again while unfinished, re-run once finished', async () => {
				const c = await make();
				const sync = c.sync;
				if (sync === undefined)
					throw new Error('Expected the container to have `sync` (the `sync` option says so)');
				const one = records([{ item: 1 }]);
				const many = records([{ item: 2 }, { item: 3, key: 'k' }]);
				sync.add(one, true);
				sync.add(many, true);
				const ids = [...one, ...many].map((task) => task.id);
				expect((await c.list()).tasks.map((task) => [task.id, task.seq])).toEqual(
					[...one, ...many].map((task) => [task.id, task.seq]),
				);
				for (const [i, id] of ids.entries()) expect((await c.get(id))?.item).toBe(i + 1);
				// The clauses a fresh id skips no check of: an id given that a fresh one took, a key held.
				expect(() => sync.add(records([{ id: ids[2] as string, item: 'again' }]))).toThrow(DuplicateTaskError);
				expect(() => sync.add(records([{ item: 4, key: 'k' }]), true)).toThrow(DuplicateKeyError);
				expect(await c.counts()).toMatchObject({ waiting: 3 });
				const [first] = sync.claim(1, 'o', LEASE, Date.now());
				expect(first?.id).toBe(ids[0]);
				sync.transition(first as TaskRecord, 'running', 'succeeded', { finishedAt: Date.now() }, 'o');
				sync.add(records([{ id: ids[0] as string, item: 'again' }]));
				expect(await c.get(ids[0] as string)).toMatchObject({ status: 'waiting', item: 'again', attempts: 0 });
				expect(await c.counts()).toMatchObject({ waiting: 3, succeeded: 0 });
			});

		it('settles concurrent adds each on its own: a refused one stores nothing, the others are all stored', async () => {
			const c = await make();
			await c.add(records([{ id: 'done', item: 'first run' }]));
			await c.add(records([{ id: 'done-too', item: 'first run' }]));
			await c.claim(2, 'o', LEASE, Date.now());
			await c.transition('done', 'running', 'succeeded', { output: 1, finishedAt: 1 }, 'o');
			await c.transition('done-too', 'running', 'succeeded', { output: 2, finishedAt: 2 }, 'o');
			await c.add(records([{ id: 'held', item: 'kept', key: 'k-held' }]));
			// 500 single adds at once, among them: an id a waiting task holds, a key it holds, the same new id
			// twice, a re-run of a finished task, and a re-run of another one beside a held id (refused: the
			// finished task stays as it was).
			const calls: { id: string; tasks: TaskRecord[]; refusal?: string }[] = Array.from(
				{ length: 500 },
				(_, i) => ({
					id: `n${i}`,
					tasks: records([{ id: `n${i}`, item: i }]),
				}),
			);
			calls[100] = { id: 'held', tasks: records([{ id: 'held', item: 'again' }]), refusal: 'ERR_DUPLICATE_TASK' };
			calls[200] = {
				id: 'keyed',
				tasks: records([{ id: 'keyed', item: 1, key: 'k-held' }]),
				refusal: 'ERR_DUPLICATE_KEY',
			};
			calls[300] = { id: 'twin', tasks: records([{ id: 'twin', item: 'first' }]) };
			calls[301] = {
				id: 'twin',
				tasks: records([{ id: 'twin', item: 'second' }]),
				refusal: 'ERR_DUPLICATE_TASK',
			};
			calls[400] = { id: 'done', tasks: records([{ id: 'done', item: 'second run' }]) };
			calls[401] = {
				id: 'done-too',
				tasks: records([
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

		if (options.json) {
			it('rejects an item JSON cannot carry, naming the field, storing nothing', async () => {
				const c = await make();
				const bad = records([
					{ id: 'ok', item: 1 },
					{ id: 'bad', item: { when: new Date(0), f: () => 1 } },
				]);
				await expect(c.add(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
				await expect(c.add(bad)).rejects.toThrow(/item/);
				expect(await c.get('ok')).toBeNull();
				const big = records([{ id: 'big', item: { n: 10n } }]);
				await expect(c.add(big)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
				expect((await c.counts()).waiting).toBe(0);
			});
		}

		it('lists by status with offset, limit, order and total', async () => {
			const c = await make();
			await c.add(records(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
			await c.claim(3, 'o', LEASE, Date.now());
			const all = await c.list();
			expect(all.total).toBe(10);
			expect(all.tasks.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
			const waiting = await c.list({ status: 'waiting', offset: 2, limit: 3 });
			expect(waiting.total).toBe(7);
			expect(waiting.tasks.map((t) => t.id)).toEqual(['t5', 't6', 't7']);
			const both = await c.list({ status: ['running', 'waiting'], limit: 2, order: 'desc' });
			expect(both.total).toBe(10);
			expect(both.tasks.map((t) => t.id)).toEqual(['t9', 't8']);
			expect((await c.list({ status: 'succeeded' })).total).toBe(0);
			expect([all.more, waiting.more, both.more]).toEqual([false, true, true]);
			expect((await c.list({ status: 'waiting', offset: 4, limit: 3 })).more).toBe(false);
		});

		it('lists without an exact total: the same pages, `more` exactly when another page follows, a lower bound', async () => {
			const c = await make();
			await c.add(records(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
			await c.claim(3, 'o', LEASE, Date.now());
			const matching = { all: 10, waiting: 7, both: 10, none: 0 };
			const statuses = {
				all: undefined,
				waiting: 'waiting',
				both: ['running', 'waiting'],
				none: 'succeeded',
			} as const;
			for (const [name, status] of Object.entries(statuses))
				for (const order of ['asc', 'desc'] as const)
					for (const offset of [0, 3, 6, 7, 12])
						for (const limit of [0, 1, 3, 7]) {
							const query = { ...(status === undefined ? {} : { status }), order, offset, limit };
							const where = JSON.stringify(query);
							const exact = await c.list(query);
							const bound = await c.list({ ...query, exactTotal: false });
							const count = matching[name as keyof typeof matching];
							const shown = Math.min(limit, Math.max(0, count - offset));
							expect(exact.total, where).toBe(count);
							expect(
								bound.tasks.map((t) => t.id),
								where,
							).toEqual(exact.tasks.map((t) => t.id));
							expect(bound.tasks.length, where).toBe(shown);
							expect(exact.more, where).toBe(offset + shown < count);
							expect(bound.more, where).toBe(offset + shown < count);
							expect(bound.total, where).toBeLessThanOrEqual(count);
							if (shown === 0) expect(bound.total, where).toBe(count);
							else
								expect(bound.total, where).toBeGreaterThanOrEqual(
									offset + shown + (bound.more ? 1 : 0),
								);
						}
			// Walking the pages by `more` alone reads every task once, in order.
			const seen: string[] = [];
			for (let offset = 0; ; offset += 3) {
				const page = await c.list({ order: 'desc', offset, limit: 3, exactTotal: false });
				seen.push(...page.tasks.map((t) => t.id));
				if (!page.more) break;
			}
			expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `t${9 - i}`));
		});

		it('removes finished tasks only', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: 1 },
					{ id: 'b', item: 2 },
				]),
			);
			await expect(c.remove('a')).rejects.toBeInstanceOf(InvalidStateError);
			await c.transition('a', 'waiting', 'stopped', { finishedAt: Date.now() });
			expect(await c.remove('a')).toBe(true);
			expect(await c.get('a')).toBeNull();
			expect(await c.remove('a')).toBe(false);
			expect(await c.counts()).toMatchObject({ waiting: 1, stopped: 0 });
		});

		it('asks to stop running tasks only', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: 1 },
					{ id: 'b', item: 2 },
				]),
			);
			expect(await c.requestStop('a')).toBeNull();
			await c.claim(1, 'o', LEASE, Date.now());
			expect(await c.requestStop('a')).toMatchObject({ stopRequested: true, status: 'running' });
			expect(await c.requestStop('missing')).toBeNull();
		});

		it('refuses adds once closed; a second close is harmless', async () => {
			const c = await factory();
			await c.close();
			await expect(c.add(records([{ id: 'a', item: 1 }]))).rejects.toMatchObject({
				code: 'ERR_SCHEDULER_CLOSED',
			});
			await c.close();
		});

		describeKeys(make);
		describeGroups(make);
		describeOperations(make, { pause: false, clean: false, repeats: false, logs: false, ...options.operations });
	});
}
