/**
 * Every container stores every field of a task record, as declared once in `src/task-fields.ts`. A record with
 * every field set to a distinctive, non-default value is added, claimed, patched (every patchable field, twice),
 * asked to stop, renewed, finished and reclaimed, and read back through each method's result, `get` and `list`;
 * each read is compared field by field with what was written. A field a backend's encoding forgets (the Redis
 * codec, the SQL rows and schema, `StoredTask`, `copyTask`) fails here with the backend's and the field's name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	copyTask,
	createTaskRecord,
	type TaskContainer,
	type TaskPatch,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched/kit';
import { PATCH_FIELD_NAMES, TASK_FIELD_NAMES, TASK_FIELDS } from '../../src/task-fields.js';
import { recordDiffs } from '../model/record-diff.js';
import { SETUP_NAMES, startSetups, type Setups } from '../model/setups.js';

/** A record with every field set to a value no container would make up by itself. */
function fullRecord(id: string, t: number): TaskRecord {
	return {
		id,
		item: { name: 'item', list: [1, 'two', true, null], nested: { x: 1.5 } },
		priority: 7,
		status: 'waiting',
		attempts: 2,
		maxAttempts: 9,
		timeoutMs: 4_321,
		seq: 0,
		createdAt: t - 1_000,
		updatedAt: t - 900,
		startedAt: t - 800,
		finishedAt: t - 700,
		runAt: t - 600,
		error: { message: 'an earlier failure', code: 'E_EARLIER' },
		output: { earlier: ['output'] },
		progress: { pct: 42 },
		ref: { job: 'job-1', host: 'h1' },
		owner: 'earlier-owner',
		leaseUntil: t - 500,
		stopRequested: true,
		key: `key-of-${id}`,
		trace: `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 vendor=${id}`,
		group: `customer-of-${id}`,
		retention: { succeeded: 86_400_000, failed: 0, stopped: 1_234 },
	};
}

/** A patch that sets every patchable field to a value differing from `fullRecord`'s and from each other's. */
function fullPatch(n: number, t: number): Required<TaskPatch> & { owner: string } {
	return {
		attempts: 4 + n,
		startedAt: t + 10 * n + 1,
		finishedAt: t + 10 * n + 2,
		runAt: t + 10 * n + 3,
		error: { message: `failure ${n}`, code: `E_${n}` },
		output: n === 1 ? { out: [n, `x${n}`] } : `output ${n}`,
		progress: n === 1 ? [n, n + 1] : { step: n },
		ref: n === 1 ? `ref-${n}` : { job: `job-${n}` },
		owner: `owner-${n}`,
		leaseUntil: t + 100_000 + n,
		stopRequested: n % 2 === 1,
	};
}

const after = (rec: TaskRecord, to: TaskStatus, patch: TaskPatch): TaskRecord => ({ ...rec, ...patch, status: to });

describe('the declaration of the record fields', () => {
	it('lists every field of a new record, in the order of the interface', () => {
		const rec = createTaskRecord({ id: 'a', item: 1 }, 'task', { maxAttempts: 3 }, 1_000);
		expect(Object.keys(rec)).toEqual(TASK_FIELD_NAMES);
		expect(Object.keys(copyTask(rec))).toEqual(TASK_FIELD_NAMES);
	});

	it('patchable fields are exactly those a transition patch may set', () => {
		expect(PATCH_FIELD_NAMES).toEqual([
			'attempts',
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
		]);
		expect(TASK_FIELDS.map((f) => `${f.name}:${f.kind}`)).toContain('timeoutMs:nullable-number');
	});

	it('copyTask copies every declared field, and nothing else', () => {
		const rec = fullRecord('copy', 1_000_000);
		const copy = copyTask(rec);
		expect(copy).not.toBe(rec);
		expect(recordDiffs('copyTask', copy, rec, new Set())).toEqual([]);
		expect(Object.keys(copy)).toEqual(TASK_FIELD_NAMES);
		// A record that is not a plain object (or carries an extra property) still copies to exactly the fields.
		const extra = Object.assign(Object.create({ inherited: 1 }) as object, rec, { extra: 'x' }) as TaskRecord;
		expect(Object.keys(copyTask(extra))).toEqual(TASK_FIELD_NAMES);
	});

	it('recordDiffs names a missing, mistyped or different field', () => {
		const rec = fullRecord('diff', 1_000_000);
		const { ref: _ref, ...missing } = rec;
		expect(recordDiffs('x', missing as TaskRecord, rec)).toEqual(['x: field `ref` is missing']);
		expect(recordDiffs('x', { ...rec, timeoutMs: '5' as never }, rec)).toEqual([
			'x: field `timeoutMs` should be nullable-number, got "5"',
		]);
		expect(recordDiffs('x', { ...rec, progress: { pct: 41 } }, rec)).toEqual([
			'x: field `progress` expected {"pct":42}, got {"pct":41}',
		]);
		expect(recordDiffs('x', { ...rec, more: 1 } as TaskRecord, rec)).toEqual(['x: undeclared field `more`']);
	});
});

