/**
 * record-copy.ts copies a run's top level and a step by an object literal when the record holds exactly its
 * type's fields in order, and by spread otherwise; sealed.ts marks a record with a private field. Either way the
 * copy holds what the record held, and only the record itself is sealed.
 */
import { describe, expect, it } from 'vitest';
import type { RunRecord, StepState } from '../../src/workflow-store.js';
import { newStepState } from '../../workflows/advance.js';
import { cloneJson, copyRun, runTop, stepTop } from '../../workflows/record-copy.js';
import { isSealed, seal } from '../../workflows/sealed.js';

function run(): RunRecord {
	return {
		id: 'r1',
		definition: 'd',
		version: 1,
		vars: { a: 1 },
		key: null,
		uniqueKey: false,
		status: 'running',
		shared: {},
		steps: { s: newStepState() },
		createdAt: 1,
		updatedAt: 2,
		finishedAt: null,
		deadlineAt: null,
		error: null,
		open: true,
		notified: null,
		rev: 3,
	};
}

describe('runTop and stepTop', () => {
	it('copy a record of the usual fields: equal, a new top level, the values shared', () => {
		const record = run();
		const copy = runTop(record);
		expect(copy).not.toBe(record);
		expect(copy).toEqual(record);
		expect(Object.keys(copy)).toEqual(Object.keys(record));
		expect(copy.vars).toBe(record.vars);
		expect(copy.steps).toBe(record.steps);
		const step = record.steps['s'] as StepState;
		const stepCopy = stepTop(step);
		expect(stepCopy).not.toBe(step);
		expect(stepCopy).toEqual(step);
		expect(Object.keys(stepCopy)).toEqual(Object.keys(step));
		expect(stepCopy.trace).toBe(step.trace);
	});

	it('keep a field they do not know, and any order, and a missing field stays missing', () => {
		const extra = { ...run(), extra: { b: 2 } } as RunRecord;
		expect(runTop(extra)).toEqual(extra);
		expect((runTop(extra) as unknown as { extra: unknown }).extra).toBe(
			(extra as unknown as { extra: unknown }).extra,
		);
		const { id, ...rest } = run();
		const reordered = { ...rest, id } as RunRecord;
		expect(Object.keys(runTop(reordered))).toEqual(Object.keys(reordered));
		const { rev: _rev, ...missing } = run();
		expect('rev' in runTop(missing as RunRecord)).toBe(false);
		const step = { ...newStepState(), extra: 1 } as StepState;
		expect(stepTop(step)).toEqual(step);
		const { handBack: _handBack, ...shortStep } = newStepState();
		expect('handBack' in stepTop(shortStep as StepState)).toBe(false);
	});
});

describe('copyRun', () => {
	it('makes what cloneJson makes: equal, same keys in the same order, nothing shared', () => {
		const record = run();
		const step = record.steps['s'] as StepState;
		step.output = { list: [1, { deep: true }] };
		step.trace = ['a'];
		step.error = { message: 'm', code: 'ERR_X' } as StepState['error'];
		Object.defineProperty(record.steps, '__proto__', {
			value: newStepState(),
			enumerable: true,
			writable: true,
			configurable: true,
		});
		const copy = copyRun(record);
		expect(copy).toEqual(cloneJson(record));
		expect(JSON.stringify(copy)).toBe(JSON.stringify(record));
		expect(Object.keys(copy)).toEqual(Object.keys(record));
		expect(Object.keys(copy.steps)).toEqual(['s', '__proto__']);
		expect(Object.getPrototypeOf(copy.steps)).toBe(Object.prototype);
		expect(copy.vars).not.toBe(record.vars);
		expect(copy.steps['s']).not.toBe(step);
		expect(copy.steps['s']?.output).not.toBe(step.output);
		expect(copy.steps['s']?.trace).not.toBe(step.trace);
		expect(copy.steps['s']?.error).not.toBe(step.error);
	});

	it('copies a record of other fields or order as cloneJson does', () => {
		const extra = { ...run(), extra: { b: [2] } } as RunRecord;
		expect(copyRun(extra)).toEqual(extra);
		expect((copyRun(extra) as unknown as { extra: unknown }).extra).not.toBe(
			(extra as unknown as { extra: unknown }).extra,
		);
		const { id, ...rest } = run();
		const reordered = { ...rest, id } as RunRecord;
		expect(Object.keys(copyRun(reordered))).toEqual(Object.keys(reordered));
		const odd = run();
		odd.steps['s'] = { ...newStepState(), extra: 1 } as StepState;
		expect(copyRun(odd)).toEqual(odd);
	});
});

describe('seal', () => {
	it('marks the record only (not a copy of it), twice is fine, and the mark is not a field', () => {
		const record = run();
		expect(isSealed(record)).toBe(false);
		expect(seal(record)).toBe(record);
		expect(seal(record)).toBe(record);
		expect(isSealed(record)).toBe(true);
		expect(isSealed(runTop(record))).toBe(false);
		expect(isSealed({ ...record })).toBe(false);
		expect(isSealed(structuredClone(record))).toBe(false);
		expect(Object.keys(record)).toEqual(Object.keys(run()));
		expect(JSON.stringify(record)).toBe(JSON.stringify(run()));
		expect(isSealed(null)).toBe(false);
		expect(isSealed('r1')).toBe(false);
	});
});
