/**
 * The core's rule for tasks claimed ahead (HeldTasks, used by the Redis and SQL containers): held for the owner's
 * next claim, handed back when not taken within a quarter of the lease (at most MAX_HOLD_MS), all handed back on
 * drain.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTaskRecord, HeldTasks, MAX_HOLD_MS, type TaskRecord } from 'lightsched/kit';

const task = (id: string): TaskRecord => createTaskRecord({ id, item: id }, 'task', { maxAttempts: 1 }, 0);

describe('HeldTasks', () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	it('gives an owner its held tasks oldest first, up to the number asked, and only to that owner', () => {
		const handedBack: string[] = [];
		const held = new HeldTasks(async (t) => handedBack.push(t.id));
		held.hold('a', [task('1'), task('2'), task('3')], 60_000);
		held.hold('b', [task('4')], 60_000);
		expect(held.holds('a', '2')).toBe(true);
		expect(held.holds('b', '2')).toBe(false);
		expect([...held.ids('a')]).toEqual(['1', '2', '3']);
		expect(held.take('a', 2).map((t) => t.id)).toEqual(['1', '2']);
		expect(held.take('a', 5).map((t) => t.id)).toEqual(['3']);
		expect(held.take('a', 5)).toEqual([]);
		expect(held.take('b', 5).map((t) => t.id)).toEqual(['4']);
		expect(handedBack).toEqual([]);
	});

	it('hands back a task not taken within a quarter of its lease, capped at MAX_HOLD_MS', async () => {
		vi.useFakeTimers();
		const handedBack: string[] = [];
		const held = new HeldTasks(async (t, owner) => handedBack.push(`${owner}:${t.id}`));
		held.hold('a', [task('short')], 200); // held 50 ms
		held.hold('b', [task('long')], 60_000); // held MAX_HOLD_MS
		await vi.advanceTimersByTimeAsync(51);
		expect(handedBack).toEqual(['a:short']);
		expect(held.take('a', 1)).toEqual([]);
		await vi.advanceTimersByTimeAsync(MAX_HOLD_MS - 51);
		expect(handedBack).toEqual(['a:short', 'b:long']);
		expect(held.take('b', 1)).toEqual([]);
	});

	it('hands back instead of giving out a task whose time lapsed before its timer ran', () => {
		vi.useFakeTimers();
		const handedBack: string[] = [];
		const held = new HeldTasks(async (t) => handedBack.push(t.id));
		held.hold('a', [task('1')], 400);
		vi.setSystemTime(Date.now() + 101); // the clock moved, the timer has not fired yet
		expect(held.take('a', 1)).toEqual([]);
		expect(handedBack).toEqual(['1']);
	});

	it('still holds a task whose hand-back is on its way, until it settled (applied or failed)', async () => {
		vi.useFakeTimers();
		const settle: Record<string, (ok: boolean) => void> = {};
		const held = new HeldTasks(
			(t) =>
				new Promise(
					(resolve, reject) => (settle[t.id] = (ok) => (ok ? resolve(t) : reject(new Error('down')))),
				),
		);
		held.hold('a', [task('1'), task('2')], 400);
		await vi.advanceTimersByTimeAsync(101);
		// Both handed back, neither settled: a renewal reading them as running for `a` must not call them unknown.
		expect(held.take('a', 5)).toEqual([]);
		expect(held.holds('a', '1')).toBe(true);
		expect(held.holds('b', '1')).toBe(false);
		expect([...held.ids('a')].sort()).toEqual(['1', '2']);
		settle['1']?.(true);
		settle['2']?.(false);
		await vi.advanceTimersByTimeAsync(0);
		expect(held.holds('a', '1')).toBe(false);
		expect(held.holds('a', '2')).toBe(false);
		expect([...held.ids('a')]).toEqual([]);
	});

	it('tells pushed tasks from claimed-ahead ones, and drains everything on close', async () => {
		const handedBack: string[] = [];
		const held = new HeldTasks(async (t) => handedBack.push(t.id));
		held.hold('a', [task('1')], 60_000);
		expect(held.hasPushed('a')).toBe(false);
		held.hold('a', [task('2')], 60_000, true);
		expect(held.hasPushed('a')).toBe(true);
		await held.drain();
		expect(handedBack.sort()).toEqual(['1', '2']);
		expect(held.take('a', 5)).toEqual([]);
	});
});
