/**
 * Field-by-field comparison of task records against the declaration in `src/task-fields.ts`: every declared
 * field must be present, hold a value of its declared kind and equal the expected value; no undeclared field
 * may appear. Differences come out as readable lines naming the field.
 */
import { isDeepStrictEqual } from 'node:util';
import { isTaskStatus, type TaskRecord } from 'lightsched/kit';
import { TASK_FIELDS, TASK_FIELD_NAMES, type TaskFieldKind } from '../../src/task-fields.js';

/** Fields whose value a container sets itself (compared by kind only): `updatedAt` is the container's clock. */
export const CONTAINER_SET_FIELDS: ReadonlySet<keyof TaskRecord> = new Set(['updatedAt']);

function hasKind(kind: TaskFieldKind, value: unknown): boolean {
	switch (kind) {
		case 'string':
			return typeof value === 'string';
		case 'nullable-string':
			return value === null || typeof value === 'string';
		case 'number':
			return typeof value === 'number' && Number.isFinite(value);
		case 'nullable-number':
			return value === null || (typeof value === 'number' && Number.isFinite(value));
		case 'boolean':
			return typeof value === 'boolean';
		case 'status':
			return isTaskStatus(value);
		case 'json':
			return value !== undefined;
	}
}

const show = (value: unknown): string => (value === undefined ? 'undefined' : JSON.stringify(value));

/**
 * The differences between `actual` and `expected`, one line per field: `<where>: <field> expected … got …`.
 * Fields in `loose` (and `CONTAINER_SET_FIELDS`) are checked for their kind only.
 */
export function recordDiffs(
	where: string,
	actual: TaskRecord | null | undefined,
	expected: TaskRecord,
	loose: ReadonlySet<keyof TaskRecord> = CONTAINER_SET_FIELDS,
): string[] {
	if (actual === null || actual === undefined) return [`${where}: no record (expected task \`${expected.id}\`)`];
	const diffs: string[] = [];
	for (const { name, kind } of TASK_FIELDS) {
		const value = (actual as unknown as Record<string, unknown>)[name];
		if (!Object.hasOwn(actual, name)) diffs.push(`${where}: field \`${name}\` is missing`);
		else if (!hasKind(kind, value)) diffs.push(`${where}: field \`${name}\` should be ${kind}, got ${show(value)}`);
		else if (!loose.has(name) && !CONTAINER_SET_FIELDS.has(name) && !isDeepStrictEqual(value, expected[name])) {
			diffs.push(`${where}: field \`${name}\` expected ${show(expected[name])}, got ${show(value)}`);
		}
	}
	for (const key of Object.keys(actual)) {
		if (!(TASK_FIELD_NAMES as readonly string[]).includes(key)) diffs.push(`${where}: undeclared field \`${key}\``);
	}
	return diffs;
}
