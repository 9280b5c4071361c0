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

// `key` and `trace` too: free strings, and JSON escapes U+001F, which a claimed task's packed string uses between
// fields. `retention` is an object or `null` (the scripts decode it to index a finished task's expiry).
const JSON_FIELDS: ReadonlySet<string> = new Set<string>([
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

/** Whether `field` is stored as JSON. */
export function isJsonField(field: string): boolean {
	return JSON_FIELDS.has(field);
}

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

/**
 * The hash field `add` writes beside the task's own fields: a packed copy of the fields a claim reads that only the
 * add sets (PACKED_FIELDS' stored values joined by U+001F, a JSON field's `null` as '', then seq), so that a task's
 * first claim, while nothing has written its hash since the add (`v` still 0, `attempts` 0, no `lastTransition`),
 * reads five fields (those three, this one, `item`) instead of nineteen: each field read becomes a Lua string, the
 * dearest part of a claim. Written only while at most PACKED_LIMIT bytes long (Redis's default
 * `hash-max-listpack-value`: a longer value would turn the hash out of its compact form); without it (a long one, or
 * a task an older process added), or once the task was written, the claim reads the nineteen fields. A 0.1.0
 * process writes neither `v` nor the copy: its claim counts an attempt and its transitions (a retry, a hand-back)
 * set `lastTransition`, which is why those two are read too. The claim that reads it empties it (of no more use
 * once the task is written), so only a task waiting for its first claim pays its memory. The fields themselves are
 * written as before, for every other reader and older processes. A version that changes the layout must use another
 * field name.
 */
export const PACKED_FIELD = 'pk';
export const PACKED_LIMIT = 64;
/** The fields of PACKED_FIELD, in order (then seq, which the add script sets). */
export const PACKED_FIELDS = [
	'maxAttempts',
	'timeoutMs',
	'createdAt',
	'runAt',
	'priority',
	'finishedAt',
	'stopRequested',
	'error',
	'output',
	'progress',
	'ref',
	'key',
	'trace',
	'group',
	'retention',
] as const satisfies readonly (typeof ADD_FIELDS)[number][];

/**
 * A claim from PACKED_FIELD comes back as U+001E then U+001F, the packed value, then these fields' values (item as
 * stored, attempts and leaseUntil and startedAt as the claim wrote them), then the owner and the id; its status is
 * `running`, its updatedAt its startedAt and its version 1 (the claim's write over the add's 0).
 */
const ADDED_POSITIONS = [...PACKED_FIELDS, 'seq', 'item', 'attempts', 'leaseUntil', 'startedAt'].map((field) =>
	RECORD_FIELDS.indexOf(field as StoredField),
);
const ADDED_MARK = 0x1e;
/** The positions (RECORD_FIELDS) where a PACKED_FIELD value '' stands for the stored JSON `null`. */
const NULL_AS_EMPTY = new Set<number>(
	PACKED_FIELDS.filter((field) => isJsonField(field)).map((field) => RECORD_FIELDS.indexOf(field)),
);
const STATUS_AT = RECORD_FIELDS.indexOf('status');
const UPDATED_AT = RECORD_FIELDS.indexOf('updatedAt');
const STARTED_AT = RECORD_FIELDS.indexOf('startedAt');
const VERSION_AT = RECORD_FIELDS.indexOf('v');

/** The stored values (RECORD_FIELDS order) of a claimed task from its packed string (either form). */
export function unpackClaimed(text: string, owner: string): (string | null)[] {
	const values: (string | null)[] = new Array<string | null>(RECORD_FIELDS.length);
	const added = text.charCodeAt(0) === ADDED_MARK;
	let at = added ? 2 : 0;
	for (const position of added ? ADDED_POSITIONS : CLAIMED_POSITIONS) {
		const end = text.indexOf(UNIT, at);
		if (end < 0) break;
		const value = text.slice(at, end);
		values[position] = added && value === '' && NULL_AS_EMPTY.has(position) ? 'null' : value;
		at = end + 1;
	}
	if (!text.startsWith(owner, at) || text.charAt(at + owner.length) !== UNIT) {
		throw new ContainerError(
			`A claimed task came back malformed (expected its owner \`${owner}\`): ${JSON.stringify(text.slice(0, 200))}`,
		);
	}
	values[OWNER_AT] = owner;
	values[ID_AT] = text.slice(at + owner.length + 1);
	if (added) {
		values[STATUS_AT] = 'running';
		values[UPDATED_AT] = values[STARTED_AT] ?? null;
		values[VERSION_AT] = '1';
	}
	return values;
}
/** Where the owner starts in a packed claimed task (after its fields), or -1 when it has too few fields. */
export function claimedOwnerAt(text: string): number {
	const added = text.charCodeAt(0) === ADDED_MARK;
	let at = added ? 2 : 0;
	const count = added ? ADDED_POSITIONS.length : CLAIMED_POSITIONS.length;
	for (let i = 0; i < count; i++) {
		const end = text.indexOf(UNIT, at);
		if (end < 0) return -1;
		at = end + 1;
	}
	return at;
}

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

/**
 * A field's stored value for none (`null`, or `false` for `stopRequested`), as `encodeField` writes it. A field
 * missing from a hash reads as this value (see `decodeRecord`): an add leaves such fields out (add-script.ts).
 */
export function storedNone(field: string): string {
	if (JSON_FIELDS.has(field)) return 'null';
	return field === 'stopRequested' ? '0' : '';
}

/** The values of `ADD_FIELDS` for one record. */
export function encodeForAdd(task: TaskRecord): string[] {
	return encodeAllForAdd([task]);
}

/** The values of `ADD_FIELDS` for each record in turn, appended to `args` (a new array by default). */
export function encodeAllForAdd(tasks: readonly TaskRecord[], args: string[] = []): string[] {
	for (const task of tasks) for (const field of ADD_FIELDS) args.push(encodeField(field, task[field], task.id));
	return args;
}

/**
 * The lists' items in one array, in order: what `lists.flat()` gives, without its cost (V8's `flat` and `flatMap`
 * take microseconds a list, a loop tens of nanoseconds: it showed in a script call's arguments built of many).
 */
export function flatten(lists: readonly (readonly string[])[]): string[] {
	const all: string[] = [];
	for (const list of lists) for (let i = 0; i < list.length; i++) all.push(list[i] as string);
	return all;
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
