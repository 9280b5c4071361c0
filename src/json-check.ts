/**
 * What a container would store changed, refused before anything is stored: text that is not well-formed Unicode
 * (a lone UTF-16 surrogate becomes U+FFFD in UTF-8, so two ids would name one task), and values JSON cannot
 * carry as they are (a `Date` comes back a string, a `Map` an empty object, a function vanishes, a cycle throws).
 * One check for every container, so the same bad task gets the same error and field path everywhere.
 */
import { describeValue, InvalidOutputError, InvalidTaskError, type InvalidValueOptions } from './errors.js';
import type { TaskRecord } from './task.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

/** Whether `text` is well-formed Unicode: no lone UTF-16 surrogate (`String.prototype.isWellFormed` where Node has it). */
export function isWellFormedText(text: string): boolean {
	return hasIsWellFormed
		? (text as unknown as { isWellFormed(): boolean }).isWellFormed()
		: !LONE_SURROGATE.test(text);
}

/** What well-formed text is, for error messages. */
export const WELL_FORMED_EXPECTED = 'well-formed Unicode text (no lone UTF-16 surrogate)';

/** Where the first lone surrogate of `text` is, and what storage would do with it; `undefined` when there is none. */
export function loneSurrogateHint(text: string): string | undefined {
	if (isWellFormedText(text)) return undefined;
	const at = LONE_SURROGATE.exec(text)?.index ?? 0;
	const unit = text.charCodeAt(at).toString(16).toUpperCase();
	return `a lone surrogate U+${unit} at index ${at}, which UTF-8 storage would replace with U+FFFD (so two different strings would name one)`;
}

/**
 * Throws a `TypeError` naming `field` when `value` is a string that is not well-formed Unicode. For names a user
 * gives in options (container names, table and key prefixes, scheduler ids); other types are left to the caller.
 */
export function assertWellFormed(value: unknown, field: string): void {
	if (typeof value !== 'string') return;
	const hint = loneSurrogateHint(value);
	if (hint !== undefined)
		throw new TypeError(
			`Expected \`${field}\` to be ${WELL_FORMED_EXPECTED}, got ${describeValue(value)}: ${hint}`,
		);
}

/** What JSON carries unchanged, for error messages. */
export const JSON_EXPECTED = 'JSON (plain objects, arrays, strings, finite numbers, booleans, null)';

/** The first value JSON would not carry as it is: its path below the checked value (`.a[2].b`), and how to say it. */
export interface JsonProblem {
	/** Where the value is, below the checked value (`.a[2].b`). */
	readonly path: string;
	/** The value itself. */
	readonly value: unknown;
	/** How to describe it, when `describeValue` would not say what is wrong. */
	readonly got?: string;
	/** Why JSON would change it, and what to store instead. */
	readonly hint: string;
	/** For a cycle: the path of the object met again (an ancestor of `path`). */
	readonly cycleTo?: string;
}

/** Why JSON would change a value of this kind, and what to store instead. */
function hintFor(value: unknown): string {
	switch (typeof value) {
		case 'number':
			return 'JSON writes it as null; store null or a string';
		case 'bigint':
			return 'JSON cannot write a bigint; store its toString() (or a number when it is a safe integer)';
		case 'undefined':
			return 'JSON writes undefined in an array as null; store null';
		case 'symbol':
			return 'JSON drops symbols; store a string';
		case 'function':
			return 'JSON drops functions; store data and keep the code in the actuator (only the memory containers keep any value)';
		default:
			break;
	}
	const object = value as object;
	if (object instanceof Date) return 'JSON would store it as a string; store its toISOString() (or getTime())';
	if (object instanceof Map) return 'JSON would store it as {}; store Object.fromEntries(map) or [...map]';
	if (object instanceof Set) return 'JSON would store it as {}; store [...set]';
	if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer)
		return 'store an array of numbers or a base64 string';
	if (object instanceof RegExp) return 'JSON would store it as {}; store its source text';
	if (object instanceof Error) return 'JSON would store it as {}; store { message, code }';
	if (object instanceof Promise) return 'await it before storing the result';
	return 'JSON would store only its own fields and return a plain object; store a plain object ({ ...value } copies its own fields)';
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function formatPath(keys: readonly (string | number)[], upTo = keys.length): string {
	let path = '';
	for (let i = 0; i < upTo; i++) {
		const key = keys[i] as string | number;
		path += typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
	}
	return path;
}

/** The walk's state: the keys from the root to the value in hand, and the objects on that path (to find cycles). */
class Walk {
	readonly keys: (string | number)[] = [];
	readonly ancestors: object[] = [];
	readonly onPath = new Set<object>();

	problem(value: unknown, got?: string, hint = hintFor(value)): JsonProblem {
		return got === undefined
			? { path: formatPath(this.keys), value, hint }
			: { path: formatPath(this.keys), value, got, hint };
	}

