/**
 * `add` on an in-process container (its synchronous face) stores the task within the call; what users rely on stays
 * as on every container: `add()` settles with the stored record after `task:added` told of it, nothing starts
 * within the `add()` call, no task starts before `task:added` told of it (even when claimed by a finish that comes
 * before the announcement, or added by a listener), and a bad task or a duplicate id rejects the promise rather
 * than throwing.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateTaskError, InvalidTaskError, Scheduler, SchedulerClosedError } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';

const containers = [
	['QueueContainer', () => new QueueContainer()],
	['OrderedMapContainer', () => new OrderedMapContainer()],
] as const;

describe.each(containers)('%s', (_, make) => {
	it('starts nothing within the add() call, and announces each task before it starts', async () => {
		const events: string[] = [];
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator((n: number) => n * 2),
			concurrency: 3,
		});
		scheduler.on('task:added', ({ task }) => events.push(`added ${task.id}`));
		scheduler.on('task:started', ({ task }) => {
			events.push(`started ${task.id}`);
			// A task added by a listener while the claim loop runs is announced before it starts too.
			if (task.id === 'a1') void scheduler.add({ id: 'from-listener', item: 0 });
		});
		const pending = [];
		for (let i = 0; i < 20; i++) {
			pending.push(scheduler.add({ id: `a${i}`, item: i }));
			// Nothing is announced nor started while the caller's code runs.
			expect(events).toEqual([]);
		}
		const records = await Promise.all(pending);
		expect(records.map((task) => [task.status, task.seq > 0])).toEqual(records.map(() => ['waiting', true]));
		await scheduler.onIdle();
		const ids = [...records.map((task) => task.id), 'from-listener'];
		for (const id of ids) {
			const added = events.indexOf(`added ${id}`);
			expect(added, id).toBeGreaterThanOrEqual(0);
			expect(events.indexOf(`started ${id}`), id).toBeGreaterThan(added);
		}
		expect((await scheduler.counts()).succeeded).toBe(21);
		await scheduler.close();
	});

	it('announces a task added after the earlier ones finished before a finish claims it', async () => {
		// Work that finishes at once frees its slot in a microtask that may run before the announcement of a task
		// added meanwhile: the claim it makes must not start that task unannounced.
		const events: string[] = [];
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator(async () => undefined),
			concurrency: 1,
		});
		scheduler.on('task:added', ({ task }) => events.push(`added ${task.id}`));
		scheduler.on('task:started', ({ task }) => events.push(`started ${task.id}`));
		await scheduler.add({ id: 'first', item: 1 });
		// `first` runs; its end is a microtask or two away. Add the next one in the same tick, several times over.
		for (let i = 0; i < 5; i++) {
			await Promise.resolve();
			void scheduler.add({ id: `next${i}`, item: i });
		}
		await scheduler.onIdle();
		for (const id of ['first', 'next0', 'next1', 'next2', 'next3', 'next4']) {
			expect(events.indexOf(`started ${id}`), id).toBeGreaterThan(events.indexOf(`added ${id}`));
			expect(events.indexOf(`added ${id}`), id).toBeGreaterThanOrEqual(0);
		}
		await scheduler.close();
	});

	it('settles add() after task:added, with the record the event carries', async () => {
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator(() => 1),
			autoStart: false,
		});
		const added: unknown[] = [];
		scheduler.on('task:added', ({ task }) => added.push(task));
		const one = await scheduler.add({ id: 'one', item: 1 });
		expect(added).toEqual([one]);
		const batch = await scheduler.add([
			{ id: 'two', item: 2 },
			{ id: 'three', item: 3 },
		]);
		expect(added).toEqual([one, ...batch]);
		expect(await scheduler.get('three')).toMatchObject({ id: 'three', seq: batch[1]?.seq, status: 'waiting' });
		await scheduler.close();
	});

	it('rejects (never throws) for a bad task, a duplicate id and a closed scheduler, storing nothing', async () => {
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator(() => 1),
			autoStart: false,
		});
		await scheduler.add({ id: 'x', item: 1 });
		const bad = scheduler.add({ id: 'y', item: 1, priority: 1.5 });
		await expect(bad).rejects.toBeInstanceOf(InvalidTaskError);
		const duplicate = scheduler.add({ id: 'x', item: 2 });
		await expect(duplicate).rejects.toBeInstanceOf(DuplicateTaskError);
		const halfBad = scheduler.add([{ id: 'z', item: 1 }, { item: undefined }]);
		await expect(halfBad).rejects.toBeInstanceOf(InvalidTaskError);
		expect(await scheduler.get('z')).toBeNull();
		expect(await scheduler.get('y')).toBeNull();
		expect((await scheduler.get('x'))?.item).toBe(1);
		await scheduler.close();
		const closed = scheduler.add({ item: 3 });
		await expect(closed).rejects.toBeInstanceOf(SchedulerClosedError);
	});

	it('a task added without an id waits for its runAt; one due when added starts at once', async () => {
		// An add of generated ids reads no clock for a task due when made: one due later must still wait.
		const started: number[] = [];
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator((n: number) => {
				started.push(n);
			}),
		});
		const at = Date.now();
		const later = await scheduler.add({ item: 1, runAt: at + 300 });
		await scheduler.add([{ item: 2 }, { item: 3, runAt: at - 1000 }]);
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(started.sort()).toEqual([2, 3]);
		expect((await scheduler.get(later.id))?.status).toBe('waiting');
		await scheduler.onIdle();
		expect(started).toEqual([2, 3, 1]);
		expect((await scheduler.get(later.id))?.startedAt).toBeGreaterThanOrEqual(at + 300);
		await scheduler.close();
	});

	it('refuses an id given that a waiting task holds, however the task object answers when read again', async () => {
		// The container skips its look-up by id only for ids the scheduler generated: the task's own fields are read
		// once, so an object whose \`id\` answers differently the second time (a getter, a proxy) is still refused.
		const scheduler = new Scheduler({
			container: make(),
			actuator: new FunctionActuator(() => 1),
			autoStart: false,
		});
		await scheduler.add({ id: 'x', item: 1 });
		const reads = (ids: (string | undefined)[]) => ({
			item: 2,
			// Typed as an id, as a caller's object would be; the second read answers \`undefined\` all the same.
			get id(): string {
				return ids.shift() as string;
			},
		});
		await expect(scheduler.add(reads(['x', undefined]))).rejects.toBeInstanceOf(DuplicateTaskError);
		await expect(scheduler.add([{ item: 3 }, reads(['x', undefined])])).rejects.toBeInstanceOf(DuplicateTaskError);
		expect(await scheduler.counts()).toMatchObject({ waiting: 1 });
		expect(await scheduler.list()).toMatchObject({ total: 1, tasks: [{ id: 'x', item: 1 }] });
		// Generated ids, one add or several: stored, listed in order, found by id.
		const one = await scheduler.add({ item: 'a' });
		const many = await scheduler.add([{ item: 'b' }, { item: 'c' }]);
		const ids = ['x', one.id, ...many.map((task) => task.id)];
		expect((await scheduler.list()).tasks.map((task) => task.id)).toEqual(ids);
		for (const id of ids) expect((await scheduler.get(id))?.id).toBe(id);
		await scheduler.close();
	});
});
