/** describeValue names what a value is (issue 11 item 10: not "`[object Object]` (object)"); names in options must be well-formed. */
import { describe, expect, it } from 'vitest';
import { assertWellFormed, describeValue, findJsonProblem, isWellFormedText } from 'lightsched/kit';
import { SqlContainer } from 'lightsched/containers/sql';
import { RedisContainer } from 'lightsched/containers/redis';

class Job {}
const lone = '😀'.slice(0, 1);

describe('describeValue', () => {
	it.each([
		[undefined, 'undefined'],
		[null, 'null'],
		[0, '0 (number)'],
		[Number.NaN, 'NaN (number)'],
		[Number.NEGATIVE_INFINITY, '-Infinity (number)'],
		['2', '"2" (string)'],
		[`a${lone}`, '"a\\ud83d" (string)'],
		[10n, '10n (bigint)'],
		[Symbol('s'), 'a symbol (Symbol(s))'],
		[function run() {}, 'a function `run`'],
		[Job, 'a class `Job`'],
		[[1, 2], 'an array (2 items)'],
		[{ a: 1 }, 'an object'],
		[Object.create(null) as object, 'an object with a null prototype'],
		[new Date(0), 'a `Date` (1970-01-01T00:00:00.000Z)'],
		[new Date(Number.NaN), 'a `Date` (Invalid Date)'],
		[new Map(), 'a `Map` (0 entries)'],
		[new Set([1]), 'a `Set` (1 value)'],
		[/x/g, 'a `RegExp` (/x/g)'],
		[new TypeError('bad'), 'a `TypeError` ("bad")'],
		[new Uint8Array(3), 'a `Uint8Array` (3 bytes)'],
		[Buffer.from('ab'), 'a `Buffer` (2 bytes)'],
		[Promise.resolve(1), 'a `Promise` (await it first)'],
		[new Job(), 'an instance of class `Job`'],
		[
			Object.create({ x: 1 }) as object,
			'an object whose prototype is not `Object.prototype` (made by `Object.create`?)',
		],
		[new String('s'), 'a boxed string (`new String(…)`)'],
	])('%o → %s', (value, text) => {
		expect(describeValue(value)).toBe(text);
	});

	it('never calls the value: a proxy that throws on every trap is still described', () => {
		const hostile = new Proxy(
			{},
			{
				get() {
					throw new Error('trap');
				},
				getPrototypeOf() {
					throw new Error('trap');
				},
			},
		);
		expect(describeValue(hostile)).toBe('an object (a proxy or an exotic object)');
	});
});

describe('well-formed text', () => {
	it('isWellFormedText and assertWellFormed', () => {
		expect(isWellFormedText('ok😀\uFFFD')).toBe(true);
		expect(isWellFormedText(`x${lone}`)).toBe(false);
		expect(isWellFormedText('😀'.slice(1))).toBe(false);
		expect(() => assertWellFormed('fine', 'name')).not.toThrow();
		expect(() => assertWellFormed(`x${lone}`, 'name')).toThrow(
			'Expected `name` to be well-formed Unicode text (no lone UTF-16 surrogate), got "x\\ud83d" (string): a lone surrogate U+D83D at index 1',
		);
		expect(() => assertWellFormed(`x${lone}`, 'name')).toThrow(TypeError);
	});

	it('container names and prefixes a user gives are checked in the constructors', () => {
		expect(() => new RedisContainer({ redis: 'redis://127.0.0.1:1', name: `q${lone}`, log: false })).toThrow(
			/`name` to be well-formed Unicode text/,
		);
		expect(
			() => new RedisContainer({ redis: 'redis://127.0.0.1:1', name: 'q', prefix: `${lone}p`, log: false }),
		).toThrow(/`prefix` to be well-formed Unicode/);
		expect(
			() =>
				new SqlContainer({
					knex: { client: 'sqlite3', connection: { filename: ':memory:' } },
					tablePrefix: `t${lone}`,
				}),
		).toThrow(/`tablePrefix`/);
	});
});

describe('findJsonProblem', () => {
	it('finds nothing in what JSON carries unchanged, and walks deep structures without overflowing on the happy path', () => {
		expect(findJsonProblem({ a: [1, 'x', true, null, { b: -0.5 }] })).toBeNull();
		let deep: unknown = 1;
		for (let i = 0; i < 1_000; i++) deep = { d: deep };
		expect(findJsonProblem(deep)).toBeNull();
	});

	it('names a cycle with the object it returns to', () => {
		const a: { self?: unknown; list: unknown[] } = { list: [] };
		a.list.push({ back: a });
		expect(findJsonProblem(a)).toMatchObject({ path: '.list[0].back', cycleTo: '' });
	});
});
