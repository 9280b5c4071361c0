/**
 * The contract of a container's optional operations (queue-wide pause, bulk clean), declared inside
 * `describeContainerContract` for the operations a container says it offers (`ContainerContractOptions.operations`).
 * A container that says it does not offer one must not have its methods either: an operation is either declared
 * and tested, or absent (the scheduler then refuses it with a clear error).
 */
import { describe, expect, it } from 'vitest';
import {
	DuplicateTaskError,
	type ContainerSignal,
	type FinalStatus,
	type NewTask,
	type RepeatRecord,
	type TaskChange,
	type TaskContainer,
	type TaskRecord,
} from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';

/** The optional operations a container offers. */
export interface ContainerOperations {
	/** `setPaused` and `isPaused`: a queue-wide pause. */
	readonly pause: boolean;
	/** `clean`: bulk retention of finished tasks. */
	readonly clean: boolean;
	/** `putRepeat`, `getRepeat`, `listRepeats`, `removeRepeat`, `advanceRepeat`: repeating tasks. */
	readonly repeats: boolean;
	/** `appendLogs`, `getLogs`: task logs. */
	readonly logs: boolean;
	/** `readChanges`: task changes for followers in any process. Absent means not offered. */
	readonly events?: boolean;
}

const LEASE = 10_000;

function build(tasks: readonly NewTask[], now: number): TaskRecord[] {
	return tasks.map((task, i) => createTaskRecord(task, `tasks[${i}]`, { maxAttempts: 3 }, now));
}

