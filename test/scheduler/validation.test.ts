import { describe, expect, it } from 'vitest';
import { DuplicateTaskError, InvalidTaskError, Scheduler, type SchedulerOptions } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

const base = (): SchedulerOptions => ({ container: new QueueContainer(), actuator: new FunctionActuator(() => 1) });

describe('option validation', () => {
	it.each([
		[{ concurrency: 0 }, 'Expected `concurrency` to be an integer >= 1, got 0 (number)'],
		[{ concurrency: -3 }, '`concurrency`'],
		[{ concurrency: 1.5 }, '`concurrency`'],
		[{ concurrency: Number.NaN }, 'Expected `concurrency` to be an integer >= 1, got NaN (number)'],
		[{ concurrency: '2' }, 'got "2" (string)'],
		[{ timeoutMs: -1 }, 'Expected `timeoutMs` to be an integer from 0 to 2147483647, got -1 (number)'],
		[{ timeoutMs: Number.NaN }, '`timeoutMs`'],
		[{ timeoutMs: Number.POSITIVE_INFINITY }, '`timeoutMs`'],
		[{ maxAttempts: 0 }, '`maxAttempts`'],
		[{ pollIntervalMs: 0 }, 'Expected `pollIntervalMs` to be an integer from 1'],
		[{ leaseMs: 10 }, '`leaseMs`'],
		[{ backoff: { type: 'linear', delayMs: 1 } }, "Expected `backoff.type` to be 'fixed' or 'exponential'"],
		[{ backoff: { type: 'fixed', delayMs: -1 } }, '`backoff.delayMs`'],
		[{ backoff: { type: 'exponential', delayMs: 1, jitter: 2 } }, '`backoff.jitter`'],
		[{ callback: 'yes' }, '`callback`'],
		[{ container: undefined }, 'Expected `container` to be an object, got undefined'],
		[{ container: {} }, 'Expected `container.add` to be a function'],
		[{ actuator: { start() {} } }, 'Expected `actuator.stop` to be a function'],
		[{ persistencer: {} }, '`persistencer.persist`'],
		[{ id: '' }, '`id`'],
		[{ concurency: 2 }, 'Unknown option `concurency` of Scheduler: did you mean `concurrency`?'],
		[{ maxAttemps: 2 }, 'did you mean `maxAttempts`?'],
		[{ timeoutMS: 10 }, 'did you mean `timeoutMs`?'],
		[{ leaseMS: undefined }, 'did you mean `leaseMs`?'],
	])('rejects %o with a TypeError naming the field', (bad, message) => {
		expect(() => new Scheduler({ ...base(), ...(bad as object) } as SchedulerOptions)).toThrow(TypeError);
		expect(() => new Scheduler({ ...base(), ...(bad as object) } as SchedulerOptions)).toThrow(message);
	});
});

describe('task validation', () => {
	it.each([
		[{}, InvalidTaskError, 'Expected `task.item` to be a value'],
		[{ item: undefined }, InvalidTaskError, '`task.item`'],
		[{ id: '', item: 1 }, InvalidTaskError, 'Expected `task.id` to be a non-empty string'],
		[{ id: 7, item: 1 }, InvalidTaskError, '`task.id`'],
		[
			{ item: 1, priority: Number.NaN },
			InvalidTaskError,
			'Expected `task.priority` to be a safe integer, got NaN (number)',
		],
		[{ item: 1, maxAttempts: 0 }, InvalidTaskError, '`task.maxAttempts`'],
		[{ item: 1, timeoutMs: -5 }, InvalidTaskError, 'Expected `task.timeoutMs` to be an integer from 0'],
		[{ item: 1, timeoutMs: Number.NaN }, InvalidTaskError, '`task.timeoutMs`'],
		[{ item: 1, runAt: 'soon' }, InvalidTaskError, '`task.runAt`'],
		[{ item: 1, itme: 2 }, InvalidTaskError, 'Expected `task.itme` to be absent'],
		[null, InvalidTaskError, 'Expected `task` to be an object'],
	])('rejects %o naming the field, and changes nothing', async (bad, kind, message) => {
		const scheduler = new Scheduler(base());
		await scheduler.add({ id: 'kept', item: 'kept' });
		await scheduler.onIdle();
		const before = await scheduler.counts();
		const attempt = scheduler.add(bad as never);
		await expect(attempt).rejects.toBeInstanceOf(kind);
		await expect(scheduler.add(bad as never)).rejects.toThrow(message);
		expect(await scheduler.counts()).toEqual(before);
		await scheduler.close();
	});

	it('rejects a whole batch when one task is bad, naming its index', async () => {
		const scheduler = new Scheduler({ ...base(), autoStart: false });
		await expect(
			scheduler.add([
				{ id: 'ok', item: 1 },
				{ id: 'bad', item: 1, timeoutMs: -1 },
			]),
		).rejects.toThrow('`tasks[1].timeoutMs`');
		expect(await scheduler.get('ok')).toBeNull();
		await scheduler.close();
	});

	it('rejects duplicate ids, in one batch or against a waiting task, and keeps what was stored', async () => {
		const scheduler = new Scheduler({ ...base(), autoStart: false });
		await scheduler.add({ id: 'a', item: 'first' });
		await expect(scheduler.add({ id: 'a', item: 'second' })).rejects.toBeInstanceOf(DuplicateTaskError);
		await expect(scheduler.add({ id: 'a', item: 'second' })).rejects.toThrow(
			'A task with id `a` is already waiting or running',
		);
		await expect(
			scheduler.add([
				{ id: 'b', item: 1 },
				{ id: 'b', item: 2 },
			]),
		).rejects.toThrow('appears twice');
		expect((await scheduler.get('a'))?.item).toBe('first');
		expect(await scheduler.get('b')).toBeNull();
		expect((await scheduler.counts()).waiting).toBe(1);
		await scheduler.close();
	});

	it('rejects the add when the actuator init throws, storing nothing', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: {
				init(task) {
					if (typeof task.item !== 'number') throw new InvalidTaskError('task.item', 'a number', task.item);
				},
				start(_task, ctx) {
					ctx.done({ ok: true });
				},
				stop() {},
			},
		});
		await expect(
			scheduler.add([
				{ id: 'n', item: 1 },
				{ id: 's', item: 'x' },
			]),
		).rejects.toThrow('Expected `task.item` to be a number');
		expect(await scheduler.get('n')).toBeNull();
		await scheduler.close();
	});

	it('lists with bad paging gets a clear error', async () => {
		const scheduler = new Scheduler(base());
		await expect(scheduler.list({ limit: -1 })).rejects.toThrow('`limit`');
		await expect(scheduler.list({ exactTotal: 'no' as unknown as boolean })).rejects.toThrow(
			new TypeError('Expected `exactTotal` to be a boolean, got "no" (string)'),
		);
		await scheduler.close();
	});
});

describe('generated ids', () => {
	it('are distinct UUID v7 strings', async () => {
		const scheduler = new Scheduler({ ...base(), autoStart: false });
		const tasks = await scheduler.add(Array.from({ length: 2_000 }, (_, i) => ({ item: i })));
		const ids = new Set(tasks.map((t) => t.id));
		expect(ids.size).toBe(2_000);
		for (const id of ids)
			expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		await scheduler.close();
	});
});
