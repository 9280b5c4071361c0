/**
 * A store's copy of a record that reuses the parts of its previous copy the new record did not change. The engine
 * writes a run once a step (copy-on-write: one or two steps changed, the rest as they were), and a deep copy of the
 * whole run per write is most of what an in-memory step allocates; the allocation that outlives the write is what
 * the garbage collector pays for. A part reused is the store's own copy, which it never hands out (its reads copy),
 * so sharing it between two of its records is safe; a part is reused only when equal as JSON data to the new one.
 */
import type { RunRecord, StepState } from '../src/workflow-store.js';
import { cloneJson } from './advance.js';

/** A plain object or `null`-prototype object, as `cloneJson` copies by hand. */
function isPlain(value: object): boolean {
	const proto = Object.getPrototypeOf(value) as unknown;
	return proto === Object.prototype || proto === null;
}

/**
 * Whether two values are equal as JSON data: primitives by `Object.is` (so `-0` is not `0`), arrays item by item,
 * plain objects key by key (the same own keys, in any order). Anything else (a Date, a Map) is never equal: it is
 * copied. Allocates nothing.
 */
export function equalJson(a: unknown, b: unknown): boolean {
	if (Object.is(a, b)) return true;
	if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
	if (Array.isArray(a)) {
		if (!Array.isArray(b) || a.length !== b.length) return false;
		for (let i = 0; i < a.length; i++) if (!equalJson(a[i], b[i])) return false;
		return true;
	}
	if (Array.isArray(b) || !isPlain(a) || !isPlain(b)) return false;
	const left = a as Record<string, unknown>;
	const right = b as Record<string, unknown>;
	let keys = 0;
	for (const key in left) {
		if (!Object.prototype.hasOwnProperty.call(right, key) || !equalJson(left[key], right[key])) return false;
		keys++;
	}
	for (const _key in right) if (--keys < 0) return false;
	return keys === 0;
}

/** `kept` (the store's own copy) when equal to `value`, else a deep copy of `value`. */
function reuseOrCopy<T>(value: T, kept: unknown): T {
	if (typeof value !== 'object' || value === null) return value;
	return kept !== undefined && equalJson(value, kept) ? (kept as T) : cloneJson(value);
}

/** Set `key` as an own property (a key `__proto__` would set the prototype when assigned). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
	if (key !== '__proto__') target[key] = value;
	else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The own property `key` of `of`, or `undefined` (never an inherited one: `__proto__` is a valid step id). */
function own(of: object, key: string): unknown {
	return Object.prototype.hasOwnProperty.call(of, key) ? (of as Record<string, unknown>)[key] : undefined;
}

/**
 * A deep copy of `run` for a store to keep, sharing with `kept` (that store's copy of the run's previous record,
 * which no one changes) each step, and each other field, that equals `kept`'s: the top level and the steps map are
 * always new. Equal to `cloneJson(run)` as JSON data.
 */
export function copyRunReusing(run: RunRecord, kept: RunRecord | undefined): RunRecord {
	const copy: Record<string, unknown> = {};
	const keptFields = kept as unknown as Record<string, unknown> | undefined;
	for (const key in run) {
		const value = (run as unknown as Record<string, unknown>)[key];
		if (key !== 'steps' || typeof value !== 'object' || value === null || Array.isArray(value) || !isPlain(value))
			setOwn(copy, key, reuseOrCopy(value, keptFields === undefined ? undefined : own(keptFields, key)));
		else {
			const steps: Record<string, StepState> = {};
			const keptSteps = kept?.steps;
			for (const stepId in value) {
				const step = (value as Record<string, StepState>)[stepId];
				setOwn(steps, stepId, reuseOrCopy(step, keptSteps === undefined ? undefined : own(keptSteps, stepId)));
			}
			copy[key] = steps;
		}
	}
	return copy as unknown as RunRecord;
}