let setups: Setups;
beforeAll(async () => {
	setups = await startSetups();
});
afterAll(() => setups?.stop());

describe.each(SETUP_NAMES.map((name) => [name]))('%s stores every declared field', (name) => {
	const open = async (): Promise<TaskContainer> => {
		const setup = setups.all.find((s) => s.name === name);
		if (setup === undefined) throw new Error(`no set-up ${name}`);
		return setup.make();
	};

	it('through add, get, list, claim, transitions (every patchable field), requestStop and renew', async () => {
		const c = await open();
		const diffs: string[] = [];
		const check = async (
			where: string,
			actual: TaskRecord | null | undefined,
			expected: TaskRecord,
		): Promise<void> => {
			diffs.push(...recordDiffs(`${name} ${where}`, actual, expected));
			diffs.push(...recordDiffs(`${name} get after ${where}`, await c.get(expected.id), expected));
			const listed = (await c.list({ limit: 1000 })).tasks.find((task) => task.id === expected.id);
			diffs.push(...recordDiffs(`${name} list after ${where}`, listed, expected));
		};
		try {
			const t = Date.now();
			const added = fullRecord('full', t);
			await c.add([{ ...added }]);
			const got = await c.get('full');
			const seq = got?.seq ?? -1;
			expect(seq).toBeGreaterThan(0);
			let expected: TaskRecord = { ...added, seq };
			await check('add', got, expected);

			const [claimed] = await c.claim(1, 'claimer', 20_000, t);
			expected = {
				...expected,
				status: 'running',
				owner: 'claimer',
				leaseUntil: t + 20_000,
				startedAt: t,
				attempts: added.attempts + 1,
			};
			await check('claim', claimed, expected);

			const first = fullPatch(1, t);
			const moved = await c.transition('full', 'running', 'running', { ...first }, 'claimer');
			expected = after(expected, 'running', first);
			await check('transition running→running', moved, expected);

			const stop = await c.requestStop('full');
			expected = { ...expected, stopRequested: true };
			await check('requestStop', stop, expected);

			const renewed = await c.renew(first.owner, ['full'], 30_000, t + 20);
			expect(renewed.lost).toEqual([]);
			expect(renewed.stopRequested).toEqual(['full']);
			expected = { ...expected, leaseUntil: t + 20 + 30_000 };
			await check('renew', await c.get('full'), expected);

			const second = fullPatch(2, t);
			const exporting = await c.transition('full', 'running', 'exporting', { ...second }, first.owner);
			expected = after(expected, 'exporting', second);
			await check('transition running→exporting', exporting, expected);

			const third = fullPatch(3, t);
			const done = await c.transition('full', 'exporting', 'succeeded', { ...third }, second.owner);
			expected = after(expected, 'succeeded', third);
			await check('transition exporting→succeeded', done, expected);
		} finally {
			await c.close();
		}
		expect(diffs).toEqual([]);
	});

	it('through reclaimExpired, keeping output, ref, progress and startedAt', async () => {
		const c = await open();
		const diffs: string[] = [];
		try {
			const t = Date.now();
			const added = { ...fullRecord('lease', t), stopRequested: false };
			await c.add([{ ...added }]);
			const [claimed] = await c.claim(1, 'claimer', 1_000, t);
			const patch: TaskPatch = { progress: { pct: 7 }, ref: ['r', 7], output: { partial: true } };
			await c.transition('lease', 'running', 'running', patch, 'claimer');
			const [moved] = await c.reclaimExpired(t + 5_000);
			const expected: TaskRecord = {
				...added,
				...patch,
				seq: claimed?.seq ?? -1,
				status: 'waiting',
				attempts: added.attempts + 1,
				startedAt: t,
				runAt: t + 5_000,
				owner: null,
				leaseUntil: null,
			};
			diffs.push(...recordDiffs(`${name} reclaimExpired`, moved, expected));
			diffs.push(...recordDiffs(`${name} get after reclaimExpired`, await c.get('lease'), expected));
		} finally {
			await c.close();
		}
		expect(diffs).toEqual([]);
	});
});
