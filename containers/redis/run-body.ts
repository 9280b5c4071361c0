/**
 * A run's stored body on Redis: the record as JSON with each step's fields at their defaults (a fresh step's, see
 * `newStepState`) left out, and filled back when read. A 10-step chain's body is about a third of the whole record
 * (2.2 KB), and it is serialised, sent and stored at every step end: `JSON.stringify`, the socket write and the
 * server's copy of the body all scale with it. Bodies stored whole (by an earlier version) read the same: a field
 * present is kept as it is.
 */
import type { RunRecord, StepState } from '../../src/workflow-store.js';

/** A step field's default, `trace` (a fresh empty array each) aside; a field at its default is not stored. */
const DEFAULTS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
	['status', 'waiting'],
	['generation', 0],
	['attempts', 0],
	['output', null],
	['error', null],
	['checkpoint', null],
	['startedAt', null],
	['finishedAt', null],
	['continued', false],
	['handBack', false],
]);

/** Set `key` as an own property (a step id `__proto__` would set the prototype when assigned). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
	if (key !== '__proto__') target[key] = value;
	else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `step` without its fields at their defaults (every other field kept, a future one too). */
function compactStep(step: StepState): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const key in step) {
		const value = (step as unknown as Record<string, unknown>)[key];
		if (key === 'trace' ? Array.isArray(value) && value.length === 0 : DEFAULTS.get(key) === value) continue;
		setOwn(out, key, value);
	}
	return out;
}

/** The body stored for `run` (its `rev` is stored beside it, and left out here). */
export function encodeRunBody(run: RunRecord): string {
	const steps: Record<string, unknown> = {};
	for (const stepId in run.steps) setOwn(steps, stepId, compactStep(run.steps[stepId] as StepState));
	return JSON.stringify({ ...run, steps, rev: undefined });
}

/** The run a stored body holds (compact or whole), with `rev`. */
export function decodeRunBody(body: string, rev: number): RunRecord {
	const run = JSON.parse(body) as RunRecord;
	for (const stepId in run.steps) {
		const step = run.steps[stepId] as unknown as Record<string, unknown>;
		for (const [key, value] of DEFAULTS) if (!(key in step)) step[key] = value;
		if (!('trace' in step)) step.trace = [];
	}
	run.rev = rev;
	return run;
}
