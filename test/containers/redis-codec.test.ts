/**
 * The Redis container's stored form (containers/redis/codec.ts): a record read back field by field decodes
 * exactly as the whole record does, and a transition batch travels as JSON that Redis's cjson accepts.
 */
import { describe, expect, it } from 'vitest';
import {
	ADD_FIELDS,
	decodeField,
	decodeRecord,
	encodeAllForAdd,
	encodeBatch,
	encodeField,
	encodeForAdd,
	flatten,
	RECORD_FIELDS,
} from '../../containers/redis/codec.js';

const stored: Record<(typeof RECORD_FIELDS)[number], string> = {
	id: 'job-1',
	item: '{"url":"a.mp4","cut":[1,2]}',
	priority: '-3',
	attempts: '2',
	maxAttempts: '5',
	timeoutMs: '',
	createdAt: '1764633600000',
	updatedAt: '1764633600500',
	startedAt: '1764633600100',
	finishedAt: '',
	runAt: '1764633600000',
	error: '{"message":"boom","code":"E_X"}',
	output: 'null',
	progress: '{"pct":50}',
	ref: '"container-7"',
	owner: 'scheduler-a',
	leaseUntil: '1764633610000',
	stopRequested: '1',
	key: '"customer-9\\u001fx"',
	trace: '"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 vendor=t61rcWkgMzE"',
	group: '"customer-9"',
	retention: '{"succeeded":0,"failed":60000}',
	status: 'running',
	seq: '42',
	v: '3',
};

describe('Redis codec', () => {
	it('decodes each field alone as decodeRecord decodes it in the whole record', () => {
		const record = decodeRecord(RECORD_FIELDS.map((field) => stored[field])) as unknown as Record<string, unknown>;
		for (const field of RECORD_FIELDS) {
			if (field === 'v') continue; // not a record field
			expect({ field, value: decodeField(field, stored[field]) }).toEqual({ field, value: record[field] });
		}
		// And the empty stored values (nulls, an owner-less task) too.
		expect(decodeField('owner', '')).toBeNull();
		expect(decodeField('leaseUntil', '')).toBeNull();
		expect(decodeField('output', '')).toBeNull();
		expect(decodeField('stopRequested', '0')).toBe(false);
	});

	it('tells a stored JSON null from the JSON string "null" (the decoder skips the parser for the first)', () => {
		const values = RECORD_FIELDS.map((field) =>
			field === 'item' ? '"null"' : field === 'output' ? 'null' : field === 'key' ? '"null"' : stored[field],
		);
		const record = decodeRecord(values);
		expect(record.item).toBe('null');
		expect(record.output).toBeNull();
		expect(record.key).toBe('null');
		expect(decodeRecord(RECORD_FIELDS.map((field) => (field === 'item' ? 'null' : stored[field]))).item).toBeNull();
	});

	it('round-trips an encoded value through decodeField', () => {
		const values: [string, unknown][] = [
			['output', { a: [1, 'two', null], b: 'quote " and \\ backslash' }],
			['error', { message: 'failed', code: 'E' }],
			['finishedAt', 1764633600999],
			['finishedAt', null],
			['owner', null],
			['priority', -7],
			['stopRequested', true],
			['retention', { stopped: 5 }],
			['retention', null],
		];
		for (const [field, value] of values) expect(decodeField(field, encodeField(field, value, 'id'))).toEqual(value);
	});

	it('encodes a batch as plain JSON, replacing lone surrogates the way UTF-8 on the wire does', () => {
		expect(JSON.parse(encodeBatch(['1', 'p', ['a"b', 'c\\ud800d']]))).toEqual(['1', 'p', ['a"b', 'c\\ud800d']]);
		const lone = encodeBatch(['1', 'p', ['x\ud800', '\udc00y', 'ok😀']]);
		expect(lone).not.toContain('\\ud');
		expect(JSON.parse(lone)).toEqual(['1', 'p', ['x\ufffd', '\ufffdy', 'ok😀']]);
	});
	it('encodes several records for an add as one argument list, the fields of each record in ADD_FIELDS order', () => {
		const one = decodeRecord(RECORD_FIELDS.map((field) => stored[field]));
		const two = { ...one, id: 'job-2', item: { other: true }, key: null, priority: 7 };
		const args = encodeAllForAdd([one, two], ['now', 'token']);
		expect(args).toEqual(['now', 'token', ...encodeForAdd(one), ...encodeForAdd(two)]);
		expect(args).toHaveLength(2 + 2 * ADD_FIELDS.length);
		expect(args[2 + ADD_FIELDS.length]).toBe('job-2');
		expect(encodeAllForAdd([])).toEqual([]);
	});

	it('flattens a batch of argument lists in order', () => {
		expect(flatten([['a', 'b'], [], ['c']])).toEqual(['a', 'b', 'c']);
		expect(flatten([])).toEqual([]);
	});
});
