/** Turning what a caller gives `add` into a task record, with a clear error for anything malformed. */
import { randomUUID } from 'node:crypto';
import { InvalidTaskError } from './errors.js';
import { MAX_TIMER_MS } from './options.js';
import type { NewTask, TaskRecord } from './task.js';

const KNOWN_KEYS = new Set(['id', 'item', 'priority', 'maxAttempts', 'timeoutMs', 'runAt']);

/** The longest id accepted (the SQL container's column width). */
export const MAX_ID_LENGTH = 512;

/**
 * Validate one new task and build its waiting record.
 * @param field how to name the task in errors: `task` or `tasks[3]`
 */
export function createTaskRecord<TItem>(
	input: NewTask<TItem>,
	field: string,
	defaults: { readonly maxAttempts: number },
	now: number,
): TaskRecord<TItem> {
	if (typeof input !== 'object' || input === null || Array.isArray(input)) {
		throw new InvalidTaskError(field, 'an object like { id?, item, priority?, maxAttempts?, timeoutMs?, runAt? }', input);
	}
	for (const key in input) {
		if (!KNOWN_KEYS.has(key)) {
			throw new InvalidTaskError(
				`${field}.${key}`,
				'absent (known fields: id, item, priority, maxAttempts, timeoutMs, runAt)',
				(input as unknown as Record<string, unknown>)[key],
			);
		}
	}
	const { id = randomUUID(), item, priority = 0, maxAttempts = defaults.maxAttempts, timeoutMs, runAt = now } = input;
	if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
		throw new InvalidTaskError(`${field}.id`, `a non-empty string of at most ${MAX_ID_LENGTH} characters`, id);
	}
	if (item === undefined || typeof item === 'function' || typeof item === 'symbol') {
		throw new InvalidTaskError(`${field}.item`, 'a value (the payload handed to the actuator)', item);
	}
	if (typeof priority !== 'number' || !Number.isSafeInteger(priority)) {
		throw new InvalidTaskError(`${field}.priority`, 'a safe integer', priority);
	}
	if (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1_000_000) {
		throw new InvalidTaskError(`${field}.maxAttempts`, 'an integer from 1 to 1000000', maxAttempts);
	}
	if (
		timeoutMs !== undefined &&
		(typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS)
	) {
		throw new InvalidTaskError(`${field}.timeoutMs`, `an integer from 0 to ${MAX_TIMER_MS} (0 = no timeout)`, timeoutMs);
	}
	if (typeof runAt !== 'number' || !Number.isFinite(runAt) || runAt < 0) {
		throw new InvalidTaskError(`${field}.runAt`, 'a time in milliseconds since the epoch', runAt);
	}
	return {
		id,
		item,
		priority,
		status: 'waiting',
		attempts: 0,
		maxAttempts,
		timeoutMs: timeoutMs ?? null,
		seq: 0,
		createdAt: now,
		updatedAt: now,
		startedAt: null,
		finishedAt: null,
		runAt,
		error: null,
		output: null,
		progress: null,
		ref: null,
		owner: null,
		leaseUntil: null,
		stopRequested: false,
	};
}

/** Check that `item` survives a JSON round trip unchanged in kind; persistent containers call this at `add`. */
export function assertJsonItem(item: unknown, field: string): void {
	const problem = findNonJson(item, new Set());
	if (problem !== null) {
		throw new InvalidTaskError(
			`${field}${problem.path}`,
			'JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null)',
			problem.value,
		);
	}
}

function findNonJson(value: unknown, seen: Set<object>, path = ''): { path: string; value: unknown } | null {
	if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
	if (typeof value === 'number') return Number.isFinite(value) ? null : { path, value };
	if (typeof value !== 'object') return { path, value };
	if (seen.has(value)) return { path, value };
	if (Array.isArray(value)) {
		seen.add(value);
		for (let i = 0; i < value.length; i++) {
			const found = findNonJson(value[i], seen, `${path}[${i}]`);
			if (found) return found;
		}
		seen.delete(value);
		return null;
	}
	const proto = Object.getPrototypeOf(value) as unknown;
	if (proto !== Object.prototype && proto !== null) return { path, value };
	seen.add(value);
	for (const [key, child] of Object.entries(value)) {
		if (child === undefined) continue;
		const found = findNonJson(child, seen, `${path}.${key}`);
		if (found) return found;
	}
	seen.delete(value);
	return null;
}