/** Wait (bounded: about 5 s) until `done()`; the caller's expectation then says whether it came. */
async function until(done: () => boolean): Promise<void> {
	for (let i = 0; i < 250 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * Add `ids` (in this order, each with its own retention rule when given), claim them and finish each in `status`
 * at the given `finishedAt`.
 */
async function finish(
	c: TaskContainer,
	status: FinalStatus,
	finished: readonly (readonly [id: string, finishedAt: number, retention?: NewTask['retention']])[],
): Promise<void> {
	const now = Date.now();
	for (const [id, , retention] of finished) {
		await c.add(build([{ id, item: id, ...(retention === undefined ? {} : { retention }) }], now));
	}
	const claimed = await c.claim(finished.length, 'cleaner', LEASE, now);
	expect(claimed.map((t) => t.id).sort()).toEqual(finished.map(([id]) => id).sort());
	for (const [id, finishedAt] of finished) {
		const moved = await c.transition(
			id,
			'running',
			status,
			{ finishedAt, owner: null, leaseUntil: null },
			'cleaner',
		);
		expect(moved?.status).toBe(status);
	}
}

/** Declare the tests of the operations `offered` says `make`'s containers have. */
export function describeOperations(make: () => Promise<TaskContainer>, offered: ContainerOperations): void {
	describe('queue-wide pause', () => {
		if (!offered.pause) {
			it('offers no pause (declared so)', async () => {
				const c = await make();
				expect(c.setPaused).toBeUndefined();
				expect(c.isPaused).toBeUndefined();
			});
			return;
		}
		it('claims nothing while paused, and everything again once resumed', async () => {
			const c = await make();
			const setPaused = c.setPaused?.bind(c);
			const isPaused = c.isPaused?.bind(c);
			if (setPaused === undefined || isPaused === undefined)
				throw new Error('declared pause, has no setPaused/isPaused');
			const now = Date.now();
			await c.add(build([{ id: 'a', item: 1 }], now));
			expect(await isPaused()).toBe(false);
			await setPaused(true);
			expect(await isPaused()).toBe(true);
			// Adds and due times go on; nothing is claimable, and nothing is "due next" to wake a scheduler for.
			await c.add(
				build(
					[
						{ id: 'b', item: 2 },
						{ id: 'later', item: 3, runAt: now + 60_000 },
					],
					now,
				),
			);
			expect(await c.claim(10, 'o', LEASE, now)).toEqual([]);
			expect(await c.nextDueAt(now)).toBeNull();
			expect(await c.counts()).toMatchObject({ waiting: 3, running: 0 });
			await setPaused(true); // pausing twice is harmless
			const signals: ContainerSignal[] = [];
			const unwatch = c.watch?.((signal) => signals.push(signal));
			// A shared container's channel says when it is subscribed: resume only then, so the wake can be heard.
			if (unwatch !== undefined && c.shared) await until(() => signals.some((s) => s.type === 'channel' && s.ok));
			await setPaused(false);
			expect(await isPaused()).toBe(false);
			if (unwatch !== undefined) {
				// Resuming wakes the schedulers (the signal may come over a channel: wait for it, bounded).
				await until(() => signals.some((s) => s.type === 'wake'));
				unwatch();
				expect(signals.some((s) => s.type === 'wake')).toBe(true);
			}
			const claimed = await c.claim(10, 'o', LEASE, Date.now());
			expect(claimed.map((t) => t.id)).toEqual(['a', 'b']);
			expect(await c.nextDueAt(Date.now())).toBe(now + 60_000);
		});

		it('lets running tasks finish and be renewed while paused', async () => {
			const c = await make();
			const now = Date.now();
			await c.add(build([{ id: 'a', item: 1 }], now));
			const [task] = await c.claim(1, 'o', LEASE, now);
			expect(task?.id).toBe('a');
			await c.setPaused?.(true);
			expect((await c.renew('o', ['a'], LEASE, now + 1_000)).lost).toEqual([]);
			const done = await c.transition('a', 'running', 'succeeded', { finishedAt: now, owner: null }, 'o');
			expect(done?.status).toBe('succeeded');
			await c.setPaused?.(false);
		});
	});

	describe('clean', () => {
		if (!offered.clean) {
			it('offers no clean (declared so)', async () => {
				expect((await make()).clean).toBeUndefined();
			});
			return;
		}
		const clean = (c: TaskContainer): NonNullable<TaskContainer['clean']> => {
			if (c.clean === undefined) throw new Error('declared clean, has no clean()');
			return c.clean.bind(c);
		};

		it('deletes finished tasks of one status finished before a time, oldest first, in bounded batches', async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['s1', 1_000],
				['s2', 5_000],
				['s3', 2_000],
				['s4', 9_000],
			]);
			await finish(c, 'failed', [['f1', 1_000]]);
			await c.add(build([{ id: 'w', item: 'waiting' }], Date.now()));
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual(['s1', 's2']);
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual(['s3']);
			expect(await clean(c)({ status: 'succeeded', finishedBefore: 6_000, limit: 2 })).toEqual([]);
			expect(await c.get('s1')).toBeNull();
			expect(await c.get('s4')).toMatchObject({ status: 'succeeded' });
			expect(await c.get('f1')).toMatchObject({ status: 'failed' });
			expect(await c.get('w')).toMatchObject({ status: 'waiting' });
			expect(await c.counts()).toMatchObject({ succeeded: 1, failed: 1, waiting: 1 });
			expect((await c.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['s4']);
		});

		it('keeps the newest `keep` of a status; either rule selects; no rule selects all', async () => {
			const c = await make();
			await finish(c, 'failed', [
				['f1', 9_000],
				['f2', 1_000],
				['f3', 9_000],
				['f4', 1_000],
				['f5', 9_000],
			]);
			// Beyond the newest 3 (f1, f2) or finished before 5,000 (f2, f4).
			expect(await clean(c)({ status: 'failed', keep: 3, finishedBefore: 5_000, limit: 100 })).toEqual([
				'f1',
				'f2',
				'f4',
			]);
			expect(await clean(c)({ status: 'failed', keep: 1, limit: 100 })).toEqual(['f3']);
			await finish(c, 'stopped', [
				['x1', 1],
				['x2', 2],
			]);
			expect((await clean(c)({ status: 'stopped', limit: 100 })).sort()).toEqual(['x1', 'x2']);
			expect(await c.counts()).toMatchObject({ failed: 1, stopped: 0 });
			// A cleaned id can be added again.
			await c.add(build([{ id: 'f1', item: 'again' }], Date.now()));
			expect(await c.get('f1')).toMatchObject({ status: 'waiting', item: 'again' });
		});

		it('rejects a bad query, naming the field, deleting nothing', async () => {
			const c = await make();
			await finish(c, 'succeeded', [['s1', 1]]);
			const bad = [
				[{ status: 'waiting', limit: 10 }, /status/],
				[{ status: 'succeeded', limit: 0 }, /limit/],
				[{ status: 'succeeded', limit: 10, keep: -1 }, /keep/],
				[{ status: 'succeeded', limit: 10, finishedBefore: Number.NaN }, /finishedBefore/],
			] as const;
			for (const [query, field] of bad) {
				await expect(clean(c)(query as never)).rejects.toThrow(field);
			}
			expect(await c.get('s1')).toMatchObject({ status: 'succeeded' });
		});

		it('leaves tasks with their own rule for the status out of a background query (neither deleted nor counted); an explicit one deletes them', async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['a1', 1_000],
				['r1', 1_000, { succeeded: 60_000 }],
				['a2', 2_000],
				['r2', 2_000, { failed: 0 }], // a rule for another status: the scheduler's rule governs it here
				['a3', 9_000],
			]);
			expect(await c.get('r1')).toMatchObject({ retention: { succeeded: 60_000 } });
			expect(
				await clean(c)({ status: 'succeeded', finishedBefore: 5_000, exceptOwnRule: true, limit: 100 }),
			).toEqual(['a1', 'a2', 'r2']);
			expect(await c.get('r1')).toMatchObject({ status: 'succeeded' });
			await finish(c, 'failed', [
				['k1', 1],
				['k2', 1, { failed: 60_000 }],
				['k3', 1],
				['k4', 1, { failed: 60_000, succeeded: 0 }],
				['k5', 1],
			]);
			// Of the three without a rule, keep the newest one.
			expect(await clean(c)({ status: 'failed', keep: 1, exceptOwnRule: true, limit: 100 })).toEqual([
				'k1',
				'k3',
			]);
			// An explicit query counts and deletes tasks with a rule as any other.
			expect(await clean(c)({ status: 'failed', keep: 1, limit: 100 })).toEqual(['k2', 'k4']);
			expect(await clean(c)({ status: 'succeeded', limit: 100 })).toEqual(['r1', 'a3']);
			expect(await c.counts()).toMatchObject({ succeeded: 0, failed: 1 });
		});

		it("selects by tasks' own rules with expiredBy: only lapsed ones, among ids when given; a re-run is not the old task", async () => {
			const c = await make();
			await finish(c, 'succeeded', [
				['e1', 1_000, { succeeded: 1_000 }], // lapses at 2,000
				['e2', 1_000, { succeeded: 5_000 }], // at 6,000
				['e3', 0], // no rule
				['e4', 0, { failed: 0 }], // no rule for succeeded
				['e5', 3_000, { succeeded: 0 }], // at 3,000
			]);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 2_500, limit: 100 })).toEqual(['e1']);
			expect(await clean(c)({ status: 'failed', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect(
				await clean(c)({ status: 'succeeded', expiredBy: 7_000, ids: ['e2', 'e3', 'e4', 'nope'], limit: 100 }),
			).toEqual(['e2']);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 2_999, limit: 100 })).toEqual([]);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 3_000, limit: 100 })).toEqual(['e5']);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect((await c.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual(['e3', 'e4']);
			// Bounded batches.
			await finish(c, 'stopped', [
				['b1', 1, { stopped: 0 }],
				['b2', 1, { stopped: 0 }],
				['b3', 1, { stopped: 0 }],
			]);
			const first = await clean(c)({ status: 'stopped', expiredBy: 10, limit: 2 });
			expect(first).toHaveLength(2);
			expect([...first, ...(await clean(c)({ status: 'stopped', expiredBy: 10, limit: 2 }))].sort()).toEqual([
				'b1',
				'b2',
				'b3',
			]);
			// A finished task with a rule, added again without one: the re-run is not deleted by the old rule, in any
			// status it reaches.
			await finish(c, 'succeeded', [['again', 1_000, { succeeded: 0 }]]);
			await c.add(build([{ id: 'again', item: 'second run' }], Date.now()));
			expect(await c.get('again')).toMatchObject({ status: 'waiting', retention: null });
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			const [claimed] = await c.claim(1, 'cleaner', LEASE, Date.now());
			expect(claimed?.id).toBe('again');
			await c.transition(
				'again',
				'running',
				'succeeded',
				{ finishedAt: 1, owner: null, leaseUntil: null },
				'cleaner',
			);
			expect(await clean(c)({ status: 'succeeded', expiredBy: 1e13, limit: 100 })).toEqual([]);
			expect(await c.get('again')).toMatchObject({ status: 'succeeded', item: 'second run' });
		});

		it("honours a task's own rule when the container finishes it itself (a lease-expiry reclaim)", async () => {
			const c = await make();
			const now = Date.now();
			await c.add(
				build(
					[
						{ id: 'lost', item: 1, maxAttempts: 1, retention: { failed: 0 } },
						{ id: 'stop', item: 2, retention: { stopped: 0 } },
						{ id: 'plain', item: 3, maxAttempts: 1 },
					],
					now,
				),
			);
			expect(await c.claim(3, 'gone', 1, now)).toHaveLength(3);
			await c.requestStop('stop');
			await new Promise((resolve) => setTimeout(resolve, 20));
			const moved = await c.reclaimExpired(Date.now() + 10);
			expect(moved.map((t) => [t.id, t.status]).sort()).toEqual([
				['lost', 'failed'],
				['plain', 'failed'],
				['stop', 'stopped'],
			]);
			// By the time of the reclaim, on any clock the container keeps (give it a minute of skew).
			const later = Date.now() + 60_000;
			expect(await clean(c)({ status: 'failed', expiredBy: later, limit: 100 })).toEqual(['lost']);
			expect(await clean(c)({ status: 'stopped', expiredBy: later, limit: 100 })).toEqual(['stop']);
			expect(await c.get('plain')).toMatchObject({ status: 'failed', retention: null });
		});

		it('rejects a bad own-rule query, naming the field', async () => {
			const c = await make();
			await finish(c, 'succeeded', [['s1', 1, { succeeded: 0 }]]);
			const bad = [
				[{ status: 'succeeded', limit: 10, expiredBy: Number.NaN }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, expiredBy: 5, keep: 1 }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, expiredBy: 5, exceptOwnRule: true }, /expiredBy/],
				[{ status: 'succeeded', limit: 10, ids: ['s1'] }, /ids/],
				[{ status: 'succeeded', limit: 10, exceptOwnRule: 'yes' }, /exceptOwnRule/],
			] as const;
			for (const [query, field] of bad) {
				await expect(clean(c)(query as never)).rejects.toThrow(field);
			}
			expect(await c.get('s1')).toMatchObject({ status: 'succeeded' });
		});
	});

	describe('repeats', () => {
		const REPEAT_METHODS = ['putRepeat', 'getRepeat', 'listRepeats', 'removeRepeat', 'advanceRepeat'] as const;
		if (!offered.repeats) {
			it('offers no repeats (declared so)', async () => {
				const c = await make();
				for (const name of REPEAT_METHODS) expect(c[name]).toBeUndefined();
			});
			return;
		}
		type Repeats = Required<Pick<TaskContainer, (typeof REPEAT_METHODS)[number]>>;
		const repeats = (c: TaskContainer): Repeats => {
			for (const name of REPEAT_METHODS) {
				if (typeof c[name] !== 'function') throw new Error(`declared repeats, has no ${name}()`);
			}
			return c as TaskContainer & Repeats;
		};
		const repeat = (key: string, nextRunAt: number | null, spec: unknown = { every: 1000 }): RepeatRecord => ({
			key,
			spec,
			nextRunAt,
			createdAt: 1,
			updatedAt: 1,
		});

		it('stores, replaces, lists by key and removes repeats, handing out copies', async () => {
			const r = repeats(await make());
			await r.putRepeat(repeat('b', 5_000, { cron: '* * * * *', item: { n: [1, 2] } }));
			await r.putRepeat(repeat('a', null));
			const got = await r.getRepeat('b');
			expect(got).toEqual(repeat('b', 5_000, { cron: '* * * * *', item: { n: [1, 2] } }));
			((got?.spec as { item: { n: number[] } }).item.n as number[]).push(3);
			expect((await r.getRepeat('b'))?.spec).toEqual({ cron: '* * * * *', item: { n: [1, 2] } });
			expect((await r.listRepeats()).map((x) => [x.key, x.nextRunAt])).toEqual([
				['a', null],
				['b', 5_000],
			]);
			await r.putRepeat(repeat('b', 9_000, { every: 5 }));
			expect(await r.getRepeat('b')).toMatchObject({ nextRunAt: 9_000, spec: { every: 5 } });
			expect(await r.removeRepeat('b')).toBe(true);
			expect(await r.removeRepeat('b')).toBe(false);
			expect(await r.getRepeat('b')).toBeNull();
			expect((await r.listRepeats()).map((x) => x.key)).toEqual(['a']);
		});

		it('advances a tick by compare-and-set, adding its task in the same step', async () => {
			const c = await make();
			const r = repeats(c);
			const now = Date.now();
			await r.putRepeat(repeat('tick', 1_000));
			const [task] = build([{ id: 'repeat:tick:1000', item: 'first' }], now);
			expect(await r.advanceRepeat('tick', 1_000, 2_000, task ?? null)).toBe(true);
			expect(await r.getRepeat('tick')).toMatchObject({ nextRunAt: 2_000 });
			expect(await c.get('repeat:tick:1000')).toMatchObject({ status: 'waiting', item: 'first' });
			// A second scheduler with the same stale view: nothing moves, nothing is added.
			const [again] = build([{ id: 'repeat:tick:1000-b', item: 'again' }], now);
			expect(await r.advanceRepeat('tick', 1_000, 2_000, again ?? null)).toBe(false);
			expect(await c.get('repeat:tick:1000-b')).toBeNull();
			// A tick that adds nothing (skipped), and the last tick (next: null).
			expect(await r.advanceRepeat('tick', 2_000, 3_000, null)).toBe(true);
			expect(await r.advanceRepeat('tick', 3_000, null, null)).toBe(true);
			expect(await r.getRepeat('tick')).toMatchObject({ nextRunAt: null });
			expect(await r.advanceRepeat('missing', 1_000, 2_000, null)).toBe(false);
			expect(await c.counts()).toMatchObject({ waiting: 1 });
		});

		it('refuses a tick whose task id is waiting, changing nothing', async () => {
			const c = await make();
			const r = repeats(c);
			const now = Date.now();
			await c.add(build([{ id: 'taken', item: 'mine' }], now));
			await r.putRepeat(repeat('dup', 1_000));
			const [task] = build([{ id: 'taken', item: 'tick' }], now);
			await expect(r.advanceRepeat('dup', 1_000, 2_000, task ?? null)).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await r.getRepeat('dup')).toMatchObject({ nextRunAt: 1_000 });
			expect(await c.get('taken')).toMatchObject({ item: 'mine' });
		});

		it('gives each tick to exactly one of many concurrent advancers', async () => {
			const c = await make();
			const r = repeats(c);
			const now = Date.now();
			await r.putRepeat(repeat('race', 1_000));
			const results = await Promise.all(
				Array.from({ length: 8 }, (_, i) => {
					const [task] = build([{ id: `race-${i}`, item: i }], now);
					return r.advanceRepeat('race', 1_000, 2_000, task ?? null);
				}),
			);
			expect(results.filter(Boolean)).toHaveLength(1);
			expect(await c.counts()).toMatchObject({ waiting: 1 });
		});
	});

	describe('task logs', () => {
		if (!offered.logs) {
			it('offers no task logs (declared so)', async () => {
				const c = await make();
				expect(c.appendLogs).toBeUndefined();
				expect(c.getLogs).toBeUndefined();
			});
			return;
		}
		type Logs = Required<Pick<TaskContainer, 'appendLogs' | 'getLogs'>>;
		const logs = (c: TaskContainer): Logs => {
			if (typeof c.appendLogs !== 'function' || typeof c.getLogs !== 'function')
				throw new Error('declared logs, has no appendLogs()/getLogs()');
			return c as TaskContainer & Logs;
		};

		it('keeps the newest lines of a task, numbered from its first, paged from any offset', async () => {
			const c = await make();
			const l = logs(c);
			await c.add(build([{ id: 'a', item: 1 }], Date.now()));
			expect(await l.getLogs('a')).toEqual({ lines: [], offset: 0, total: 0, dropped: 0 });
			await l.appendLogs('a', ['one', 'two', 'ünïcode ✓'], 5);
			await l.appendLogs('a', ['four', 'five', 'six', 'seven'], 5);
			// Seven logged, the newest five kept: lines 2..6.
			expect(await l.getLogs('a')).toEqual({
				lines: ['ünïcode ✓', 'four', 'five', 'six', 'seven'],
				offset: 2,
				total: 7,
				dropped: 2,
			});
			expect(await l.getLogs('a', { offset: 3, limit: 2 })).toMatchObject({ lines: ['four', 'five'], offset: 3 });
			expect(await l.getLogs('a', { offset: -2 })).toMatchObject({ lines: ['six', 'seven'], offset: 5 });
			expect(await l.getLogs('a', { offset: 0, limit: 1 })).toMatchObject({ lines: ['ünïcode ✓'], offset: 2 });
			expect(await l.getLogs('a', { offset: 99 })).toMatchObject({ lines: [], offset: 7, total: 7 });
			// A task that does not exist has no log, and its lines are dropped.
			await l.appendLogs('ghost', ['boo'], 5);
			expect(await l.getLogs('ghost')).toEqual({ lines: [], offset: 0, total: 0, dropped: 0 });
			await expect(l.getLogs('a', { limit: -1 })).rejects.toThrow(/`limit`/);
		});

		it('deletes a log with its task, and starts a new one for a re-run', async () => {
			const c = await make();
			const l = logs(c);
			const now = Date.now();
			await c.add(
				build(
					[
						{ id: 'a', item: 1 },
						{ id: 'b', item: 2 },
					],
					now,
				),
			);
			await l.appendLogs('a', ['first run'], 100);
			await l.appendLogs('b', ['b line'], 100);
			await c.claim(2, 'o', 10_000, now);
			await c.transition('a', 'running', 'failed', { finishedAt: now, owner: null }, 'o');
			await c.transition('b', 'running', 'succeeded', { finishedAt: now, owner: null }, 'o');
			await c.add(build([{ id: 'a', item: 'again' }], now));
			expect(await l.getLogs('a')).toMatchObject({ lines: [], total: 0 });
			await l.appendLogs('a', ['second run'], 100);
			expect((await l.getLogs('a')).lines).toEqual(['second run']);
			expect(await c.remove('b')).toBe(true);
			expect(await l.getLogs('b')).toMatchObject({ lines: [], total: 0 });
			await c.add(build([{ id: 'b', item: 'new' }], now));
			expect((await l.getLogs('b')).lines).toEqual([]);
		});
	});

	describe('task changes', () => {
		if (offered.events !== true) {
			it('offers no task changes (declared so)', async () => {
				expect((await make()).readChanges).toBeUndefined();
			});
			return;
		}
		const read = (c: TaskContainer): NonNullable<TaskContainer['readChanges']> => {
			if (typeof c.readChanges !== 'function') throw new Error('declared events, has no readChanges()');
			return c.readChanges.bind(c);
		};
		/** Every change after `after`, page by page (`limit` a page). */
		async function readAll(c: TaskContainer, after: string, limit = 100): Promise<TaskChange[]> {
			const all: TaskChange[] = [];
			for (let cursor = after; ;) {
				const page = await read(c)({ after: cursor, limit, waitMs: 0 });
				expect(page.gap).toBe(false);
				all.push(...page.changes);
				if (page.changes.length === 0) return all;
				expect(page.next).toBe(page.changes.at(-1)?.cursor);
				cursor = page.next;
			}
		}

		it('records every move of a followed task, in order, with its output, error and progress', async () => {
			const c = await make();
			const start = await read(c)({ after: null, limit: 10, waitMs: 0 });
			expect(start).toMatchObject({ changes: [], gap: false });
			const now = Date.now();
			await c.add(build([{ id: 'a', item: 1 }], now));
			await c.claim(1, 'o', LEASE, now);
			await c.transition('a', 'running', 'running', { ref: 'job-1' }, 'o'); // records nothing
			await c.transition('a', 'running', 'running', { progress: { done: 1 } }, 'o');
			const error = { message: 'boom', code: 'ERR_TASK_FAILED' };
			await c.transition('a', 'running', 'waiting', { error, runAt: now, owner: null, leaseUntil: null }, 'o');
			await c.claim(1, 'o', LEASE, now);
			await c.transition('a', 'running', 'exporting', {}, 'o'); // records nothing
			await c.transition(
				'a',
				'exporting',
				'succeeded',
				{ output: { sum: 3 }, error: null, finishedAt: now, owner: null, leaseUntil: null },
				'o',
			);
			await c.add(build([{ id: 'b', item: 2 }], now));
			await c.transition('b', 'waiting', 'stopped', { finishedAt: now });
			const changes = await readAll(c, start.next, 2);
			expect(changes.map((x) => [x.id, x.type, x.attempts])).toEqual([
				['a', 'added', 0],
				['a', 'started', 1],
				['a', 'progress', 1],
				['a', 'retrying', 1],
				['a', 'started', 2],
				['a', 'succeeded', 2],
				['b', 'added', 0],
				['b', 'stopped', 0],
			]);
			expect(changes[2]?.progress).toEqual({ done: 1 });
			expect(changes[3]?.error).toEqual(error);
			expect(changes[5]?.output).toEqual({ sum: 3 });
			// A final change may carry the final record (so waitFor need not read it back): then it is that record.
			if (changes[5]?.record !== undefined) expect(changes[5].record).toEqual(await c.get('a'));
			if (changes[7]?.record !== undefined) expect(changes[7].record).toEqual(await c.get('b'));
			expect(new Set(changes.map((x) => x.cursor)).size).toBe(changes.length);
			for (const change of changes) expect(typeof change.at).toBe('number');
			// Reading again after the last cursor: nothing new, the same cursor back.
			const last = changes.at(-1)?.cursor ?? '';
			expect(await read(c)({ after: last, limit: 10, waitMs: 0 })).toEqual({
				changes: [],
				next: last,
				gap: false,
			});
		});

		it('records a failure and the reclaim of an expired lease', async () => {
			const c = await make();
			const { next } = await read(c)({ after: null, limit: 10, waitMs: 0 });
			const now = Date.now();
			await c.add(
				build(
					[
						{ id: 'f', item: 1, maxAttempts: 1 },
						{ id: 'r', item: 2 },
					],
					now,
				),
			);
			await c.claim(2, 'o', 1, now);
			const error = { message: 'no', code: 'E_NO' };
			await c.transition(
				'f',
				'running',
				'failed',
				{ error, finishedAt: now, owner: null, leaseUntil: null },
				'o',
			);
			await new Promise((resolve) => setTimeout(resolve, 20));
			const moved = await c.reclaimExpired(Date.now() + 10);
			expect(moved.map((t) => [t.id, t.status])).toEqual([['r', 'waiting']]);
			const changes = await readAll(c, next);
			expect(changes.map((x) => [x.id, x.type])).toEqual([
				['f', 'added'],
				['r', 'added'],
				['f', 'started'],
				['r', 'started'],
				['f', 'failed'],
				['r', 'retrying'],
			]);
			expect(changes[4]?.error).toEqual(error);
		});

		it('answers a waiting read as soon as a change comes, and an aborted one at once', async () => {
			const c = await make();
			const { next } = await read(c)({ after: null, limit: 10, waitMs: 0 });
			const waiting = read(c)({ after: next, limit: 10, waitMs: 20_000 });
			await new Promise((resolve) => setTimeout(resolve, 50));
			await c.add(build([{ id: 'x', item: 1 }], Date.now()));
			const page = await waiting;
			expect(page.changes.map((x) => [x.id, x.type])).toEqual([['x', 'added']]);
			const abort = new AbortController();
			const aborted = read(c)({ after: page.next, limit: 10, waitMs: 20_000, signal: abort.signal });
			setTimeout(() => abort.abort(), 50);
			expect(await aborted).toMatchObject({ changes: [], next: page.next });
		});
	});
}
