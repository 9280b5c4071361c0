/**
 * The memory store keeps the engine's sealed records as they are (sealed.ts); its copy of any other run written reuses its previous copy's parts the write left equal (json-reuse.ts):
 * equal as JSON data only, and the copy is equal to a deep copy.
 */
import { describe, expect, it } from 'vitest';
import { copyRunReusing, equalJson } from '../../workflows/json-reuse.js';
import { cloneJson } from '../../workflows/advance.js';
import { sampleRun } from './store.contract.js';
import { MemoryWorkflowStore, type RunRecord } from 'lightsched/workflows';
import { seal } from '../../workflows/sealed.js';

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

	it('copies everything for a run created (no kept copy)', () => {
		const run = sampleRun({ vars: { a: 1 } });
		const copy = copyRunReusing(run, undefined);
		expect(copy).toEqual(run);
		expect(copy.vars).not.toBe(run.vars);
		expect(copy.steps.a).not.toBe(run.steps.a);
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

describe('MemoryWorkflowStore and sealed records', () => {
	it('keeps a sealed record as it is (its top level copied for the rev), and copies one not sealed', async () => {
		const store = new MemoryWorkflowStore();
		const run = sampleRun();
		await store.create(seal(run));
		const next = seal({ ...run, status: 'succeeded' as const });
		const written = (await store.update(next)) as RunRecord;
		expect(written.rev).toBe(1);
		expect(written.steps).toBe(next.steps);
		expect(next.rev).toBe(0);
		const plain = { ...written, steps: { a: { ...written.steps.a!, attempts: 2 } } };
		const again = (await store.update(plain)) as RunRecord;
		plain.steps.a.attempts = 9;
		expect((await store.get(run.id))?.steps.a?.attempts).toBe(2);
		expect(again.rev).toBe(2);
		await store.close();
	});
});
