/**
 * How a task record is stored in its Redis hash: one field per record field, numbers as decimal strings,
 * `null` as the empty string, and the caller's values (item, output, error, progress, ref) as JSON.
 */
import { ContainerError, isTaskStatus, type TaskPatch, type TaskRecord } from 'lightsched/kit';

/** The hash fields `add` writes, in the order the add script reads them (status and seq are set by the script). */
export const ADD_FIELDS = [
	'id',
	'item',
	'priority',
	'attempts',
	'maxAttempts',
	'timeoutMs',
	'createdAt',
	'updatedAt',
	'startedAt',
	'finishedAt',
	'runAt',
	'error',
	'output',
	'progress',
	'ref',
	'owner',
	'leaseUntil',
	'stopRequested',
	'key',
	'trace',
	'group',
	'retention',
] as const;

/**
 * Every stored field, in the order scripts return records (HMGET, values only). `v` is not a record field: the
 * version every write bumps (see known-records.ts).
 */
export const RECORD_FIELDS = [...ADD_FIELDS, 'status', 'seq', 'v'] as const;

type StoredField = (typeof RECORD_FIELDS)[number];

/**
 * A claimed task travels as ONE string (decoding twenty-one strings per task cost this process more than the rest
 * of a claim): these fields' stored values joined by U+001F, then the owner, then the id. None of these fields
 * can hold U+001F (numbers, a status, JSON, which escapes control characters); the owner is the claimer's, known
 * here, so the id (any string) is what follows it.
 */
export const CLAIMED_FIELDS = RECORD_FIELDS.filter((field) => field !== 'id' && field !== 'owner');
const CLAIMED_POSITIONS = CLAIMED_FIELDS.map((field) => RECORD_FIELDS.indexOf(field));
const ID_AT = RECORD_FIELDS.indexOf('id');
const OWNER_AT = RECORD_FIELDS.indexOf('owner');
const UNIT = '\u001f';

/** The stored values (RECORD_FIELDS order) of a claimed task from its packed string. */
export function unpackClaimed(text: string, owner: string): (string | null)[] {
	const values: (string | null)[] = new Array<string | null>(RECORD_FIELDS.length);
	let at = 0;
	for (const position of CLAIMED_POSITIONS) {
		const end = text.indexOf(UNIT, at);
		if (end < 0) break;
		values[position] = text.slice(at, end);
		at = end + 1;
	}
	if (!text.startsWith(owner, at) || text.charAt(at + owner.length) !== UNIT) {
		throw new ContainerError(
			`A claimed task came back malformed (expected its owner \`${owner}\`): ${JSON.stringify(text.slice(0, 200))}`,
		);
	}
	values[OWNER_AT] = owner;
	values[ID_AT] = text.slice(at + owner.length + 1);
	return values;
}
/** Where the owner starts in a packed claimed task (after its fields), or -1 when it has too few fields. */
export function claimedOwnerAt(text: string): number {
	let at = 0;
	for (let i = 0; i < CLAIMED_POSITIONS.length; i++) {
		const end = text.indexOf(UNIT, at);
		if (end < 0) return -1;
		at = end + 1;
	}
	return at;
}

// `key` and `trace` too: free strings, and JSON escapes U+001F, which a claimed task's packed string uses between
// fields. `retention` is an object or `null` (the scripts decode it to index a finished task's expiry).
const JSON_FIELDS = new Set<string>([
	'item',
	'error',
	'output',
	'progress',
	'ref',
	'key',
	'trace',
	'group',
	'retention',
]);

function encodeJson(value: unknown, field: string, id: string): string {
	let text: string | undefined;
	try {
		text = JSON.stringify(value);
	} catch (error) {
		throw new ContainerError(
			`Could not store \`${field}\` of task \`${id}\` as JSON: ${(error as Error).message}`,
			{ cause: error },
		);
	}
	return text ?? 'null';
}

/** One record field in its stored form. */
export function encodeField(field: string, value: unknown, id: string): string {
	if (JSON_FIELDS.has(field)) return encodeJson(value, field, id);
	if (field === 'stopRequested') return value === true ? '1' : '0';
	if (value === null || value === undefined) return '';
	return String(value);
}

/** The values of `ADD_FIELDS` for one record. */
export function encodeForAdd(task: TaskRecord): string[] {
	return ADD_FIELDS.map((field) => encodeField(field, task[field], task.id));
}

