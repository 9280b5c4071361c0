/**
 * The fields of a `TaskRecord`, declared once: each field's name, the kind of value it holds and whether a
 * transition's patch may set it. The declaration is checked against `TaskRecord` and `TaskPatch` by the type
 * checker (a field missing here, an extra one, or a kind that does not match the field's type is a compile
 * error), and every container's encoding is checked against it by `test/containers/record-fields.test.ts`, so
 * a new field that some backend forgets to store fails a test that names the backend and the field.
 */
import type { TaskPatch, TaskRecord, TaskStatus } from './task.js';

/**
 * What a field holds, as a backend must store it: a plain string or number, a number or `null`, a string or
 * `null`, a boolean, a status name, or any JSON value (the item, the output, the error, progress and ref).
 */
export type TaskFieldKind = 'string' | 'nullable-string' | 'number' | 'nullable-number' | 'boolean' | 'status' | 'json';

/** One declared field. */
export interface TaskField {
	/** The field's name in `TaskRecord`. */
	readonly name: keyof TaskRecord;
	/** What it holds, as a backend must store it. */
	readonly kind: TaskFieldKind;
	/** Whether a transition's patch (`TaskPatch`) may set it. */
	readonly patchable: boolean;
}

/** The kind a field of type `T` must be declared with. */
type KindOf<T> = [T] extends [TaskStatus]
	? 'status'
	: [T] extends [string]
		? 'string'
		: [T] extends [number]
			? 'number'
			: [T] extends [boolean]
				? 'boolean'
				: [T] extends [number | null]
					? 'nullable-number'
					: [T] extends [string | null]
						? 'nullable-string'
						: 'json';

/** The shape the declaration must have: exactly the keys of `TaskRecord`, each with its field's kind. */
type Declaration = {
	readonly [K in keyof TaskRecord]-?: { readonly kind: KindOf<TaskRecord[K]>; readonly patchable: boolean };
};

/** Every field, in the order of the `TaskRecord` interface. */
const DECLARATION = {
	id: { kind: 'string', patchable: false },
	item: { kind: 'json', patchable: false },
	priority: { kind: 'number', patchable: false },
	status: { kind: 'status', patchable: false },
	attempts: { kind: 'number', patchable: true },
	maxAttempts: { kind: 'number', patchable: false },
	timeoutMs: { kind: 'nullable-number', patchable: false },
	seq: { kind: 'number', patchable: false },
	createdAt: { kind: 'number', patchable: false },
	updatedAt: { kind: 'number', patchable: false },
	startedAt: { kind: 'nullable-number', patchable: true },
	finishedAt: { kind: 'nullable-number', patchable: true },
	runAt: { kind: 'number', patchable: true },
	error: { kind: 'json', patchable: true },
	output: { kind: 'json', patchable: true },
	progress: { kind: 'json', patchable: true },
	ref: { kind: 'json', patchable: true },
	owner: { kind: 'nullable-string', patchable: true },
	leaseUntil: { kind: 'nullable-number', patchable: true },
	stopRequested: { kind: 'boolean', patchable: true },
	key: { kind: 'nullable-string', patchable: false },
	trace: { kind: 'nullable-string', patchable: false },
	group: { kind: 'nullable-string', patchable: false },
	retention: { kind: 'json', patchable: false },
} as const satisfies Declaration;

/** The fields declared `patchable: true`. */
type DeclaredPatchable = {
	[K in keyof typeof DECLARATION]: (typeof DECLARATION)[K]['patchable'] extends true ? K : never;
}[keyof typeof DECLARATION];

/** `true` when `A` and `B` are the same set of keys, else `false`. */
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Compile-time checks: the declaration has every `TaskRecord` key and no other (`satisfies` above), and its
// patchable fields are exactly the keys of `TaskPatch`. A mismatch makes one of these assignments a type error.
const sameRecordKeys: SameKeys<keyof typeof DECLARATION, keyof TaskRecord> = true;
const samePatchKeys: SameKeys<DeclaredPatchable, keyof TaskPatch> = true;
void sameRecordKeys;
void samePatchKeys;

/** Every field of `TaskRecord`, in interface order. */
export const TASK_FIELDS: readonly TaskField[] = (Object.keys(DECLARATION) as (keyof TaskRecord)[]).map((name) => ({
	name,
	kind: DECLARATION[name].kind,
	patchable: DECLARATION[name].patchable,
}));

/** The names of every field of `TaskRecord`, in interface order. */
export const TASK_FIELD_NAMES: readonly (keyof TaskRecord)[] = TASK_FIELDS.map((field) => field.name);

/** The fields a transition's patch may set (the keys of `TaskPatch`), in interface order. */
export const PATCH_FIELD_NAMES: readonly (keyof TaskPatch)[] = TASK_FIELDS.filter((field) => field.patchable).map(
	(field) => field.name as keyof TaskPatch,
);

/** The declared field `name`. */
export function taskField(name: keyof TaskRecord): TaskField {
	const field = TASK_FIELDS.find((f) => f.name === name);
	if (field === undefined) throw new TypeError(`Expected a TaskRecord field name, got ${JSON.stringify(name)}`);
	return field;
}
