/**
 * An attempt whose work ran keeps its task until its outcome is stored: the lease is renewed while the outcome
 * write is retried (a settled attempt still being stored is held, not dropped).
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { sleep } from '../support/scheduler.js';
import { sharedDouble } from './shared-double.js';

async function waitFor(check: () => boolean, ms: number): Promise<void> {
	const deadline = Date.now() + ms;
	while (!check() && Date.now() < deadline) await sleep(20);
}

function setUp(leaseMs: number): {
	scheduler: Scheduler<string, string>;
	faults: ReturnType<typeof sharedDouble>['faults'];
	runs: Record<string, number>;
	finished: TaskRecord[];
	errors: string[];
	release: () => void;
} {
	const { container, faults } = sharedDouble();
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => (release = resolve));
	const runs: Record<string, number> = {};
	const scheduler = new Scheduler({
		container,
		concurrency: 2,
		leaseMs,
		pollIntervalMs: 50,
		maxAttempts: 1,
		actuator: new FunctionActuator(async (id: string) => {
			runs[id] = (runs[id] ?? 0) + 1;
			if (id === 'long') await gate;
			return id;
		}),
	});
	const errors: string[] = [];
	scheduler.on('error', (error) => errors.push(error.message));
	const finished: TaskRecord[] = [];
	scheduler.on('task:succeeded', ({ task }) => finished.push(task));
	scheduler.on('task:failed', ({ task }) => finished.push(task));
	return { scheduler, faults, runs, finished, errors, release };
}

describe('storing an outcome', () => {
	it('keeps renewing the lease of a settled attempt while its outcome write is retried', { timeout: 15_000 }, async () => {
		const { scheduler, faults, runs, finished } = setUp(600);
		// Writes at +0, +50, +250 fail; the one at about +1,050 ms, past the 600 ms lease, is stored.
		faults.failTransitions = 3;
		await scheduler.add({ id: 'x', item: 'x' });
		await waitFor(() => finished.length > 0, 8_000);
		await sleep(300);
		expect(finished.map((t) => [t.id, t.status, t.attempts])).toEqual([['x', 'succeeded', 1]]);
		expect(runs).toEqual({ x: 1 });
		await scheduler.close();
	});
});
