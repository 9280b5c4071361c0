/**
 * The scheduler's queue-wide operations on the in-process containers: pauseQueue/resumeQueue, clean() and the
 * `retention` option (the shared containers are tested across processes in test/operations/).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scheduler, type Persistencer, type TaskContainer, type TasksCleanedEvent } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
	for (const scheduler of opened.splice(0)) await scheduler.close();
});

function make(
	container: TaskContainer = new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY }),
	extra: Partial<ConstructorParameters<typeof Scheduler<string, string>>[0]> = {},
): { scheduler: Scheduler<string, string>; ran: string[] } {
	const ran: string[] = [];
	const scheduler = new Scheduler<string, string>({
		container,
		concurrency: 4,
		actuator: new FunctionActuator((item: string) => {
			ran.push(item);
			if (item.startsWith('fail')) throw new Error(`asked: ${item}`);
			return item.toUpperCase();
		}),
		...extra,
	});
	opened.push(scheduler);
	return { scheduler, ran };
}

describe('pauseQueue / resumeQueue', () => {
	it.each([
		['QueueContainer', () => new QueueContainer()],
		['OrderedMapContainer', () => new OrderedMapContainer()],
	])('on %s: nothing starts while paused, all of it runs once resumed', async (_name, container) => {
		const { scheduler, ran } = make(container());
		expect(await scheduler.isQueuePaused()).toBe(false);
		await scheduler.pauseQueue();
		expect(await scheduler.isQueuePaused()).toBe(true);
		await scheduler.add([
			{ id: 'a', item: 'a' },
			{ id: 'b', item: 'b' },
		]);
		// Timers and wake-ups go by: still nothing runs.
		await new Promise((resolve) => setTimeout(resolve, 50));
		expect(ran).toEqual([]);
		expect(await scheduler.counts()).toMatchObject({ waiting: 2, running: 0 });
		await scheduler.resumeQueue();
		await scheduler.onIdle();
		expect(ran.sort()).toEqual(['a', 'b']);
		expect(await scheduler.isQueuePaused()).toBe(false);
	});

	it('refuses with a clear error on a container that has no queue-wide pause', async () => {
		const plain = new QueueContainer() as TaskContainer;
		const bare: TaskContainer = {
			shared: false,
			add: (t) => plain.add(t),
			claim: (...a) => plain.claim(...a),
			transition: (...a) => plain.transition(...a),
			renew: (...a) => plain.renew(...a),
			reclaimExpired: (n) => plain.reclaimExpired(n),
			requestStop: (id) => plain.requestStop(id),
			nextDueAt: (n) => plain.nextDueAt(n),
			get: (id) => plain.get(id),
			list: (q) => plain.list(q),
			counts: () => plain.counts(),
			remove: (id) => plain.remove(id),
			close: () => plain.close(),
		};
		const { scheduler } = make(bare);
		await expect(scheduler.pauseQueue()).rejects.toMatchObject({
			code: 'ERR_CONTAINER',
			message: /has no `setPaused\(\)`.*use pause\(\) for this one/,
		});
		await expect(scheduler.clean({ status: 'succeeded' })).rejects.toMatchObject({
			code: 'ERR_CONTAINER',
			message: /has no `clean\(\)`/,
		});
	});
});

describe('clean()', () => {
	it('deletes finished tasks by status, age and count, with their persisted outputs, and reports each batch', async () => {
		const outputs = new Map<string, unknown>();
		const persistencer: Persistencer<string> = {
			persist: (task, output) => void outputs.set(task.id, output),
			delete: async (id) => void outputs.delete(id),
		};
		const { scheduler } = make(undefined, { persistencer });
		const batches: TasksCleanedEvent[] = [];
		scheduler.on('tasks:cleaned', (event) => batches.push(event));
		await scheduler.add(Array.from({ length: 25 }, (_, i) => ({ id: `s${i}`, item: `ok${i}` })));
		await scheduler.add(Array.from({ length: 5 }, (_, i) => ({ id: `f${i}`, item: `fail${i}` })));
		await scheduler.onIdle();
		expect(outputs.size).toBe(25);
		// Nothing finished longer ago than a minute.
		expect(await scheduler.clean({ status: 'succeeded', olderThanMs: 60_000 })).toBe(0);
		// Keep the newest 5 succeeded, in batches of 7.
		expect(await scheduler.clean({ status: 'succeeded', keep: 5, batchSize: 7 })).toBe(20);
		expect(batches.map((b) => b.ids.length)).toEqual([7, 7, 6]);
		expect(batches.every((b) => b.status === 'succeeded' && !b.background)).toBe(true);
		expect((await scheduler.list({ status: 'succeeded' })).tasks.map((t) => t.id)).toEqual([
			's20',
			's21',
			's22',
			's23',
			's24',
		]);
		expect([...outputs.keys()].sort()).toEqual(['s20', 's21', 's22', 's23', 's24']);
		// Several statuses, a total limit.
		expect(await scheduler.clean({ status: ['failed', 'succeeded'], olderThanMs: 0, limit: 7 })).toBe(7);
		expect(await scheduler.counts()).toMatchObject({ failed: 0, succeeded: 3 });
	});

	it('rejects bad options naming the field, deleting nothing', async () => {
		const { scheduler } = make();
		await scheduler.add({ id: 'a', item: 'a' });
		await scheduler.onIdle();
		const bad: [unknown, RegExp][] = [
			[{ status: 'waiting' }, /`status` to be one of succeeded, failed, stopped/],
			[{ status: [] }, /`status` to be a final status or a list/],
			[{ status: 'succeeded', olderThanMs: -1 }, /`olderThanMs`/],
			[{ status: 'succeeded', keep: 1.5 }, /`keep`/],
			[{ status: 'succeeded', batchSize: 0 }, /`batchSize`/],
			[{ status: 'succeeded', olderThan: 5 }, /olderThan.*olderThanMs/],
		];
		for (const [options, message] of bad) {
			await expect(scheduler.clean(options as never)).rejects.toThrow(message);
		}
		expect(await scheduler.get('a')).toMatchObject({ status: 'succeeded' });
	});
});

describe('the retention option', () => {
	it('keeps each status within its rule in the background, batch by batch', async () => {
		const { scheduler } = make(undefined, {
			retention: { succeeded: { maxCount: 10 }, failed: { maxAgeMs: 0 }, intervalMs: 20, batchSize: 4 },
		});
		const background: TasksCleanedEvent[] = [];
		scheduler.on('tasks:cleaned', (event) => background.push(event));
		await scheduler.add(Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, item: `ok${i}` })));
		await scheduler.add(Array.from({ length: 3 }, (_, i) => ({ id: `f${i}`, item: `fail${i}` })));
		await scheduler.onIdle();
		await vi.waitFor(async () => expect(await scheduler.counts()).toMatchObject({ succeeded: 10, failed: 0 }), {
			timeout: 5_000,
			interval: 20,
		});
		expect(background.every((b) => b.background)).toBe(true);
		expect(background.reduce((n, b) => n + b.ids.length, 0)).toBe(23);
		// The newest ten stay.
		expect((await scheduler.list({ status: 'succeeded' })).tasks.map((t) => t.id)[0]).toBe('s20');
	});

	it('rejects a bad rule naming the field', () => {
		const container = new QueueContainer();
		const actuator = new FunctionActuator(() => 1);
		const bad: [unknown, RegExp][] = [
			[{ succeeded: {} }, /`retention.succeeded` to give `maxAgeMs`, `maxCount` or both/],
			[{ failed: { maxAgeMs: -5 } }, /`retention.failed.maxAgeMs` to be an integer >= 0/],
			[{ succeded: { maxCount: 1 } }, /succeded.*succeeded/],
			[
				{ succeeded: { maxCount: 1 }, intervalMs: 1 },
				/`retention.intervalMs` to be an integer from 10 to 2147483647/,
			],
			// A month: beyond what a timer holds (it fired at once, and the passes ran back to back).
			[
				{ succeeded: { maxCount: 1 }, intervalMs: 30 * 24 * 3_600_000 },
				/`retention.intervalMs` to be an integer from 10 to 2147483647, got 2592000000/,
			],
			['1h', /`retention` to be an object/],
		];
		for (const [retention, message] of bad) {
			expect(() => new Scheduler({ container, actuator, retention: retention as never })).toThrow(message);
		}
	});
});
