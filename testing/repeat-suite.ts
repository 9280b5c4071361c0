/**
 * The container contract's repeating tasks (`putRepeat`, `getRepeat`, `listRepeats`, `removeRepeat`,
 * `advanceRepeat`), declared by `describeOperations` when the container offers them, else their absence: repeats
 * stored by key as copies, by compare-and-set over the record the caller read (once among concurrent first
 * declarations); a tick advanced by compare-and-set with its task added in the same step, to exactly one of many
 * concurrent advancers, refused whole when its task id is waiting.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateTaskError, type RepeatRecord, type TaskContainer } from 'lightsched';
import { taskRecords } from './task-records.js';

/** Declare the repeat cases for the containers `make` makes (`offered`: the container says it has repeats). */
export function describeRepeats(make: () => Promise<TaskContainer>, offered: boolean): void {
	describe('repeats', () => {
		const REPEAT_METHODS = ['putRepeat', 'getRepeat', 'listRepeats', 'removeRepeat', 'advanceRepeat'] as const;
		if (!offered) {
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
			expect(await r.putRepeat(repeat('b', 5_000, { cron: '* * * * *', item: { n: [1, 2] } }), null)).toBe(true);
			expect(await r.putRepeat(repeat('a', null), null)).toBe(true);
			const got = await r.getRepeat('b');
			expect(got).toEqual(repeat('b', 5_000, { cron: '* * * * *', item: { n: [1, 2] } }));
			((got?.spec as { item: { n: number[] } }).item.n as number[]).push(3);
			expect((await r.getRepeat('b'))?.spec).toEqual({ cron: '* * * * *', item: { n: [1, 2] } });
			expect((await r.listRepeats()).map((x) => [x.key, x.nextRunAt])).toEqual([
				['a', null],
				['b', 5_000],
			]);
			const replacement = { ...repeat('b', 9_000, { every: 5 }), createdAt: 7, updatedAt: 8 };
			expect(await r.putRepeat(replacement, got)).toBe(true);
			expect(await r.getRepeat('b')).toEqual({ ...replacement, createdAt: 1 });
			expect(await r.removeRepeat('b')).toBe(true);
			expect(await r.removeRepeat('b')).toBe(false);
			expect(await r.getRepeat('b')).toBeNull();
			expect((await r.listRepeats()).map((x) => x.key)).toEqual(['a']);
		});

		it('stores a repeat by compare-and-set over the one the caller read', async () => {
			const r = repeats(await make());
			const first = repeat('cas', 1_000, { every: 1000, item: 'first' });
			expect(await r.putRepeat(first, null)).toBe(true);
			// Stored already: an insert changes nothing.
			expect(await r.putRepeat(repeat('cas', 5_000, { every: 1000, item: 'other' }), null)).toBe(false);
			expect(await r.getRepeat('cas')).toEqual(first);
			// A tick moved it: a replacement over the record read before the tick changes nothing.
			expect(await r.advanceRepeat('cas', 1_000, 2_000, null)).toBe(true);
			const changed = { ...repeat('cas', 1_000, { every: 500 }), updatedAt: 3 };
			expect(await r.putRepeat(changed, first)).toBe(false);
			expect(await r.getRepeat('cas')).toMatchObject({ nextRunAt: 2_000, spec: { every: 1000, item: 'first' } });
			// Over the record as it is now, it replaces it; a repeat with no next tick (null) is compared too.
			const ticked = await r.getRepeat('cas');
			const last = { ...repeat('cas', null, { every: 500 }), updatedAt: 4 };
			expect(await r.putRepeat(last, ticked)).toBe(true);
			expect(await r.putRepeat({ ...last, spec: { every: 250 }, updatedAt: 5 }, ticked)).toBe(false);
			expect(await r.putRepeat({ ...last, spec: { every: 250 }, updatedAt: 5 }, last)).toBe(true);
			expect(await r.getRepeat('cas')).toMatchObject({ nextRunAt: null, spec: { every: 250 }, updatedAt: 5 });
			// A removed repeat is not replaced; it is stored again only as a new one.
			expect(await r.removeRepeat('cas')).toBe(true);
			expect(await r.putRepeat(first, last)).toBe(false);
			expect(await r.getRepeat('cas')).toBeNull();
			expect((await r.listRepeats()).map((x) => x.key)).toEqual([]);
		});

		it('stores a new repeat for exactly one of many schedulers declaring it at once', async () => {
			const r = repeats(await make());
			const results = await Promise.all(
				Array.from({ length: 8 }, (_, i) =>
					r.putRepeat(repeat('first', 1_000 + i, { every: 1000, n: i }), null),
				),
			);
			expect(results.filter(Boolean)).toHaveLength(1);
			const winner = results.indexOf(true);
			expect(await r.getRepeat('first')).toMatchObject({ nextRunAt: 1_000 + winner, spec: { n: winner } });
			expect(await r.listRepeats()).toHaveLength(1);
		});

		it('advances a tick by compare-and-set, adding its task in the same step', async () => {
			const c = await make();
			const r = repeats(c);
			const now = Date.now();
			await r.putRepeat(repeat('tick', 1_000), null);
			const [task] = taskRecords([{ id: 'repeat:tick:1000', item: 'first' }], now);
			expect(await r.advanceRepeat('tick', 1_000, 2_000, task ?? null)).toBe(true);
			expect(await r.getRepeat('tick')).toMatchObject({ nextRunAt: 2_000 });
			// The move is dated by the caller's clock: a changed definition starts after it.
			expect((await r.getRepeat('tick'))?.updatedAt).toBeGreaterThanOrEqual(now);
			expect(await c.get('repeat:tick:1000')).toMatchObject({ status: 'waiting', item: 'first' });
			// A second scheduler with the same stale view: nothing moves, nothing is added.
			const [again] = taskRecords([{ id: 'repeat:tick:1000-b', item: 'again' }], now);
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
			await c.add(taskRecords([{ id: 'taken', item: 'mine' }], now));
			await r.putRepeat(repeat('dup', 1_000), null);
			const [task] = taskRecords([{ id: 'taken', item: 'tick' }], now);
			await expect(r.advanceRepeat('dup', 1_000, 2_000, task ?? null)).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await r.getRepeat('dup')).toMatchObject({ nextRunAt: 1_000 });
			expect(await c.get('taken')).toMatchObject({ item: 'mine' });
		});

		it('gives each tick to exactly one of many concurrent advancers', async () => {
			const c = await make();
			const r = repeats(c);
			const now = Date.now();
			await r.putRepeat(repeat('race', 1_000), null);
			const results = await Promise.all(
				Array.from({ length: 8 }, (_, i) => {
					const [task] = taskRecords([{ id: `race-${i}`, item: i }], now);
					return r.advanceRepeat('race', 1_000, 2_000, task ?? null);
				}),
			);
			expect(results.filter(Boolean)).toHaveLength(1);
			expect(await c.counts()).toMatchObject({ waiting: 1 });
		});
	});
}
