/**
 * A run's stored body, for the stores that keep a run as one JSON text (SQL; Redis, in its run hash's `body`). A
 * body is serialised, sent, stored (and on Redis appended to the AOF) at every step end, so its size is much of what
 * a step costs a durable server: the run's fields at a new run's values are left out, its times are stored after its
 * creation, and each step is stored as a short array, not an object with its field names. A 10-step chain's finished
 * run is about 380 bytes (1.4 KB with each step an object, 2.2 KB whole).
 *
 * A step's array: [status code, generation, attempts, startedAt, finishedAt, output, error, checkpoint, trace,
 * continued, handBack], its times as milliseconds after the run's `createdAt`, the entries from the end that are at
 * a fresh step's values (`newStepState`) left out: a finished no-op step is `[2,1,1,3,4]` (about 20 bytes against
 * about 100 as an object). Bodies stored before (without the format mark: each step an object, whole or with its
 * default fields left out) read the same.
 */
import type { RunRecord, StepState, StepStatus } from '../src/workflow-store.js';
import { newStepState } from './advance.js';
import { setOwn } from './json-reuse.js';

/**
 * The code of each step status in a stored body: stored data, so a code never changes meaning; a new status gets a
 * new code at the end.
 */
export const STEP_STATUS_CODES: readonly StepStatus[] = [
	'waiting',
	'running',
	'succeeded',
	'failed',
	'skipped',
	'blocked',
	'stopped',
];
const CODE_OF: ReadonlyMap<string, number> = new Map(STEP_STATUS_CODES.map((status, code) => [status, code]));

/** A time stored relative to the run's creation (`null` kept). */
const relative = (at: number | null, base: number): number | null => (at === null ? null : at - base);

/**
 * `step` as its stored array (see the file's comment). Each field tested by name, from the last: a test holds this
 * list to `StepState`'s fields.
 */
export function stepTuple(step: StepState, base: number): unknown[] {
	const code = CODE_OF.get(step.status);
	// A status without a code would be stored as null and lost: refused (a new StepStatus needs its code above).
	if (code === undefined) throw new TypeError(`Expected a step status, got ${JSON.stringify(step.status)}`);
	const out: unknown[] = [
		code,
		step.generation,
		step.attempts,
		relative(step.startedAt, base),
		relative(step.finishedAt, base),
		step.output,
		step.error,
		step.checkpoint,
		step.trace,
		step.continued,
		step.handBack,
	];
	let length = 11;
	if (!step.handBack) length = 10;
	if (length === 10 && !step.continued) length = 9;
	if (length === 9 && step.trace.length === 0) length = 8;
	if (length === 8 && step.checkpoint === null) length = 7;
	if (length === 7 && step.error === null) length = 6;
	if (length === 6 && step.output === null) length = 5;
	if (length === 5 && step.finishedAt === null) length = 4;
	if (length === 4 && step.startedAt === null) length = 3;
	if (length === 3 && step.attempts === 0) length = 2;
	if (length === 2 && step.generation === 0) length = 1;
	if (length === 1 && step.status === 'waiting') length = 0;
	out.length = length;
	return out;
}

/** The step a stored array holds (see `stepTuple`). */
function stepFromTuple(tuple: readonly unknown[], base: number): StepState {
	const step = newStepState();
	const n = tuple.length;
	if (n > 0) {
		const status = STEP_STATUS_CODES[tuple[0] as number];
		if (status === undefined)
			throw new TypeError(`Unknown step status code ${JSON.stringify(tuple[0])} in a stored run`);
		step.status = status;
	}
	if (n > 1) step.generation = tuple[1] as number;
	if (n > 2) step.attempts = tuple[2] as number;
	if (n > 3 && tuple[3] !== null) step.startedAt = (tuple[3] as number) + base;
	if (n > 4 && tuple[4] !== null) step.finishedAt = (tuple[4] as number) + base;
	if (n > 5) step.output = tuple[5];
	if (n > 6) step.error = tuple[6] as StepState['error'];
	if (n > 7) step.checkpoint = tuple[7];
	if (n > 8) step.trace = tuple[8] as string[];
	if (n > 9) step.continued = tuple[9] as boolean;
	if (n > 10) step.handBack = tuple[10] as boolean;
	return step;
}

