/**
 * How `lightsched runs` prints workflow runs as text: a page of runs as a table, one run in full with a table of its
 * steps. `--json` prints the records themselves (see run-commands.ts).
 */
import type { RunRecord, StepState } from '../src/workflow-store.js';
import { indent, iso, oneLine, relativeTime, table } from './output.js';

/** Steps that are through: succeeded or skipped. */
function stepsDone(run: RunRecord): string {
	const steps = Object.values(run.steps);
	const done = steps.filter((step) => step.status === 'succeeded' || step.status === 'skipped').length;
	return `${done}/${steps.length}`;
}

/** One line per run: id, definition@version, status, key, steps done/total, last change, error. */
export function runListText(runs: readonly RunRecord[], total: number, offset: number): string {
	if (runs.length === 0) return total === 0 ? 'No runs.' : `No runs at offset ${offset} (${total} in all).`;
	const rows = [['ID', 'DEFINITION', 'STATUS', 'KEY', 'STEPS', 'UPDATED', 'ERROR']];
	for (const run of runs)
		rows.push([
			run.id,
			`${run.definition}@${run.version}`,
			run.status,
			run.key ?? '-',
			stepsDone(run),
			relativeTime(run.updatedAt),
			oneLine(run.error?.message ?? ''),
		]);
	return `${table(rows)}\n${offset + 1}-${offset + runs.length} of ${total}`;
}

function when(at: number | null): string {
	return at === null ? '-' : `${iso(at)} (${relativeTime(at)})`;
}

function stepRow(stepId: string, step: StepState): string[] {
	return [
		stepId,
		step.status + (step.continued ? ' (continued)' : '') + (step.handBack ? ' (handed back)' : ''),
		String(step.attempts),
		String(step.generation),
		step.startedAt === null ? '-' : relativeTime(step.startedAt),
		step.finishedAt === null ? '-' : relativeTime(step.finishedAt),
		oneLine(step.error?.message ?? ''),
	];
}

/** A run in full: its fields, its vars (and error) as JSON, then one line per step. */
export function runText(run: RunRecord): string {
	const fields: [string, string][] = [
		['id', run.id],
		['definition', `${run.definition} version ${run.version}`],
		['status', run.status + (run.open && run.status !== 'running' ? ' (the workers still have work on it)' : '')],
		['key', run.key === null ? '-' : `${run.key}${run.uniqueKey ? ' (unique)' : ''}`],
		['created', when(run.createdAt)],
		['updated', when(run.updatedAt)],
		['finished', when(run.finishedAt)],
		['deadline', when(run.deadlineAt)],
	];
	const blocks: [string, unknown][] = [
		['vars', run.vars],
		['error', run.error],
	];
	const body = blocks
		.filter(([, value]) => value !== null && !(typeof value === 'object' && Object.keys(value).length === 0))
		.map(([name, value]) => `${name}:\n${indent(JSON.stringify(value, null, 2))}`);
	const steps = table([
		['STEP', 'STATUS', 'ATTEMPTS', 'GENERATION', 'STARTED', 'FINISHED', 'ERROR'],
		...Object.entries(run.steps).map(([stepId, step]) => stepRow(stepId, step)),
	]);
	return [table(fields.map(([k, v]) => [`${k}:`, v])), ...body, `steps:\n${indent(steps)}`].join('\n');
}
