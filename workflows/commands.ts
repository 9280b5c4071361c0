/**
 * The operator commands as pure changes of a run record: each checks the run's (and step's) status and throws a
 * `RunStateError` saying what it found and what the command needs, or returns the next record and the step tasks
 * to stop. The engine stores the result with a compare-and-set and then advances the run.
 */
import {
	isFinalRunStatus,
	type RunQuery,
	type RunRecord,
	type RunStatus,
	type StepState,
	type WorkflowStore,
} from '../src/workflow-store.js';
import { downstreamOf, type CheckedDefinition } from './definition.js';
import { RunStateError } from './errors.js';
import { copyRun } from './advance.js';
import { stepTaskId } from './step-task.js';

/** A command's result: the next record and the tasks to stop once it is stored. */
export interface CommandResult {
	/** The next record. */
	readonly run: RunRecord;
	/** Step task ids to stop. */
	readonly stop: string[];
}

/** The names of the commands. */
export type CommandName = 'stop' | 'pause' | 'resume' | 'retry' | 'retryFrom' | 'continue' | 'skip';

function need(run: RunRecord, command: string, allowed: readonly RunStatus[]): void {
	if (!allowed.includes(run.status)) {
		throw new RunStateError(
			run.id,
			`\`${command}\` needs a run that is ${allowed.join(', ')}; this one is ${run.status}`,
		);
	}
}

function stepOf(run: RunRecord, stepId: string, command: string): StepState {
	const step = run.steps[stepId];
	if (typeof stepId !== 'string' || step === undefined) {
		throw new RunStateError(
			run.id,
			`\`${command}\` names an unknown step \`${String(stepId)}\` (steps: ${Object.keys(run.steps).join(', ')})`,
		);
	}
	return step;
}

function reopen(run: RunRecord, definition: CheckedDefinition, now: number): void {
	// The running steps of an ended run are being stopped (the stop lands when their owners hear it): each goes back
	// to waiting when it does, and runs again in the reopened run, instead of ending it stopped once more.
	if (isFinalRunStatus(run.status)) {
		for (const step of Object.values(run.steps)) if (step.status === 'running') step.handBack = true;
	}
	run.status = 'running';
	run.finishedAt = null;
	run.error = null;
	run.notified = null;
	run.open = true;
	const deadlineMs = definition.body.deadlineMs;
	if (deadlineMs !== undefined && (run.deadlineAt === null || run.deadlineAt <= now))
		run.deadlineAt = now + deadlineMs;
}

function fresh(step: StepState, keepCheckpoint: boolean): void {
	Object.assign(step, {
		status: 'waiting',
		output: null,
		error: null,
		startedAt: null,
		finishedAt: null,
		continued: false,
		handBack: false,
		attempts: 0,
	});
	if (!keepCheckpoint) step.checkpoint = null;
}

function runningTasks(run: RunRecord): string[] {
	return Object.entries(run.steps)
		.filter(([, step]) => step.status === 'running')
		.map(([stepId, step]) => stepTaskId(run.id, stepId, step.generation));
}

