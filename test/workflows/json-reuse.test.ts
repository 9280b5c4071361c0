/**
 * The memory store's copy of a run written reuses its previous copy's parts the write left equal (json-reuse.ts):
 * equal as JSON data only, and the copy is equal to a deep copy.
 */
import { describe, expect, it } from 'vitest';
import { copyRunReusing, equalJson } from '../../workflows/json-reuse.js';
import { cloneJson } from '../../workflows/advance.js';
import { seal } from '../../workflows/sealed.js';
import { sampleRun } from './store.contract.js';

describe('equalJson', () => {
	it('compares JSON data: primitives by Object.is, arrays by item, objects by own keys in any order', () => {
		expect(equalJson({ a: [1, { b: 'x' }], c: null }, { c: null, a: [1, { b: 'x' }] })).toBe(true);
		expect(equalJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
		expect(equalJson({ a: 1, b: undefined }, { a: 1 })).toBe(false);
		expect(equalJson([1, 2], [1, 2, 3])).toBe(false);
		expect(equalJson([], {})).toBe(false);
		expect(equalJson(0, -0)).toBe(false);
		expect(equalJson(NaN, NaN)).toBe(true);
		expect(equalJson(null, {})).toBe(false);
		expect(equalJson(new Date(1), new Date(1))).toBe(false);
	});
});

describe('copyRunReusing', () => {
	it('shares the steps and fields equal to the kept copy, copies the others, and equals a deep copy', () => {
		const kept = cloneJson(
			sampleRun({
				shared: { n: 1 },
				steps: { a: sampleRun().steps.a!, b: { ...sampleRun().steps.a!, output: { list: [1] } } },
			}),
		);
		const next = cloneJson(kept);
		next.steps.a!.status = 'succeeded';
		next.shared = { n: 2 };
		const copy = copyRunReusing(next, kept);
		expect(copy).toEqual(next);
		expect(copy.steps.b).toBe(kept.steps.b);
		expect(copy.vars).toBe(kept.vars);
		expect(copy.steps.a).not.toBe(kept.steps.a);
		expect(copy.steps.a).not.toBe(next.steps.a);
		expect(copy.shared).not.toBe(next.shared);
		expect(copy.steps).not.toBe(kept.steps);
	});

	it('keeps what the engine sealed as it is, and copies the rest (a run created: no kept copy)', () => {
		const run = sampleRun({
			vars: seal({ a: 1 }),
			steps: { a: seal(sampleRun().steps.a!), b: sampleRun().steps.a! },
		});
		const copy = copyRunReusing(run, undefined);
		expect(copy).toEqual(run);
		expect(copy.vars).toBe(run.vars);
		expect(copy.steps.a).toBe(run.steps.a);
		expect(copy.steps.b).not.toBe(run.steps.b);
		expect(copy.steps).not.toBe(run.steps);
		expect(copy).not.toBe(run);
	});

	it('keeps a step named __proto__ as an own step, never the prototype', () => {
		const step = sampleRun().steps.a!;
		const steps = JSON.parse(`{"__proto__": ${JSON.stringify(step)}}`) as RunSteps;
		const kept = cloneJson(sampleRun({ steps }));
		const copy = copyRunReusing(cloneJson(kept), kept);
		expect(Object.getPrototypeOf(copy.steps)).toBe(Object.prototype);
		expect(Object.keys(copy.steps)).toEqual(['__proto__']);
		expect(copy.steps['__proto__']).toBe(kept.steps['__proto__']);
		// A kept copy without that step: nothing inherited is taken for it.
		const other = cloneJson(sampleRun({ steps: {} }));
		const fresh = copyRunReusing(cloneJson(kept), other);
		expect(fresh.steps['__proto__']).toEqual(step);
		expect(Object.getPrototypeOf(fresh.steps)).toBe(Object.prototype);
	});
});

type RunSteps = ReturnType<typeof sampleRun>['steps'];
