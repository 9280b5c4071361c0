/**
 * The container contract's leases: `renew` extends the leases of an owner's running tasks and reports the lost and
 * stop-requested ones; `reclaimExpired` moves tasks whose lease expired before now (running or exporting) to
 * stopped when asked to stop, back to waiting while attempts remain, else to failed, keeping what the attempt
 * stored, and the dead owner's late reports are refused. Declared by `describeContainerContract`.
 */
import { describe, expect, it } from 'vitest';
import type { TaskContainer, TaskRecord } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/** Declare the lease cases (renewal, expiry and the reclaim rule) for the containers `make` makes. */
export function describeLeases(make: () => Promise<TaskContainer>): void {
	it('renews leases of owned running tasks and reports lost and stop-requested ones', async () => {
		const c = await make();
		await c.add(
			taskRecords([
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
			...taskRecords(
				[
					{ id: 'retry', item: 1 },
					{ id: 'stop', item: 3 },
				],
				now,
				3,
			),
			...taskRecords([{ id: 'spent', item: 2 }], now, 1),
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
				...taskRecords(
					[
						{ id: 'retry', item: 1 },
						{ id: 'stop', item: 2 },
						{ id: 'x-retry', item: 3 },
						{ id: 'x-stop', item: 4 },
					],
					now,
					3,
				),
				...taskRecords(
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
			await c.add(taskRecords([{ id: 'alive', item: 8 }], now, 3));
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
}
