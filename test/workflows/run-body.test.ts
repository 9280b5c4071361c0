/**
 * The stored run body's step arrays (workflows/run-body.ts): the status codes are stored data, so their order is
 * pinned here and must cover every step status; a status without a code is refused, not stored as null.
 */
import { describe, expect, it } from 'vitest';
import type { StepState } from '../../src/workflow-store.js';
import { newStepState } from '../../workflows/advance.js';
import { decodeRunBody, encodeRunBody, STEP_STATUS_CODES, stepTuple } from '../../workflows/run-body.js';
import { STATUS_BITS } from '../../workflows/step-statuses.js';
import { sampleRun } from './store.contract.js';

describe('run bodies: step arrays', () => {
	it('keeps each status code as first stored (a new status gets a new code at the end)', () => {
		expect(STEP_STATUS_CODES).toEqual([
			'waiting',
			'running',
			'succeeded',
			'failed',
			'skipped',
			'blocked',
			'stopped',
		]);
		expect([...STEP_STATUS_CODES].sort()).toEqual(Object.keys(STATUS_BITS).sort());
	});

	it('refuses a status without a code, an inherited property name included', () => {
		for (const status of ['done', 'constructor', 'toString'])
			expect(() => stepTuple({ ...newStepState(), status } as unknown as StepState, 0)).toThrow(
				`Expected a step status, got "${status}"`,
			);
	});

	it('reads back every status, and times before the run was created (another clock) as they were', () => {
		const steps: Record<string, StepState> = {};
		STEP_STATUS_CODES.forEach((status, i) => {
			steps[`s${i}`] = { ...newStepState(), status, generation: i, startedAt: 990 + i, finishedAt: null };
		});
		const run = sampleRun({ createdAt: 1_000, updatedAt: 999, steps });
		expect(decodeRunBody(encodeRunBody(run), 0)).toEqual(run);
	});
});
