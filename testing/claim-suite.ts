/**
 * The container contract's storage and claim order: added tasks are stored as waiting with their arrival order and
 * handed out as copies; a claim takes at most `max` due tasks, by priority (when the container orders by it) and
 * first in, first out within one, each task to exactly one of many concurrent claimers; a task is not claimed before
 * its `runAt`, and `nextDueAt` says when the next is due. Declared by `describeContainerContract`.
 */
import { expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/**
 * Declare the storage and claim cases for the containers `make` makes.
 * @param priority the container orders by priority (its own case runs only then)
 */
export function describeClaims(make: () => Promise<TaskContainer>, priority: boolean): void {
	it('stores added tasks as waiting, with arrival order', async () => {
		const c = await make();
		await c.add(
			taskRecords([
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
		await c.add(taskRecords([{ id: 'a', item: { n: 1 } }]));
		const got = await c.get('a');
		if (got === null) throw new Error('missing');
		got.status = 'failed';
		got.attempts = 42;
		expect(await c.get('a')).toMatchObject({ status: 'waiting', attempts: 0 });
	});

	it('claims first in, first out within a priority, at most `max`', async () => {
		const c = await make();
		await c.add(taskRecords(Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, item: i }))));
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

	if (priority) {
		it('claims the highest priority first, FIFO within a priority', async () => {
			const c = await make();
			await c.add(
				taskRecords([
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
		await c.add(taskRecords(Array.from({ length: total }, (_, i) => ({ id: `t${i}`, item: i }))));
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
			taskRecords(
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
}
