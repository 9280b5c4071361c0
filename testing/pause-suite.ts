/**
 * The container contract's queue-wide pause (`setPaused`, `isPaused`), declared by `describeOperations` when the
 * container offers it, else its absence: while paused nothing is claimed and nothing is due next, adds go on, running
 * tasks finish and renew; resuming wakes the schedulers and everything is claimable again.
 */
import { describe, expect, it } from 'vitest';
import type { ContainerSignal, TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/** Wait (bounded: about 5 s) until `done()`; the caller's expectation then says whether it came. */
async function until(done: () => boolean): Promise<void> {
	for (let i = 0; i < 250 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Declare the pause cases for the containers `make` makes (`offered`: the container says it has the pause). */
export function describePause(make: () => Promise<TaskContainer>, offered: boolean): void {
	describe('queue-wide pause', () => {
		if (!offered) {
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
			await c.add(taskRecords([{ id: 'a', item: 1 }], now));
			expect(await isPaused()).toBe(false);
			await setPaused(true);
			expect(await isPaused()).toBe(true);
			// Adds and due times go on; nothing is claimable, and nothing is "due next" to wake a scheduler for.
			await c.add(
				taskRecords(
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
			await c.add(taskRecords([{ id: 'a', item: 1 }], now));
			const [task] = await c.claim(1, 'o', LEASE, now);
			expect(task?.id).toBe('a');
			await c.setPaused?.(true);
			expect((await c.renew('o', ['a'], LEASE, now + 1_000)).lost).toEqual([]);
			const done = await c.transition('a', 'running', 'succeeded', { finishedAt: now, owner: null }, 'o');
			expect(done?.status).toBe('succeeded');
			await c.setPaused?.(false);
		});
	});
}