	check(value: unknown): JsonProblem | null {
		switch (typeof value) {
			case 'string':
			case 'boolean':
				return null;
			case 'number':
				return Number.isFinite(value) ? null : this.problem(value);
			case 'object':
				return value === null ? null : this.object(value);
			default:
				return this.problem(value);
		}
	}

	object(value: object): JsonProblem | null {
		if (this.onPath.has(value)) {
			return {
				...this.problem(value, 'a cycle', 'JSON cannot hold a cycle'),
				cycleTo: formatPath(this.keys, this.ancestors.indexOf(value)),
			};
		}
		const isArray = Array.isArray(value);
		if (!isArray) {
			const proto = Object.getPrototypeOf(value) as unknown;
			if (proto !== Object.prototype && proto !== null) return this.problem(value);
			const symbols = Object.getOwnPropertySymbols(value);
			if (symbols.length > 0) {
				return this.problem(
					value,
					`an object with a symbol key (${String(symbols[0])})`,
					'JSON drops symbol keys; use string keys',
				);
			}
		}
		this.onPath.add(value);
		this.ancestors.push(value);
		const found = isArray ? this.array(value) : this.fields(value as Record<string, unknown>);
		this.ancestors.pop();
		this.onPath.delete(value);
		return found;
	}

	array(value: readonly unknown[]): JsonProblem | null {
		for (let i = 0; i < value.length; i++) {
			this.keys.push(i);
			const found =
				i in value
					? this.check(value[i])
					: this.problem(undefined, 'an empty slot (a sparse array)', 'JSON writes it as null; fill it');
			if (found !== null) return found;
			this.keys.pop();
		}
		return null;
	}

	fields(value: Record<string, unknown>): JsonProblem | null {
		for (const key of Object.keys(value)) {
			const child = value[key];
			// A field set to undefined is left out by JSON, and reads back as undefined all the same.
			if (child === undefined) continue;
			this.keys.push(key);
			const found = this.check(child);
			if (found !== null) return found;
			this.keys.pop();
		}
		return null;
	}
}

/** The first part of `value` JSON would not carry as it is, or `null` when JSON carries all of it unchanged. */
export function findJsonProblem(value: unknown): JsonProblem | null {
	// The common cases, without allocating a walk.
	if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
	if (typeof value === 'number' && Number.isFinite(value)) return null;
	try {
		return new Walk().check(value);
	} catch (error) {
		if (error instanceof RangeError)
			return { path: '', value, got: 'a value nested too deeply to walk', hint: 'flatten it' };
		throw error;
	}
}

function invalidOptions(problem: JsonProblem, root: string): InvalidValueOptions {
	const got =
		problem.cycleTo === undefined
			? problem.got
			: `a cycle: this is the object at \`${root}${problem.cycleTo}\` again`;
	return got === undefined ? { hint: problem.hint } : { got, hint: problem.hint };
}

/**
 * Throws an `InvalidTaskError` naming the exact place (`tasks[0].item.when`) when JSON would not carry `item` as it
 * is. Persistent containers call this (through `assertStorableTask`) at `add`.
 */
export function assertJsonItem(item: unknown, field: string): void {
	const problem = findJsonProblem(item);
	if (problem !== null)
		throw new InvalidTaskError(
			`${field}${problem.path}`,
			JSON_EXPECTED,
			problem.value,
			invalidOptions(problem, field),
		);
}

/**
 * Throws an `InvalidOutputError` (it fails the attempt, without a retry) when JSON would not carry `output` as it
 * is; `undefined` is no output and passes. Containers that store outputs as JSON call this before storing one.
 */
export function assertJsonOutput(output: unknown, field = 'output'): void {
	if (output === undefined) return;
	const problem = findJsonProblem(output);
	if (problem !== null)
		throw new InvalidOutputError(
			`${field}${problem.path}`,
			JSON_EXPECTED,
			problem.value,
			invalidOptions(problem, field),
		);
}

/** The error for an output JSON would change, or `null`: the same check as `assertJsonOutput`, without throwing. */
export function jsonOutputError(output: unknown, field = 'output'): InvalidOutputError | null {
	try {
		assertJsonOutput(output, field);
		return null;
	} catch (error) {
		if (error instanceof InvalidOutputError) return error;
		throw error;
	}
}

/**
 * The check every persistent container makes of each task at `add`, before storing any (all or nothing): the id
 * is well-formed Unicode and the item is JSON. Named by its place in the add: `tasks[index].id`, `tasks[index].item…`.
 */
export function assertStorableTask(task: TaskRecord, index: number): void {
	assertWellFormedId(task.id, `tasks[${index}].id`);
	assertJsonItem(task.item, `tasks[${index}].item`);
}

/** Throws an `InvalidTaskError` naming `field` when the id is not well-formed Unicode. */
export function assertWellFormedId(id: string, field: string): void {
	const hint = loneSurrogateHint(id);
	if (hint !== undefined) throw new InvalidTaskError(field, WELL_FORMED_EXPECTED, id, { hint });
}
