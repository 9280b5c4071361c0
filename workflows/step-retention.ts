/**
 * The own retention rule of step tasks. Until its run records a step task's end, the task is the engine's only
 * record of it: a process recovering the run (after a crash, or while the run store was down) reads the task, and
 * finds nothing if the scheduler's `retention` option deleted it, so it would dispatch the finished step again. So
 * a step task is kept by a rule of its own for each final status the scheduler has a rule for: at least
 * `STEP_TASK_KEPT_MS` (far longer than any sweep takes to record it), or the scheduler's `maxAgeMs` when longer; its
 * `maxCount` does not count step tasks. They go with their run (`Workflows.remove`, `clean`, the `retention`
 * option), or by their rule if they outlive it.
 */
import type { RetentionOptions, TaskRetention } from 'lightsched';

/** How long a finished step task is kept at least when the scheduler has a retention rule for its status: 1 hour. */
export const STEP_TASK_KEPT_MS = 60 * 60_000;

const FINAL = ['succeeded', 'failed', 'stopped'] as const;

/** The own rule of step tasks under the scheduler's `retention` option, or `undefined` when it has none. */
export function stepTaskRetention(rules: RetentionOptions | undefined): TaskRetention | undefined {
	if (rules === undefined) return undefined;
	const own: { -readonly [K in keyof TaskRetention]: number } = {};
	for (const status of FINAL) {
		const rule = rules[status];
		if (rule !== undefined) own[status] = Math.max(STEP_TASK_KEPT_MS, rule.maxAgeMs ?? 0);
	}
	return Object.keys(own).length === 0 ? undefined : own;
}
