/**
 * The container contract's deduplication keys (`NewTask.key`): while a task with a key waits or runs, an add of
 * another task with that key is refused with `DuplicateKeyError`, all or nothing, atomically across callers; the key
 * is free again once its task finishes. Declared by `describeContainerContract` for every container.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateKeyError, type TaskContainer } from 'lightsched';
import { taskRecords } from './task-records.js';

export function describeKeys(make: () => Promise<TaskContainer>): void {
	describe('deduplication keys', () => {
		it('refuses a second task with the key of a waiting or running one, naming both, storing nothing', async () => {
			const c = await make();
			await c.add(taskRecords([{ id: 'a', item: 1, key: 'customer-9' }]));
			expect(await c.get('a')).toMatchObject({ key: 'customer-9' });
			const refused = await c
				.add(
					taskRecords([
						{ id: 'fresh', item: 2 },
						{ id: 'b', item: 3, key: 'customer-9' },
					]),
				)
				.then(
					() => null,
					(error: unknown) => error,
				);
			expect(refused).toBeInstanceOf(DuplicateKeyError);
			expect(refused).toMatchObject({ code: 'ERR_DUPLICATE_KEY', key: 'customer-9', existingId: 'a' });
			expect(await c.get('fresh')).toBeNull();
			expect(await c.get('b')).toBeNull();
			// Running still holds it.
			await c.claim(1, 'o', 10_000, Date.now());
			await expect(c.add(taskRecords([{ id: 'b', item: 3, key: 'customer-9' }]))).rejects.toBeInstanceOf(
				DuplicateKeyError,
			);
			// Finished: free again; other keys and key-less tasks were never held back.
			await c.add(
				taskRecords([
					{ id: 'x', item: 4, key: 'other' },
					{ id: 'y', item: 5 },
				]),
			);
			await c.transition('a', 'running', 'succeeded', { finishedAt: Date.now(), owner: null }, 'o');
			await c.add(taskRecords([{ id: 'b', item: 3, key: 'customer-9' }]));
			expect(await c.get('b')).toMatchObject({ status: 'waiting', key: 'customer-9' });
			expect(await c.get('a')).toMatchObject({ status: 'succeeded', key: 'customer-9' });
		});

		it('refuses one key twice in one add, and frees a key whose task was re-added without it', async () => {
			const c = await make();
			await expect(
				c.add(
					taskRecords([
						{ id: 'a', item: 1, key: 'k' },
						{ id: 'b', item: 2, key: 'k' },
					]),
				),
			).rejects.toMatchObject({ code: 'ERR_DUPLICATE_KEY', key: 'k', existingId: 'a' });
			expect(await c.counts()).toMatchObject({ waiting: 0 });
			await c.add(taskRecords([{ id: 'a', item: 1, key: 'k' }]));
			await c.claim(1, 'o', 10_000, Date.now());
			await c.transition('a', 'running', 'failed', { finishedAt: Date.now(), owner: null }, 'o');
			// A re-run of `a` without the key: `k` is not held by it.
			await c.add(taskRecords([{ id: 'a', item: 'again' }]));
			await c.add(taskRecords([{ id: 'c', item: 3, key: 'k' }]));
			expect(await c.get('c')).toMatchObject({ key: 'k' });
			expect(await c.get('a')).toMatchObject({ key: null, status: 'waiting' });
		});

		it('lets exactly one of many concurrent adds take a key', async () => {
			const c = await make();
			const results = await Promise.allSettled(
				Array.from({ length: 8 }, (_, i) => c.add(taskRecords([{ id: `t${i}`, item: i, key: 'once' }]))),
			);
			expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
			for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateKeyError);
			expect(await c.counts()).toMatchObject({ waiting: 1 });
		});
	});
}