/** A body's format mark (`f`): bodies without it were stored before steps were arrays (see `decodeRunBody`). */
const FORMAT = 2;

/**
 * The body stored for `run` (its `rev` is stored beside it, and left out): its mark, then the run's fields, those at
 * a new run's values (`null`, `false`, `{}`) left out and its times after `createdAt`, each step an array.
 */
export function encodeRunBody(run: RunRecord): string {
	const base = run.createdAt;
	const steps: Record<string, unknown> = {};
	for (const stepId in run.steps) setOwn(steps, stepId, stepTuple(run.steps[stepId] as StepState, base));
	const body: Record<string, unknown> = {
		f: FORMAT,
		id: run.id,
		definition: run.definition,
		version: run.version,
		status: run.status,
		createdAt: base,
		updatedAt: run.updatedAt - base,
		open: run.open,
	};
	if (!isEmptyObject(run.vars)) body.vars = run.vars;
	if (run.key !== null) body.key = run.key;
	if (run.uniqueKey) body.uniqueKey = true;
	if (!isEmptyObject(run.shared)) body.shared = run.shared;
	if (run.finishedAt !== null) body.finishedAt = run.finishedAt - base;
	if (run.deadlineAt !== null) body.deadlineAt = run.deadlineAt - base;
	if (run.error !== null) body.error = run.error;
	if (run.notified !== null) body.notified = run.notified;
	body.steps = steps;
	return JSON.stringify(body);
}

function isEmptyObject(value: object): boolean {
	for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return false;
	return true;
}

/**
 * The run a stored body holds, with `rev`: a marked body (`encodeRunBody`), or one stored before the mark, whole or
 * with each step's fields at a fresh step's values left out.
 */
export function decodeRunBody(body: string, rev: number): RunRecord {
	const stored = JSON.parse(body) as Record<string, unknown>;
	return stored.f === FORMAT ? fromMarked(stored, rev) : fromUnmarked(stored as unknown as RunRecord, rev);
}

function fromMarked(stored: Record<string, unknown>, rev: number): RunRecord {
	const base = stored.createdAt as number;
	const time = (at: unknown): number | null => (at === undefined ? null : (at as number) + base);
	const tuples = stored.steps as Record<string, unknown[]>;
	const steps: Record<string, StepState> = {};
	for (const stepId in tuples) setOwn(steps, stepId, stepFromTuple(tuples[stepId] as unknown[], base));
	return {
		id: stored.id as string,
		definition: stored.definition as string,
		version: stored.version as number,
		vars: (stored.vars as Record<string, unknown> | undefined) ?? {},
		key: (stored.key as string | undefined) ?? null,
		uniqueKey: stored.uniqueKey === true,
		status: stored.status as RunRecord['status'],
		shared: (stored.shared as Record<string, unknown> | undefined) ?? {},
		steps,
		createdAt: base,
		updatedAt: (stored.updatedAt as number) + base,
		finishedAt: time(stored.finishedAt),
		deadlineAt: time(stored.deadlineAt),
		error: (stored.error as RunRecord['error'] | undefined) ?? null,
		open: stored.open as boolean,
		notified: (stored.notified as RunRecord['notified'] | undefined) ?? null,
		rev,
	};
}

function fromUnmarked(run: RunRecord, rev: number): RunRecord {
	for (const stepId in run.steps) {
		const step = run.steps[stepId] as unknown as Record<string, unknown>;
		const fresh = newStepState() as unknown as Record<string, unknown>;
		for (const key in fresh) if (!Object.prototype.hasOwnProperty.call(step, key)) step[key] = fresh[key];
	}
	run.rev = rev;
	return run;
}
