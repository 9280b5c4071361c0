/**
 * Input that a container would store changed is refused at `add`, identically on every container (issue 11,
 * items 7 and 10): ids that are not well-formed Unicode, items JSON would change (on the persistent containers),
 * and outputs JSON would change (the attempt fails). The memory containers keep any item as it is.
 */
import { describe, expect, it } from 'vitest';
import { InvalidTaskError, Scheduler, type NewTask, type TaskContainer, type TaskRecord } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { ALL_KINDS, MEMORY_KINDS, PERSISTENT_KINDS, everyContainer, type ContainerKind } from './every-container.js';

const containers = everyContainer();

const high = '😀'.slice(0, 1); // U+D83D, a lone high surrogate
const low = '😀'.slice(1); // U+DE00, a lone low surrogate

const paused = (container: TaskContainer): Scheduler =>
	new Scheduler({ container, actuator: new FunctionActuator((item: unknown) => item), autoStart: false });

/** The rejection of `adding`, which must be an InvalidTaskError. */
async function rejection(adding: Promise<unknown>): Promise<InvalidTaskError> {
	const error = await adding.then(
		() => null,
		(e: unknown) => e,
	);
	expect(error).toBeInstanceOf(InvalidTaskError);
	return error as InvalidTaskError;
}

describe.each(ALL_KINDS)('%s: ids must be well-formed Unicode', (kind) => {
	it('rejects a lone surrogate in an id at add, naming the field, and stores nothing (batch and single add)', async () => {
		const scheduler = paused(await containers.make(kind));
		const batch = await rejection(
			scheduler.add([
				{ id: 'ok', item: 1 },
				{ id: `a${high}`, item: 2 },
			]),
		);
		expect(batch.field).toBe('tasks[1].id');
		expect(batch.code).toBe('ERR_INVALID_TASK');
		expect(batch.message).toBe(
			'Expected `tasks[1].id` to be well-formed Unicode text (no lone UTF-16 surrogate), got "a\\ud83d" (string): a lone surrogate U+D83D at index 1, which UTF-8 storage would replace with U+FFFD (so two different strings would name one)',
		);
		const single = await rejection(scheduler.add({ id: `${low}b`, item: 1 }));
		expect(single.field).toBe('task.id');
		expect(single.message).toContain('U+DE00 at index 0');
		expect(await scheduler.get('ok')).toBeNull();
		expect((await scheduler.counts()).waiting).toBe(0);
		await scheduler.close();
	});

	it('two ids that differ only in a lone surrogate versus U+FFFD: the add is refused, not merged into one task', async () => {
		const scheduler = paused(await containers.make(kind));
		const error = await rejection(
			scheduler.add([
				{ id: `x${high}`, item: 1 },
				{ id: 'x\uFFFD', item: 2 },
			]),
		);
		expect(error.field).toBe('tasks[0].id');
		expect((await scheduler.counts()).waiting).toBe(0);
		await scheduler.close();
	});

	it('an id with a lone surrogate names no task: not the one whose id holds U+FFFD in its place', async () => {
		const scheduler = paused(await containers.make(kind));
		await scheduler.add({ id: 'x\uFFFD', item: 1 });
		expect(await scheduler.get(`x${high}`)).toBeNull();
		expect(await scheduler.remove(`x${high}`)).toBe(false);
		await expect(scheduler.stop(`x${high}`)).rejects.toMatchObject({ code: 'ERR_TASK_NOT_FOUND' });
		expect(await scheduler.get('x\uFFFD')).toMatchObject({ status: 'waiting', item: 1 });
		await scheduler.close();
	});

	it('keeps well-formed ids exactly: emoji, U+FFFD itself, escapes as text; get and list return the id given', async () => {
		const scheduler = paused(await containers.make(kind));
		const ids = ['emoji😀', 'replacement\uFFFD', 'escaped\\ud83d', `pair${high}${low}`];
		const added = await scheduler.add(ids.map((id, i) => ({ id, item: i })));
		expect(added.map((t) => t.id)).toEqual(ids);
		for (const id of ids) expect((await scheduler.get(id))?.id).toBe(id);
		expect((await scheduler.list()).tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
		await scheduler.close();
	});
});

describe.each(PERSISTENT_KINDS)('%s: the container itself refuses a bad id (all or nothing)', (kind) => {
	it('container.add names tasks[i].id and stores none of the batch', async () => {
		const container = await containers.make(kind);
		const good = createTaskRecord({ id: 'good', item: 1 }, 'tasks[0]', { maxAttempts: 1 }, Date.now());
		const bad: TaskRecord = {
			...createTaskRecord({ id: 'placeholder', item: 2 }, 'tasks[1]', { maxAttempts: 1 }, Date.now()),
			id: `c${high}`,
		};
		const error = await rejection(container.add([good, bad]));
		expect(error.field).toBe('tasks[1].id');
		expect(await container.get('good')).toBeNull();
		expect((await container.counts()).waiting).toBe(0);
	});
});

class Job {
	constructor(readonly n: number) {}
	run(): number {
		return this.n * 2;
	}
}

interface BadItem {
	readonly name: string;
	readonly item: () => unknown;
	readonly field: string;
	/** The whole message for `tasks[1]` (the bad task is the second of the batch). */
	readonly message: string;
}

const JSON_EXPECTED = 'JSON (plain objects, arrays, strings, finite numbers, booleans, null)';
const expected = (field: string, got: string): string => `Expected \`${field}\` to be ${JSON_EXPECTED}, got ${got}`;

const BAD_ITEMS: readonly BadItem[] = [
	{
		name: 'a cycle',
		item: () => {
			const item: { a: { b: unknown } } = { a: { b: null } };
			item.a.b = item;
			return item;
		},
		field: 'tasks[1].item.a.b',
		message: expected(
			'tasks[1].item.a.b',
			'a cycle: this is the object at `tasks[1].item` again: JSON cannot hold a cycle',
		),
	},
	{
		name: 'a Date',
		item: () => ({ when: new Date(0) }),
		field: 'tasks[1].item.when',
		message: expected(
			'tasks[1].item.when',
			'a `Date` (1970-01-01T00:00:00.000Z): JSON would store it as a string; store its toISOString() (or getTime())',
		),
	},
	{
		name: 'a Map',
		item: () => ({ index: new Map([['k', 1]]) }),
		field: 'tasks[1].item.index',
		message: expected(
			'tasks[1].item.index',
			'a `Map` (1 entry): JSON would store it as {}; store Object.fromEntries(map) or [...map]',
		),
	},
	{
		name: 'a Set',
		item: () => ({ tags: new Set(['a', 'b']) }),
		field: 'tasks[1].item.tags',
		message: expected('tasks[1].item.tags', 'a `Set` (2 values): JSON would store it as {}; store [...set]'),
	},
	{
		name: 'a class instance',
		item: () => ({ jobs: [new Job(1)] }),
		field: 'tasks[1].item.jobs[0]',
		message: expected(
			'tasks[1].item.jobs[0]',
			'an instance of class `Job`: JSON would store only its own fields and return a plain object; store a plain object ({ ...value } copies its own fields)',
		),
	},
	{
		name: 'a function',
		item: () => ({ run: function go() {} }),
		field: 'tasks[1].item.run',
		message: expected(
			'tasks[1].item.run',
			'a function `go`: JSON drops functions; store data and keep the code in the actuator (only the memory containers keep any value)',
		),
	},
	{
		name: 'a symbol',
		item: () => ({ s: Symbol('s') }),
		field: 'tasks[1].item.s',
		message: expected('tasks[1].item.s', 'a symbol (Symbol(s)): JSON drops symbols; store a string'),
	},
	{
		name: 'a bigint',
		item: () => ({ n: 10n }),
		field: 'tasks[1].item.n',
		message: expected(
			'tasks[1].item.n',
			'10n (bigint): JSON cannot write a bigint; store its toString() (or a number when it is a safe integer)',
		),
	},
	{
		name: 'undefined in an array',
		item: () => ({ list: [1, undefined] }),
		field: 'tasks[1].item.list[1]',
		message: expected('tasks[1].item.list[1]', 'undefined: JSON writes undefined in an array as null; store null'),
	},
	{
		name: 'a hole in an array',
		// eslint-disable-next-line no-sparse-arrays
		item: () => [1, , 3],
		field: 'tasks[1].item[1]',
		message: expected('tasks[1].item[1]', 'an empty slot (a sparse array): JSON writes it as null; fill it'),
	},
	{
		name: 'NaN',
		item: () => ({ ratio: Number.NaN }),
		field: 'tasks[1].item.ratio',
		message: expected('tasks[1].item.ratio', 'NaN (number): JSON writes it as null; store null or a string'),
	},
	{
		name: 'Infinity',
		item: () => Number.POSITIVE_INFINITY,
		field: 'tasks[1].item',
		message: expected('tasks[1].item', 'Infinity (number): JSON writes it as null; store null or a string'),
	},
	{
		name: 'a non-plain prototype',
		item: () => ({ ['odd key']: Object.create({ inherited: 1 }) as object }),
		field: 'tasks[1].item["odd key"]',
		message: expected(
			'tasks[1].item["odd key"]',
			'an object whose prototype is not `Object.prototype` (made by `Object.create`?): JSON would store only its own fields and return a plain object; store a plain object ({ ...value } copies its own fields)',
		),
	},
	{
		name: 'a symbol key',
		item: () => ({ meta: { [Symbol('k')]: 1 } }),
		field: 'tasks[1].item.meta',
		message: expected(
			'tasks[1].item.meta',
			'an object with a symbol key (Symbol(k)): JSON drops symbol keys; use string keys',
		),
	},
];

describe.each(PERSISTENT_KINDS)('%s: items JSON would change are refused at add', (kind) => {
	it.each(BAD_ITEMS)(
		'$name: the same field path and message on every persistent container, nothing stored',
		async ({ item, field, message }) => {
			const scheduler = paused(await containers.make(kind));
			const error = await rejection(
				scheduler.add([
					{ id: 'ok', item: 1 },
					{ id: 'bad', item: item() },
				]),
			);
			expect(error.field).toBe(field);
			expect(error.code).toBe('ERR_INVALID_TASK');
			expect(error.message).toBe(message);
			expect(await scheduler.get('ok')).toBeNull();
			expect((await scheduler.counts()).waiting).toBe(0);
			await scheduler.close();
		},
	);

	it('a shared (not circular) object, fields set to undefined, null prototypes and lone surrogates inside items are kept', async () => {
		const scheduler = paused(await containers.make(kind));
		const shared = { n: 1 };
		const bare = Object.assign(Object.create(null) as object, { k: 'v' });
		await scheduler.add({
			id: 'dag',
			item: { a: shared, b: [shared, shared], gone: undefined, bare, text: `x${high}y${low}` },
		});
		expect((await scheduler.get('dag'))?.item).toEqual({
			a: { n: 1 },
			b: [{ n: 1 }, { n: 1 }],
			bare: { k: 'v' },
			text: `x${high}y${low}`,
		});
		await scheduler.close();
	});
});

describe('a function or class instance item: kept by the memory containers, refused with one message by the others', () => {
	const item = (): NewTask<{ job: Job; twice: () => number }> => {
		const job = new Job(21);
		return { id: 'f', item: { job, twice: () => job.run() } };
	};

	it.each(MEMORY_KINDS)('%s runs it, handing the actuator the very objects given', async (kind) => {
		const given = item();
		const seen: unknown[] = [];
		const scheduler = new Scheduler({
			container: await containers.make(kind),
			actuator: new FunctionActuator((value: { job: Job; twice: () => number }) => {
				seen.push(value.job);
				return value.twice();
			}),
		});
		await scheduler.add([given]);
		await scheduler.onIdle();
		expect(await scheduler.get('f')).toMatchObject({ status: 'succeeded', output: 42 });
		expect(seen[0]).toBe(given.item?.job);
		await scheduler.close();
	});

	it.each(MEMORY_KINDS)(
		'%s takes a function itself as the item (the README promised items need not be JSON)',
		async (kind) => {
			const scheduler = new Scheduler({
				container: await containers.make(kind),
				actuator: new FunctionActuator((fn: () => number) => fn()),
			});
			await scheduler.add({ id: 'fn', item: () => 42 });
			await scheduler.onIdle();
			expect(await scheduler.get('fn')).toMatchObject({ status: 'succeeded', output: 42 });
			await scheduler.close();
		},
	);

	it('every persistent container refuses a function item with the same message and path', async () => {
		const messages = new Set<string>();
		for (const kind of PERSISTENT_KINDS) {
			const scheduler = paused(await containers.make(kind));
			const error = await rejection(scheduler.add([{ id: 'fn', item: function work() {} }]));
			expect(error.field).toBe('tasks[0].item');
			messages.add(error.message);
			await scheduler.close();
		}
		expect([...messages]).toEqual([
			'Expected `tasks[0].item` to be JSON (plain objects, arrays, strings, finite numbers, booleans, null), got a function `work`: JSON drops functions; store data and keep the code in the actuator (only the memory containers keep any value)',
		]);
	});

	it('every persistent container refuses it with the same message and path', async () => {
		const messages = new Map<ContainerKind, string>();
		for (const kind of PERSISTENT_KINDS) {
			const scheduler = paused(await containers.make(kind));
			const error = await rejection(scheduler.add([item()]));
			expect(error.field).toBe('tasks[0].item.job');
			messages.set(kind, error.message);
			expect((await scheduler.counts()).waiting).toBe(0);
			await scheduler.close();
		}
		expect(new Set(messages.values()).size).toBe(1);
		expect(messages.get('RedisContainer')).toContain('an instance of class `Job`');
	});
});

describe.each(ALL_KINDS)('%s: outputs', (kind) => {
	const persistent = (PERSISTENT_KINDS as readonly string[]).includes(kind);

	it(
		persistent
			? 'an output JSON would change fails the attempt with InvalidOutputError naming the field, without a retry'
			: 'an output is kept as it is (the very object)',
		async () => {
			const when = new Date(0);
			const scheduler = new Scheduler({
				container: await containers.make(kind),
				actuator: new FunctionActuator(() => ({ when })),
				maxAttempts: 3,
			});
			const failures: unknown[] = [];
			scheduler.on('task:failed', ({ error }) => failures.push(error));
			await scheduler.add({ id: 'o', item: 1 });
			await scheduler.onIdle();
			const task = await scheduler.get('o');
			if (persistent) {
				expect(task).toMatchObject({
					status: 'failed',
					attempts: 1,
					output: null,
					error: {
						code: 'ERR_INVALID_OUTPUT',
						message: expected(
							'output.when',
							'a `Date` (1970-01-01T00:00:00.000Z): JSON would store it as a string; store its toISOString() (or getTime())',
						),
					},
				});
				expect(failures[0]).toMatchObject({ name: 'InvalidOutputError', field: 'output.when' });
			} else {
				expect(task).toMatchObject({ status: 'succeeded' });
				expect((task?.output as { when: unknown }).when).toBe(when);
			}
			await scheduler.close();
		},
	);

	it('an output holding lone surrogates is stored unchanged (JSON escapes them)', async () => {
		const text = `x${high}y${low}`;
		const scheduler = new Scheduler({
			container: await containers.make(kind),
			actuator: new FunctionActuator(() => ({ text, [text]: 1 })),
		});
		await scheduler.add({ id: 's', item: text });
		await scheduler.onIdle();
		expect(await scheduler.get('s')).toMatchObject({
			status: 'succeeded',
			item: text,
			output: { text, [text]: 1 },
		});
		await scheduler.close();
	});
});