/** Apply one command. `stepId` for retryFrom, continue and skip; `now` for pause's `{ now: true }`. */
export function applyCommand(
	stored: RunRecord,
	definition: CheckedDefinition,
	command: CommandName,
	args: { stepId?: string; now?: boolean },
	now: number,
): CommandResult {
	const run = copyRun(stored);
	let stop: string[] = [];
	switch (command) {
		case 'stop': {
			need(run, 'stop', ['waiting', 'running', 'paused', 'blocked']);
			run.status = 'stopped';
			run.finishedAt = now;
			run.error = { code: 'ERR_TASK_STOPPED', message: `Workflow run \`${run.id}\` was stopped` };
			for (const step of Object.values(run.steps)) {
				if (step.status === 'waiting' || step.status === 'blocked')
					Object.assign(step, { status: 'stopped', finishedAt: now });
				step.handBack = false;
			}
			stop = runningTasks(run);
			break;
		}
		case 'pause': {
			need(run, 'pause', ['waiting', 'running', 'blocked']);
			run.status = 'paused';
			if (args.now === true) {
				for (const step of Object.values(run.steps)) if (step.status === 'running') step.handBack = true;
				stop = runningTasks(run);
			}
			break;
		}
		case 'resume': {
			need(run, 'resume', ['paused']);
			run.status = 'running';
			break;
		}
		case 'retry': {
			need(run, 'retry', ['failed', 'stopped']);
			const again = new Set<string>();
			for (const [stepId, step] of Object.entries(run.steps)) {
				if (step.status !== 'failed' && step.status !== 'stopped') continue;
				again.add(stepId);
				for (const down of downstreamOf(definition, stepId)) again.add(down);
			}
			for (const stepId of again) {
				const step = run.steps[stepId] as StepState;
				if (step.status === 'succeeded' || step.status === 'skipped' || step.status === 'running') continue;
				// A retried step gets its last checkpoint back.
				fresh(step, true);
			}
			reopen(run, definition, now);
			break;
		}
		case 'retryFrom': {
			const stepId = args.stepId as string;
			stepOf(run, stepId, 'retryFrom');
			need(run, 'retryFrom', ['failed', 'stopped', 'succeeded', 'blocked', 'paused']);
			const again = [stepId, ...downstreamOf(definition, stepId)];
			const busy = again.filter((id) => run.steps[id]?.status === 'running');
			if (busy.length > 0)
				throw new RunStateError(
					run.id,
					`\`retryFrom\` \`${stepId}\`: step${busy.length === 1 ? '' : 's'} ${busy.map((id) => `\`${id}\``).join(', ')} still running; stop or wait for them first`,
				);
			for (const id of again) fresh(run.steps[id] as StepState, false);
			if (run.status === 'paused') break;
			reopen(run, definition, now);
			break;
		}
		case 'continue': {
			const stepId = args.stepId as string;
			const step = stepOf(run, stepId, 'continue');
			if (step.status !== 'blocked')
				throw new RunStateError(
					run.id,
					`\`continue\` needs a blocked step; step \`${stepId}\` is ${step.status}`,
				);
			need(run, 'continue', ['running', 'blocked', 'paused']);
			Object.assign(step, { status: 'waiting', continued: true });
			if (run.status === 'blocked') run.status = 'running';
			break;
		}
		case 'skip': {
			const stepId = args.stepId as string;
			const step = stepOf(run, stepId, 'skip');
			if (!['waiting', 'blocked', 'failed', 'stopped'].includes(step.status)) {
				throw new RunStateError(
					run.id,
					`\`skip\` needs a step that is waiting, blocked, failed or stopped; step \`${stepId}\` is ${step.status}`,
				);
			}
			need(run, 'skip', ['waiting', 'running', 'paused', 'blocked', 'failed', 'stopped']);
			Object.assign(step, { status: 'skipped', finishedAt: now, handBack: false });
			// A finished run goes on from the skipped step (other failed steps fail it again: `retry` runs them).
			if (isFinalRunStatus(run.status)) reopen(run, definition, now);
			else if (run.status === 'blocked') run.status = 'running';
			break;
		}
	}
	run.open = true;
	run.updatedAt = now;
	return { run, stop };
}

/** What `retryFailed` selects: the failed runs of a definition, a key, a time span. */
export type FailedRunQuery = Omit<RunQuery, 'status' | 'offset' | 'limit' | 'order'>;

/** `retryFailed`'s options: `limit`, the most runs to retry (the oldest first). */
export interface RetryFailedOptions {
	/** The most runs to retry, the oldest first (an integer >= 1); all the matching failed runs when left out. */
	readonly limit?: number;
}

/** The limit of `retryFailed`'s options, checked (an integer >= 1), or no limit. */
export function retryLimit(options: RetryFailedOptions): number {
	const { limit } = options;
	if (limit === undefined) return Number.POSITIVE_INFINITY;
	if (!Number.isSafeInteger(limit) || limit < 1)
		throw new TypeError(`Expected \`limit\` to be an integer >= 1, got ${String(limit)}`);
	return limit;
}

/**
 * `retry` every failed run of `store` matching `query` (by key, definition, time), or the oldest `limit` of them: the
 * ids listed first, then retried one by one; a run whose state refuses it now (retried meanwhile) is passed over.
 * Resolves with the ids retried.
 */
export async function retryFailedRuns(
	store: WorkflowStore,
	retry: (runId: string) => Promise<unknown>,
	query: FailedRunQuery,
	limit = Number.POSITIVE_INFINITY,
): Promise<string[]> {
	const ids: string[] = [];
	for (let offset = 0; ids.length < limit; offset += 500) {
		const page = await store.list({
			...query,
			status: 'failed',
			order: 'asc',
			offset,
			limit: Math.min(500, limit - ids.length),
		});
		ids.push(...page.runs.map((run) => run.id));
		if (page.runs.length < 500) break;
	}
	const retried: string[] = [];
	for (const id of ids) {
		try {
			await retry(id);
			retried.push(id);
		} catch (error) {
			if (!(error instanceof RunStateError)) throw error;
		}
	}
	return retried;
}
