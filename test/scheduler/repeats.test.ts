/**
 * Repeating tasks on the in-process containers: ticks on an interval and on cron patterns with time zones (DST
 * included), declaring the same repeat again, changing and removing it, the missed-tick policy, and option errors.
 * Across processes, on Redis, PostgreSQL and SQLite: test/operations/repeats-multiprocess.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { planTick, tickAfter } from '../../src/repeat-spec.js';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
	for (const scheduler of opened.splice(0)) await scheduler.close();
});

function make(): { scheduler: Scheduler<string, string>; ran: string[] } {
	const ran: string[] = [];
	const scheduler = new Scheduler<string, string>({
		container: new QueueContainer(),
		concurrency: 4,
		actuator: new FunctionActuator((item: string, { task }) => {
			ran.push(task.id);
			return item;
		}),
	});
	opened.push(scheduler);
	return { scheduler, ran };
}

describe('Scheduler.repeat', () => {
	it('adds one task per tick, on the multiples of `every`, until removed', async () => {
		const { scheduler, ran } = make();
		const info = await scheduler.repeat({ key: 'beat', every: 40, item: 'tick' });
		expect(info).toMatchObject({ key: 'beat', every: 40, item: 'tick', missed: 'once' });
		expect((info.nextRunAt ?? 0) % 40).toBe(0);
		await vi.waitFor(() => expect(ran.length).toBeGreaterThanOrEqual(4), { timeout: 5_000, interval: 10 });
		expect(await scheduler.removeRepeat('beat')).toBe(true);
		expect(await scheduler.removeRepeat('beat')).toBe(false);
		await scheduler.onIdle();
		const after = ran.length;
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(ran.length).toBe(after);
		const ticks = ran.map((id) => Number(id.split(':')[2]));
		expect(ran.every((id) => id.startsWith('repeat:beat:'))).toBe(true);
		expect(new Set(ticks).size).toBe(ticks.length);
		expect(ticks.every((t) => t % 40 === 0)).toBe(true);
		expect(await scheduler.get(ran[0] ?? '')).toMatchObject({ status: 'succeeded', output: 'tick' });
	});

	it('keeps the schedule when the same repeat is declared again; a changed one replaces it', async () => {
		const { scheduler } = make();
		const first = await scheduler.repeat({ key: 'nightly', cron: '0 3 * * *', tz: 'UTC', item: 'a' });
		const again = await scheduler.repeat({ key: 'nightly', cron: '0 3 * * *', tz: 'UTC', item: 'a' });
		expect(again).toEqual(first);
		expect(new Date(first.nextRunAt ?? 0).toISOString()).toMatch(/T03:00:00\.000Z$/);
		const changed = await scheduler.repeat({ key: 'nightly', cron: '30 4 * * *', tz: 'UTC', item: 'b' });
		expect(new Date(changed.nextRunAt ?? 0).toISOString()).toMatch(/T04:30:00\.000Z$/);
		expect(changed.createdAt).toBe(first.createdAt);
		await scheduler.repeat({ key: 'another', every: 60_000, item: 'c' });
		expect((await scheduler.repeats()).map((r) => [r.key, r.item])).toEqual([
			['another', 'c'],
			['nightly', 'b'],
		]);
	});

	it('never adds a tick twice when two schedulers declare a new repeat at the same moment', async () => {
		// Both schedulers find no repeat stored; B's write is held in flight until A has stored the repeat and its
		// ticks have run. B's write must not set the next tick back over them (it did: each re-added tick ran again).
		const container = new QueueContainer();
		let releaseB!: () => void;
		let bWrites = false;
		const held = new Promise<void>((resolve) => (releaseB = resolve));
		const slowWrites = new Proxy(container, {
			get(target, name) {
				if (name === 'putRepeat') {
					return async (...args: Parameters<QueueContainer['putRepeat']>) => {
						bWrites = true;
						await held;
						return target.putRepeat(...args);
					};
				}
				const value: unknown = Reflect.get(target, name, target);
				return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
			},
		});
		const ran: string[] = [];
		const actuator = new FunctionActuator((item: string, { task }) => {
			ran.push(task.id);
			return item;
		});
		const a = new Scheduler<string, string>({ container, concurrency: 4, actuator });
		const b = new Scheduler<string, string>({ container: slowWrites, concurrency: 4, actuator });
		opened.push(a, b);
		// Both ask for the same first tick (as two processes declaring at one moment do).
		const beat = { key: 'beat', every: 40, startAt: Math.ceil((Date.now() + 100) / 40) * 40, item: 'tick' };
		const declaredByB = b.repeat(beat);
		await vi.waitFor(() => expect(bWrites).toBe(true));
		await a.repeat(beat);
		await vi.waitFor(() => expect(ran.length).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 5 });
		const lastTick = Math.max(...ran.map((id) => Number(id.split(':')[2])));
		releaseB();
		expect((await declaredByB).nextRunAt).toBeGreaterThan(lastTick);
		const seen = ran.length;
		await vi.waitFor(() => expect(ran.length).toBeGreaterThanOrEqual(seen + 3), { timeout: 5_000, interval: 5 });
		await Promise.all([a.removeRepeat('beat'), a.onIdle(), b.onIdle()]);
		expect(
			ran.filter((id, i) => ran.indexOf(id) !== i),
			'ticks that ran twice',
		).toEqual([]);
	});

	it('a changed repeat declared by a process whose clock is behind never adds again a tick that ran', async () => {
		// A's clock is 1 s ahead: its ticks, up to 1 s past B's now, have run. B then changes the definition.
		const container = new QueueContainer();
		const ran: string[] = [];
		const actuator = new FunctionActuator((item: string, { task }) => {
			ran.push(task.id);
			return item;
		});
		const realNow = Date.now.bind(Date);
		const ahead = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 1_000);
		const a = new Scheduler<string, string>({ container, concurrency: 4, actuator });
		opened.push(a);
		try {
			await a.repeat({ key: 'beat', every: 40, item: 'old' });
			await vi.waitFor(() => expect(ran.length).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 5 });
			await a.onIdle();
		} finally {
			ahead.mockRestore();
		}
		const lastTick = Math.max(...ran.map((id) => Number(id.split(':')[2])));
		expect(lastTick).toBeGreaterThan(Date.now() + 500);
		const b = new Scheduler<string, string>({ container, concurrency: 4, actuator });
		opened.push(b);
		const changed = await b.repeat({ key: 'beat', every: 40, item: 'new' });
		expect(changed.nextRunAt).toBeGreaterThan(lastTick);
		// Changed again at once by the same process: still after the ticks that ran.
		const again = await b.repeat({ key: 'beat', every: 40, item: 'newer' });
		expect(again.nextRunAt).toBeGreaterThan(lastTick);
		await vi.waitFor(
			() => expect(ran.filter((id) => Number(id.split(':')[2]) > lastTick).length).toBeGreaterThan(1),
			{
				timeout: 5_000,
				interval: 5,
			},
		);
		await b.removeRepeat('beat');
		await b.onIdle();
		expect(
			ran.filter((id, i) => ran.indexOf(id) !== i),
			'ticks that ran twice',
		).toEqual([]);
	});

	it('rejects bad options, naming the field', async () => {
		const { scheduler } = make();
		const bad: [unknown, RegExp][] = [
			[{ key: 'k', item: 1 }, /exactly one of `every`.*and `cron`/],
			[{ key: 'k', every: 1000, cron: '* * * * *', item: 1 }, /exactly one of/],
			[{ key: '', every: 1000, item: 1 }, /`key` to be a non-empty string/],
			[{ key: 'k', every: 5, item: 1 }, /`every` to be an integer >= 10/],
			[{ key: 'k', cron: 'every day', item: 1 }, /`cron` \(every day\) to be valid/],
			[{ key: 'k', cron: '* * * * *', tz: 'Mars/Base', item: 1 }, /`tz` \(Mars\/Base\) to be valid/],
			[{ key: 'k', every: 1000, tz: 'UTC', item: 1 }, /`tz` applies to `cron` only/],
			[{ key: 'k', every: 1000, item: 1, maxAttempts: 0 }, /maxAttempts/],
			[{ key: 'k', every: 1000, item: () => 1 }, /item/],
			[{ key: 'k', every: 1000, item: 1, missed: 'all' }, /`missed` to be 'once' or 'skip'/],
			[{ key: 'k', evry: 1000, item: 1 }, /evry.*every/],
		];
		for (const [options, message] of bad) await expect(scheduler.repeat(options as never)).rejects.toThrow(message);
		expect(await scheduler.repeats()).toEqual([]);
	});

	it('stops at endAt: the repeat stays listed with no next run', async () => {
		const { scheduler, ran } = make();
		const start = Math.ceil((Date.now() + 50) / 20) * 20;
		await scheduler.repeat({ key: 'short', every: 20, startAt: start, endAt: start + 60, item: 'x' });
		await vi.waitFor(async () => expect((await scheduler.repeats())[0]?.nextRunAt).toBeNull(), {
			timeout: 5_000,
			interval: 10,
		});
		await scheduler.onIdle();
		expect(ran.map((id) => Number(id.split(':')[2]))).toEqual([start, start + 20, start + 40, start + 60]);
	});
});

describe('tick times', () => {
	const H = 3_600_000;
	it('follows a time zone across daylight saving time changes (Europe/Berlin, America/New_York)', () => {
		const berlin = { key: 'k', cron: '30 2 * * *', tz: 'Europe/Berlin', item: 0 };
		// Spring forward, 2026-03-29: 02:30 does not exist that night; one tick that day, then 02:30 CEST again.
		let at = Date.parse('2026-03-28T12:00:00Z');
		const ticks: string[] = [];
		for (let i = 0; i < 3; i++) {
			at = tickAfter(berlin, at) as number;
			ticks.push(new Date(at).toISOString());
		}
		// Moved to 03:00 CEST, the first minute after the gap (croner's rule), and only once.
		expect(ticks[0]).toBe('2026-03-29T01:00:00.000Z');
		expect(ticks.filter((t) => t.startsWith('2026-03-29'))).toHaveLength(1);
		expect(ticks[1]).toBe('2026-03-30T00:30:00.000Z');
		// Fall back, 2026-10-25: 02:30 happens twice locally; one tick that day.
		at = Date.parse('2026-10-24T12:00:00Z');
		const autumn = [0, 1, 2].map(() => (at = tickAfter(berlin, at) as number));
		expect(autumn.map((t) => new Date(t).toISOString().slice(0, 10))).toEqual([
			'2026-10-25',
			'2026-10-26',
			'2026-10-27',
		]);
		expect(new Date(autumn[1] as number).toISOString()).toBe('2026-10-26T01:30:00.000Z');
		const ny = { key: 'k', cron: '0 9 * * *', tz: 'America/New_York', item: 0 };
		expect(new Date(tickAfter(ny, Date.parse('2026-07-01T00:00:00Z')) as number).toISOString()).toBe(
			'2026-07-01T13:00:00.000Z',
		);
		expect(new Date(tickAfter(ny, Date.parse('2026-12-01T00:00:00Z')) as number).toISOString()).toBe(
			'2026-12-01T14:00:00.000Z',
		);
		expect(tickAfter({ key: 'k', every: H, item: 0 }, 5 * H + 1)).toBe(6 * H);
		expect(tickAfter({ key: 'k', every: H, item: 0, endAt: 6 * H - 1 }, 5 * H + 1)).toBeNull();
	});

	it('runs ticks missed while no scheduler ran once, or skips them, then goes on from now', () => {
		const spec = { key: 'k', every: 1_000, item: 0 };
		// On time (the next tick is still ahead): that tick.
		expect(planTick(spec, 5_000, 5_400)).toEqual({ fire: 5_000, next: 6_000 });
		// Down from 5,000 to 9,500: one task for ticks 5,000..9,000, next at 10,000.
		expect(planTick(spec, 5_000, 9_500)).toEqual({ fire: 5_000, next: 10_000 });
		expect(planTick({ ...spec, missed: 'skip' as const }, 5_000, 9_500)).toEqual({ fire: null, next: 10_000 });
	});
});