/** A patch as HSET field/value pairs, appended to `pairs` (a new array by default). */
export function encodePatch(patch: TaskPatch, id: string, pairs: string[] = []): string[] {
	for (const field in patch) {
		if (!Object.hasOwn(patch, field)) continue;
		const value = (patch as Record<string, unknown>)[field];
		if (value === undefined) continue;
		pairs.push(field, encodeField(field, value, id));
	}
	return pairs;
}

/**
 * A transition batch as the one JSON argument of the `transition` script. Redis's cjson rejects the `\udxxx` escape
 * of a lone surrogate, which `JSON.stringify` writes for one: such strings are sent as ioredis sends any string,
 * UTF-8 with U+FFFD in place of the lone surrogate (a backslash before `ud` in the text only costs a second pass).
 */
export function encodeBatch(batch: readonly (string | readonly string[])[]): string {
	const json = JSON.stringify(batch);
	if (!json.includes('\\ud')) return json;
	return JSON.stringify(
		batch.map((entry) => (typeof entry === 'string' ? wellFormed(entry) : entry.map(wellFormed))),
	);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function wellFormed(text: string): string {
	return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Stored values from a JSON reply, where cjson writes a missing field (Lua `false`) as `false`. */
export function storedValues(values: readonly (string | false | null)[] | string): (string | null)[] {
	if (typeof values === 'string')
		throw new ContainerError(`Expected a stored record, got ${JSON.stringify(values.slice(0, 200))}`);
	return values.map((value) => (typeof value === 'string' ? value : null));
}

function parseJson(text: string | null | undefined): unknown {
	// Most JSON fields of a record are null: skip the parser for them.
	if (text === undefined || text === null || text === '' || text === 'null') return null;
	return JSON.parse(text) as unknown;
}

function nullableNumber(text: string | null | undefined): number | null {
	return text === undefined || text === null || text === '' ? null : Number(text);
}

/** One field's value from its stored form, as `decodeRecord` decodes it (the patch fields a transition writes). */
export function decodeField(field: string, text: string): unknown {
	switch (field) {
		case 'item':
		case 'error':
		case 'output':
		case 'progress':
		case 'ref':
		case 'key':
		case 'trace':
		case 'group':
		case 'retention':
			return parseJson(text);
		case 'timeoutMs':
		case 'startedAt':
		case 'finishedAt':
		case 'leaseUntil':
			return nullableNumber(text);
		case 'owner':
			return text === '' ? null : text;
		case 'stopRequested':
			return text === '1';
		case 'id':
		case 'status':
			return text;
		default:
			return Number(text);
	}
}

/** Each field's position in `RECORD_FIELDS` (the values `decodeRecord` reads), looked up once. */
const AT = Object.fromEntries(RECORD_FIELDS.map((field, i) => [field, i])) as Record<StoredField, number>;

/** A record from the values of `RECORD_FIELDS`, in order (what the scripts and `get` return). */
export function decodeRecord(values: readonly (string | null)[]): TaskRecord {
	const status = values[AT.status];
	if (!isTaskStatus(status))
		throw new ContainerError(`Stored task \`${String(values[AT.id])}\` has an unknown status ${String(status)}`);
	const owner = values[AT.owner];
	const record: TaskRecord = {
		id: values[AT.id] ?? '',
		item: parseJson(values[AT.item]),
		priority: Number(values[AT.priority] ?? 0),
		status,
		attempts: Number(values[AT.attempts] ?? 0),
		maxAttempts: Number(values[AT.maxAttempts] ?? 1),
		timeoutMs: nullableNumber(values[AT.timeoutMs]),
		seq: Number(values[AT.seq] ?? 0),
		createdAt: Number(values[AT.createdAt] ?? 0),
		updatedAt: Number(values[AT.updatedAt] ?? 0),
		startedAt: nullableNumber(values[AT.startedAt]),
		finishedAt: nullableNumber(values[AT.finishedAt]),
		runAt: Number(values[AT.runAt] ?? 0),
		error: parseJson(values[AT.error]) as TaskRecord['error'],
		output: parseJson(values[AT.output]),
		progress: parseJson(values[AT.progress]),
		ref: parseJson(values[AT.ref]),
		owner: owner === undefined || owner === null || owner === '' ? null : owner,
		leaseUntil: nullableNumber(values[AT.leaseUntil]),
		stopRequested: values[AT.stopRequested] === '1',
		key: (parseJson(values[AT.key]) as string | null) ?? null,
		trace: (parseJson(values[AT.trace]) as string | null) ?? null,
		group: (parseJson(values[AT.group]) as string | null) ?? null,
		retention: (parseJson(values[AT.retention]) as TaskRecord['retention']) ?? null,
	};
	return record;
}
