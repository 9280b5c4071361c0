/**
 * The example third-party actuator (examples/custom-actuator/) passes the kit's actuator contract suite, run as a
 * plug-in author runs it: through `lightsched/testing`. And its example program runs as printed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { actuatorContract } from 'lightsched/testing';
import { SleepActuator, type SleepItem } from '../../examples/custom-actuator/sleep-actuator.js';

/** Every actuator the suite made, to ask whether a task's work still runs in any of them. */
const made: SleepActuator[] = [];

actuatorContract<SleepItem, number>(
	'SleepActuator (examples/custom-actuator)',
	() => ({
		actuator: () => {
			const actuator = new SleepActuator();
			made.push(actuator);
			return actuator;
		},
		succeeds: { item: { ms: 5 }, output: 5 },
		fails: { item: { ms: 5, fail: 'no luck' }, message: 'no luck' },
		long: () => ({
			item: { ms: 600_000 },
			running: async (task) => {
				expect(made.some((a) => a.isRunning(task.id))).toBe(true);
			},
			workGone: (task) => !made.some((a) => a.isRunning(task.id)),
		}),
		progress: { item: { ms: 30, steps: 3 } },
		badItem: { item: { ms: -1 }, field: 'item.ms' },
	}),
	{ progress: true, init: true, stopWhileStarting: true },
);

describe('examples/custom-actuator/main.ts', () => {
	it('runs its tasks and prints their ends', async () => {
		const { stdout } = await promisify(execFile)(
			process.execPath,
			['--import', 'tsx', '--conditions=lightsched:source', 'examples/custom-actuator/main.ts'],
			{ timeout: 30_000 },
		);
		expect(stdout).toContain('bad: ');
		expect(stdout).toContain('`item.ms`');
		expect(stdout).toContain('short succeeded after 20 ms');
		expect(stdout).toContain('steps progress {"step":1,"of":2}');
		expect(stdout).toContain('steps succeeded after 40 ms');
		expect(stdout).toContain('unlucky failed: no luck');
	});
});
