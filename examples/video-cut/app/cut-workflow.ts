/**
 * The video-cut workflow: a cut, then a JPEG thumbnail and a short GIF preview made from it in parallel
 * (`lightsched/workflows`). Every step is a job of the cut service run through the `HttpActuator`: the item
 * builders turn a step's params into that actuator's item (`{ kind, … }`), and the actuator posts it to the
 * service's `/cuts`, `/thumbnails` or `/previews`. The step tasks live in their own scheduler (a combined
 * memory + SQLite container, `workflows.db`), the runs in a `SqlWorkflowStore` on the same database, so runs
 * and their steps survive a restart as the plain cuts do.
 */
import { join } from 'node:path';
import { Scheduler } from 'lightsched';
import type { StepItem } from 'lightsched/workflows';
import { CombinedContainer, type RestoreResult } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, type ItemBuilders, type WorkflowDefinition } from 'lightsched/workflows';
import { CUT_MAX_ATTEMPTS, CUT_TIMEOUT_MS, CutActuator, outputName, STATUS_POLL_MS } from './cut-scheduler.js';
import type { CutOutput } from './cut-task.js';

/** The definition's name. */
export const CUT_WORKFLOW_NAME = 'cut-thumbnail-preview';
/** The SQLite file of the step tasks and the runs, in the data folder. */
export const WORKFLOW_DATABASE_FILE = 'workflows.db';
/** How many step jobs run at once (besides the plain cuts' own limit). */
export const STEP_CONCURRENCY = 2;
/** The length of the GIF preview, in seconds. */
export const PREVIEW_SECONDS = 2;
/** The steps, in the order the page shows them. */
export const STEP_IDS = ['cut', 'thumbnail', 'preview'] as const;
export type StepId = (typeof STEP_IDS)[number];

/** The item of a step task: what the `HttpActuator` posts to the service (`kind` picks the URL). */
export type StepJob =
	| { readonly kind: 'cut'; readonly input: string; readonly start: number; readonly end: number }
	| { readonly kind: 'thumbnail'; readonly source: string }
	| { readonly kind: 'preview'; readonly source: string; readonly seconds: number };

/**
 * cut → thumbnail + preview. The cut's params come from the run's vars through templates (a string that is
 * exactly one template keeps the var's type: `{{vars.start}}` stays a number); the two derived steps start once
 * the cut succeeded, and read the cut's output file from their inputs.
 */
export const CUT_WORKFLOW: WorkflowDefinition = {
	name: CUT_WORKFLOW_NAME,
	description: 'Cut a video, then make a thumbnail and a short preview of the cut in parallel',
	vars: {
		name: { description: 'A label for people' },
		input: { description: 'The input video, a file name in the media folder' },
		start: { description: 'Seconds from the start of the input' },
		end: { description: 'Seconds from the start of the input' },
	},
	steps: [
		{
			id: 'cut',
			action: 'cut',
			params: { input: '{{vars.input}}', start: '{{vars.start}}', end: '{{vars.end}}' },
		},
		{ id: 'thumbnail', action: 'thumbnail', dependsOn: ['cut'] },
		{ id: 'preview', action: 'preview', dependsOn: ['cut'], params: { seconds: PREVIEW_SECONDS } },
	],
};

/** The cut's output (a media-relative file name), handed to a derived step as its input. */
function cutOutput(step: StepItem): string {
	const output = step.inputs.cut;
	if (typeof output !== 'string' || output.length === 0)
		throw new TypeError(`Expected the cut step's output to be a file name, got ${JSON.stringify(output)}`);
	return output;
}

/** Each action's item for the `HttpActuator`, from the step's rendered params (and the cut's output). */
export const CUT_WORKFLOW_ACTIONS: ItemBuilders = {
	cut: (params): StepJob => ({
		kind: 'cut',
		input: String(params.input),
		start: Number(params.start),
		end: Number(params.end),
	}),
	thumbnail: (_params, step): StepJob => ({ kind: 'thumbnail', source: cutOutput(step) }),
	preview: (params, step): StepJob => ({
		kind: 'preview',
		source: cutOutput(step),
		seconds: Number(params.seconds),
	}),
};

/** The service's URL folder of each kind of job. */
const JOB_PATHS: Readonly<Record<StepJob['kind'], string>> = {
	cut: '/cuts',
	thumbnail: '/thumbnails',
	preview: '/previews',
};

function jobPath(item: StepJob): string {
	const path = JOB_PATHS[item.kind];
	if (path === undefined) throw new TypeError(`Expected a step job of kind cut, thumbnail or preview`);
	return path;
}

/** The `CutActuator` (a refusal fails at once) for step jobs: each kind at its own URL. */
export class StepJobActuator extends CutActuator<StepJob> {
	protected override jobName(item: StepJob): string {
		return item.kind;
	}
}

export interface CutWorkflow {
	readonly scheduler: Scheduler<StepJob, CutOutput>;
	readonly workflows: Workflows;
	/** What the step container's start found in the database. */
	readonly restored: RestoreResult;
	/** Stop the engine and the scheduler (running step jobs are handed back and run again on the next start). */
	close(): Promise<void>;
}

export interface CutWorkflowOptions {
	/** Where `workflows.db` lives. */
	readonly dataDir: string;
	/** The cut service's base URL. */
	readonly serviceUrl: string;
}

/** Start the workflow engine: the step scheduler on its own SQLite file, the run store, the definition. */
export async function createCutWorkflow(options: CutWorkflowOptions): Promise<CutWorkflow> {
	const sql = new SqlContainer({
		knex: {
			client: 'sqlite3',
			connection: { filename: join(options.dataDir, WORKFLOW_DATABASE_FILE) },
			useNullAsDefault: true,
		},
	});
	const container = new CombinedContainer(new QueueContainer(), sql);
	let restored: RestoreResult;
	try {
		restored = await container.restore();
	} catch (error) {
		await container.close().catch(() => undefined);
		throw error;
	}
	const byRef = (call: 'status' | 'output' | 'stop') => (ref: string, task: { item: StepJob }) =>
		`${jobPath(task.item)}/${encodeURIComponent(ref)}${call === 'status' ? '' : `/${call}`}`;
	const actuator = new StepJobActuator({
		baseUrl: options.serviceUrl,
		start: {
			path: jobPath,
			body: (item) => {
				const { kind: _kind, ...body } = item;
				return body;
			},
		},
		status: { path: byRef('status') },
		output: { path: byRef('output'), map: outputName },
		stop: { path: byRef('stop') },
		timeoutMs: 10_000,
	});
	const scheduler = new Scheduler<StepJob, CutOutput>({
		container,
		actuator,
		concurrency: STEP_CONCURRENCY,
		timeoutMs: CUT_TIMEOUT_MS,
		maxAttempts: CUT_MAX_ATTEMPTS,
		backoff: { type: 'fixed', delayMs: 1000 },
		pollIntervalMs: STATUS_POLL_MS,
	});
	const store = new SqlWorkflowStore({ container: sql });
	const workflows = new Workflows({ scheduler, actions: CUT_WORKFLOW_ACTIONS, store });
	workflows.define(CUT_WORKFLOW);
	let closing: Promise<void> | null = null;
	return {
		scheduler,
		workflows,
		restored,
		close() {
			closing ??= (async () => {
				await workflows.close();
				await scheduler.close();
				await store.close();
			})();
			return closing;
		},
	};
}
