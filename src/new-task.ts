/** Turning what a caller gives `add` into a task record, with a clear error for anything malformed. */
import { InvalidTaskError } from './errors.js';
import { assertWellFormedId } from './json-check.js';
import { MAX_TIMER_MS } from './timer-limit.js';
import type { NewTask, TaskRecord, TaskRetention } from './task.js';
import { timeOrderedId } from './time-ordered-id.js';

const KNOWN_KEYS = new Set([
	'id',
	'item',
	'priority',
	'maxAttempts',
	'timeoutMs',
	'runAt',
	'key',
	'group',
	'retention',
]);

/** How many ids `generateId` has made in this process (see `generatedIdCount`). */
let generated = 0;

/**
 * How many ids this module has generated so far. An add that builds n records and sees this grow by n knows that
 * every id of it was generated (each record draws at most one), without reading the caller's objects a second
 * time (a getter or a proxy may answer differently): what `SyncContainerOperations.add`'s `fresh` relies on.
 */
export function generatedIdCount(): number {
	return generated;
}

/** The id of a task given none, made at `now` (a UUID v7: see `time-ordered-id.ts`), counted. */
function generateId(now: number): string {
	generated++;
	return timeOrderedId(now);
}

/** The longest id accepted (the SQL container's column width). */
export const MAX_ID_LENGTH = 512;

/**
 * Validate one new task and build its waiting record.
 * @param field how to name the task in errors: `task` or `tasks[3]`
 * @param trace the trace context of the span that adds it (`TaskRecord.trace`; see src/tracing.ts)
 */
export function createTaskRecord<TItem>(
	input: NewTask<TItem>,
	field: string,
	defaults: { readonly maxAttempts: number },
	now: number,
	trace: string | null = null,
): TaskRecord<TItem> {
	if (typeof input !== 'object' || input === null || Array.isArray(input)) {
		throw new InvalidTaskError(
			field,
			'an object like { id?, item, priority?, maxAttempts?, timeoutMs?, runAt? }',
			input,
		);
	}
	for (const key in input) {
		if (!KNOWN_KEYS.has(key)) {
			throw new InvalidTaskError(
				`${field}.${key}`,
				'absent (known fields: id, item, priority, maxAttempts, timeoutMs, runAt, key, group, retention)',
				(input as unknown as Record<string, unknown>)[key],
			);
		}
	}
	const {
		id,
		item,
		priority = 0,
		maxAttempts = defaults.maxAttempts,
		timeoutMs,
		runAt = now,
		key = null,
		group = null,
		retention,
	} = input;
	if (id !== undefined) {
		if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
			throw new InvalidTaskError(`${field}.id`, `a non-empty string of at most ${MAX_ID_LENGTH} characters`, id);
		}
		// Ids become keys, rows and log lines: one a UTF-8 store would change is refused on every container alike.
		assertWellFormedId(id, `${field}.id`);
	}
	// Any value: the memory containers keep it as it is; persistent ones check that JSON carries it (`assertJsonItem`).
	if (item === undefined)
		throw new InvalidTaskError(`${field}.item`, 'a value (the payload handed to the actuator)', item);
	if (typeof priority !== 'number' || !Number.isSafeInteger(priority)) {
		throw new InvalidTaskError(`${field}.priority`, 'a safe integer', priority);
	}
	if (
		typeof maxAttempts !== 'number' ||
		!Number.isInteger(maxAttempts) ||
		maxAttempts < 1 ||
		maxAttempts > 1_000_000
	) {
		throw new InvalidTaskError(`${field}.maxAttempts`, 'an integer from 1 to 1000000', maxAttempts);
	}
	if (
		timeoutMs !== undefined &&
		(typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS)
	) {
		throw new InvalidTaskError(
			`${field}.timeoutMs`,
			`an integer from 0 to ${MAX_TIMER_MS} (0 = no timeout)`,
			timeoutMs,
		);
	}
	if (typeof runAt !== 'number' || !Number.isFinite(runAt) || runAt < 0) {
		throw new InvalidTaskError(`${field}.runAt`, 'a time in milliseconds since the epoch', runAt);
	}
	if (key !== null) {
		if (typeof key !== 'string' || key.length === 0 || key.length > MAX_ID_LENGTH) {
			throw new InvalidTaskError(
				`${field}.key`,
				`a non-empty string of at most ${MAX_ID_LENGTH} characters`,
				key,
			);
		}
		assertWellFormedId(key, `${field}.key`);
	}
	if (group !== null) {
		if (typeof group !== 'string' || group.length === 0 || group.length > MAX_ID_LENGTH) {
			throw new InvalidTaskError(
				`${field}.group`,
				`a non-empty string of at most ${MAX_ID_LENGTH} characters`,
				group,
			);
		}
		assertWellFormedId(group, `${field}.group`);
	}
	const ownRule = retention === undefined ? null : checkTaskRetention(retention, `${field}.retention`);
	// A plain record, every field in the order of `TaskRecord`: each container stores it in its own form (the memory
	// containers copy it into their storage class at add).
	return {
		// A generated id is well-formed by construction: only given ones are checked.
		id: id ?? generateId(now),
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
		key,
		trace,
		group,
		retention: ownRule,
	};
}

const RETENTION_STATUSES = ['succeeded', 'failed', 'stopped'] as const;

/**
 * Check a task's own retention rule (`NewTask.retention`) and copy it: only the statuses given, each an integer
 * number of milliseconds >= 0. An empty rule is no rule (`null`).
 */
function checkTaskRetention(retention: unknown, field: string): TaskRetention | null {
	if (typeof retention !== 'object' || retention === null || Array.isArray(retention)) {
		throw new InvalidTaskError(
			field,
			'an object like { succeeded?, failed?, stopped? } (milliseconds kept after finishing)',
			retention,
		);
	}
	const rule: { succeeded?: number; failed?: number; stopped?: number } = {};
	for (const name in retention) {
		const value = (retention as Record<string, unknown>)[name];
		if (!(RETENTION_STATUSES as readonly string[]).includes(name)) {
			throw new InvalidTaskError(`${field}.${name}`, 'absent (known fields: succeeded, failed, stopped)', value);
		}
		if (value === undefined) continue;
		if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
			throw new InvalidTaskError(
				`${field}.${name}`,
				'an integer >= 0 (milliseconds kept after finishing; 0 = deleted at once)',
				value,
			);
		}
		rule[name as (typeof RETENTION_STATUSES)[number]] = value;
	}
	return Object.keys(rule).length === 0 ? null : rule;
}

export { assertJsonItem } from './json-check.js';
