/**
 * Turning task records into table rows and back. Item, output, error, progress and ref are stored as JSON
 * text; times are integer milliseconds (BIGINT, which PostgreSQL hands back as strings).
 */
import type { TaskPatch, TaskRecord, TaskStatus } from 'lightsched';

/** The task table's columns, in insert order (`seq` is assigned by the database). */
export const INSERT_COLUMNS = [
	'id',
	'status',
	'priority',
	'attempts',
	'max_attempts',
	'timeout_ms',
	'created_at',
	'updated_at',
	'started_at',
	'finished_at',
	'run_at',
	'item',
	'error',
	'output',
	'progress',
	'ref',
	'owner',
	'lease_until',
	'stop_requested',
	'dedup_key',
	'trace',
	'delayed',
	'task_group',
	'retain_succeeded',
	'retain_failed',
	'retain_stopped',
] as const;

/** Patch fields, the column each one writes and its PostgreSQL type; `json` columns hold JSON text. */
export const PATCH_COLUMNS: Readonly<
	Record<
		keyof TaskPatch,
		{ readonly column: string; readonly kind: 'plain' | 'json' | 'bool'; readonly pgType: string }
	>
> = {
	attempts: { column: 'attempts', kind: 'plain', pgType: 'integer' },
	startedAt: { column: 'started_at', kind: 'plain', pgType: 'bigint' },
	finishedAt: { column: 'finished_at', kind: 'plain', pgType: 'bigint' },
	runAt: { column: 'run_at', kind: 'plain', pgType: 'bigint' },
	error: { column: 'error', kind: 'json', pgType: 'text' },
	output: { column: 'output', kind: 'json', pgType: 'text' },
	progress: { column: 'progress', kind: 'json', pgType: 'text' },
	ref: { column: 'ref', kind: 'json', pgType: 'text' },
	owner: { column: 'owner', kind: 'plain', pgType: 'text' },
	leaseUntil: { column: 'lease_until', kind: 'plain', pgType: 'bigint' },
	stopRequested: { column: 'stop_requested', kind: 'bool', pgType: 'boolean' },
};

/** The patch keys, in a fixed order. */
export const PATCH_KEYS = Object.keys(PATCH_COLUMNS) as (keyof TaskPatch)[];

/** The stored form of one patch value. */
export function patchValue(key: keyof TaskPatch, value: unknown, bool: (v: boolean) => unknown): unknown {
	const { kind } = PATCH_COLUMNS[key];
	return kind === 'json' ? toJsonText(value) : kind === 'bool' ? bool(value === true) : value;
}

/**
 * JSON text for a stored value, or `null` for SQL NULL. Never throws, so a late report can always be stored:
 * a bigint becomes its decimal string, and a value JSON cannot hold at all (a cycle) becomes its `String()`.
 */
export function toJsonText(value: unknown): string | null {
	if (value === null || value === undefined) return null;
	try {
		return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? null;
	} catch {
		return JSON.stringify(String(value));
	}
}

function fromJsonText(value: unknown): unknown {
	if (value === null || value === undefined) return null;
	return JSON.parse(String(value)) as unknown;
}

const num = (value: unknown): number => Number(value);
/** A nullable number column's value: `null` for SQL NULL, else the number (PostgreSQL hands BIGINTs over as text). */
export const numOrNull = (value: unknown): number | null =>
	value === null || value === undefined ? null : Number(value);

/** A row as the database returns it, to a task record. */
export function rowToRecord(row: Record<string, unknown>): TaskRecord {
	return {
		id: String(row['id']),
		item: fromJsonText(row['item']),
		priority: num(row['priority']),
		status: row['status'] as TaskStatus,
		attempts: num(row['attempts']),
		maxAttempts: num(row['max_attempts']),
		timeoutMs: numOrNull(row['timeout_ms']),
		seq: num(row['seq']),
		createdAt: num(row['created_at']),
		updatedAt: num(row['updated_at']),
		startedAt: numOrNull(row['started_at']),
		finishedAt: numOrNull(row['finished_at']),
		runAt: num(row['run_at']),
		error: fromJsonText(row['error']) as TaskRecord['error'],
		output: fromJsonText(row['output']),
		progress: fromJsonText(row['progress']),
		ref: fromJsonText(row['ref']),
		owner: row['owner'] === null || row['owner'] === undefined ? null : String(row['owner']),
		leaseUntil: numOrNull(row['lease_until']),
		stopRequested: Boolean(row['stop_requested']),
		key: row['dedup_key'] === null || row['dedup_key'] === undefined ? null : String(row['dedup_key']),
		trace: row['trace'] === null || row['trace'] === undefined ? null : String(row['trace']),
		group: row['task_group'] === null || row['task_group'] === undefined ? null : String(row['task_group']),
		retention: retentionOf(row),
	};
}

/**
 * The task's own retention rule from its three columns (schema 7: `retain_<status>`, milliseconds, NULL for a
 * status without one), or `null` when it has none.
 */
function retentionOf(row: Record<string, unknown>): TaskRecord['retention'] {
	const succeeded = numOrNull(row['retain_succeeded']);
	const failed = numOrNull(row['retain_failed']);
	const stopped = numOrNull(row['retain_stopped']);
	if (succeeded === null && failed === null && stopped === null) return null;
	return {
		...(succeeded === null ? {} : { succeeded }),
		...(failed === null ? {} : { failed }),
		...(stopped === null ? {} : { stopped }),
	};
}

/**
 * The insert values of a new waiting task, in `INSERT_COLUMNS` order. `itemJson` was checked by the caller; `now`
 * is the `updated_at` and judges whether the task is `delayed`.
 */
export function recordToValues(
	task: TaskRecord,
	itemJson: string,
	now: number,
	bool: (v: boolean) => unknown,
): unknown[] {
	return [
		task.id,
		'waiting',
		task.priority,
		task.attempts,
		task.maxAttempts,
		task.timeoutMs,
		task.createdAt,
		now,
		task.startedAt,
		task.finishedAt,
		task.runAt,
		itemJson,
		toJsonText(task.error),
		toJsonText(task.output),
		toJsonText(task.progress),
		toJsonText(task.ref),
		task.owner,
		task.leaseUntil,
		bool(task.stopRequested),
		task.key,
		task.trace,
		// Not yet due by the adding process's clock: out of the claim index until a claim promotes it (schema 5).
		task.runAt > now ? 1 : 0,
		task.group,
		task.retention?.succeeded ?? null,
		task.retention?.failed ?? null,
		task.retention?.stopped ?? null,
	];
}

/** `SET` assignments and their bindings for a patch; undefined fields are left alone. */
export function patchAssignments(
	patch: TaskPatch,
	bool: (v: boolean) => unknown,
): { sql: string[]; bindings: unknown[] } {
	const sql: string[] = [];
	const bindings: unknown[] = [];
	for (const [key, value] of Object.entries(patch) as [keyof TaskPatch, unknown][]) {
		if (value === undefined) continue;
		const spec = PATCH_COLUMNS[key];
		if (spec === undefined) continue;
		sql.push(`${spec.column} = ?`);
		bindings.push(patchValue(key, value, bool));
	}
	return { sql, bindings };
}

/** Claim order: highest priority first, then arrival. */
export function byClaimOrder(a: TaskRecord, b: TaskRecord): number {
	return b.priority - a.priority || a.seq - b.seq;
}
