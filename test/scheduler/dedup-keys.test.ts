/**
 * Deduplication keys through the scheduler (issue 14 item 6): `add` refuses a task whose key a waiting or running
 * task holds, or returns that task with `onDuplicateKey: 'existing'`; the key is free once its task finishes. The
 * container clause (atomic across callers) is in the contract suite (testing/key-suite.ts) on every container.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateKeyError, Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
	for (const s of opened.splice(0)) await s.close();
});

function make(): { scheduler: Scheduler<string, string>; release: () => void; ran: string[] } {
	let release = (): void => {};
	const gate = new Promise<void>((resolve) => (release = resolve));
	const ran: string[] = [];
	const scheduler = new Scheduler<string, string>({
		container: new OrderedMapContainer(),
		concurrency: 1,
		actuator: new FunctionActuator(async (item: string, { task }) => {
			ran.push(task.id);
			await gate;
			return item;
		}),
	});
	opened.push(scheduler);
	return { scheduler, release: () => release(), ran };
}

describe('deduplication keys', () => {
	it('refuses a held key by default, naming the key and the holder; frees it once the holder finishes', async () => {
		const { scheduler, release } = make();
		const first = await scheduler.add({ id: 'sync-42', item: 'a', key: 'customer-42' });
		expect(first.key).toBe('customer-42');
		const error = await scheduler.add({ id: 'sync-43', item: 'b', key: 'customer-42' }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(DuplicateKeyError);
		expect(error).toMatchObject({ key: 'customer-42', existingId: 'sync-42', code: 'ERR_DUPLICATE_KEY' });
		expect(String((error as Error).message)).toContain('customer-42');
		expect(await scheduler.get('sync-43')).toBeNull();
		release();
		await scheduler.onIdle();
		const again = await scheduler.add({ id: 'sync-43', item: 'b', key: 'customer-42' });
		expect(again).toMatchObject({ id: 'sync-43', status: 'waiting' });
	});

	it("returns the holder with onDuplicateKey: 'existing', adding the rest of a batch", async () => {
		const { scheduler, release } = make();
		await scheduler.add({ id: 'held', item: 'a', key: 'k1' });
		const added: string[] = [];
		scheduler.on('task:added', ({ task }) => added.push(task.id));
		const result: TaskRecord[] = await scheduler.add(
			[
				{ id: 'x', item: 'x', key: 'k1' },
				{ id: 'y', item: 'y', key: 'k2' },
				{ id: 'z', item: 'z', key: 'k2' },
				{ id: 'plain', item: 'p' },
			],
			{ onDuplicateKey: 'existing' },
		);
		expect(result.map((t) => t.id)).toEqual(['held', 'y', 'y', 'plain']);
		expect(added).toEqual(['y', 'plain']);
		expect(await scheduler.get('x')).toBeNull();
		expect(await scheduler.get('z')).toBeNull();
		const single = await scheduler.add({ id: 'x2', item: 'x', key: 'k1' }, { onDuplicateKey: 'existing' });
		expect(single.id).toBe('held');
		release();
		await scheduler.onIdle();
		expect((await scheduler.add({ id: 'x3', item: 'x', key: 'k1' }, { onDuplicateKey: 'existing' })).id).toBe('x3');
	});

	it('rejects a bad key or option naming the field', async () => {
		const { scheduler } = make();
		await expect(scheduler.add({ item: 'a', key: '' })).rejects.toThrow(/`task.key`/);
		await expect(scheduler.add([{ item: 'a', key: 5 as never }])).rejects.toThrow(/`tasks\[0\].key`/);
		await expect(scheduler.add({ item: 'a' }, { onDuplicateKey: 'merge' as never })).rejects.toThrow(
			/`onDuplicateKey` to be 'reject' or 'existing'/,
		);
		await expect(scheduler.add({ item: 'a' }, { onDuplicate: 'existing' } as never)).rejects.toThrow(
			/onDuplicate.*onDuplicateKey/,
		);
		expect(await scheduler.counts()).toMatchObject({ waiting: 0 });
	});
});
