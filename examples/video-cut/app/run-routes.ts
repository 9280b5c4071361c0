/**
 * The workflow half of the app's API: start a cut → thumbnail + preview run, list runs with their steps, stop or
 * retry a run, and serve a run's cut, thumbnail and preview. Media are looked up by run id and step id only: the
 * file name comes from the stored run (the step's output as the service reported it), never from the request,
 * and each step serves only its own type (the cut a video, the thumbnail a `.jpg`, the preview a `.gif`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RunNotFoundError, RunStateError, stepTaskId, type RunRecord } from 'lightsched/workflows';
import { CUT_WORKFLOW_NAME, STEP_IDS, type CutWorkflow, type StepId } from './cut-workflow.js';
import { parseCutRequest, progressFraction } from './cut-task.js';
import { HttpError, queryInteger, readJsonBody, sendJson } from './http-util.js';
import { IMAGE_TYPES, listVideoFiles, resolveMediaFile, sendVideo, VIDEO_TYPES } from './media.js';

/** Run ids in URLs (the engine makes UUIDs). */
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** The largest page size `GET /api/runs` serves. */
export const MAX_RUN_PAGE_SIZE = 50;

/** The types each step's output may have. */
const STEP_MEDIA: Readonly<Record<StepId, Readonly<Record<string, string>>>> = {
	cut: VIDEO_TYPES,
	thumbnail: { '.jpg': IMAGE_TYPES['.jpg'] as string },
	preview: { '.gif': IMAGE_TYPES['.gif'] as string },
};

/** One step as the page shows it. */
export interface StepView {
	readonly id: StepId;
	readonly status: string;
	/** 0..1 while running (when the service reports it), 1 once succeeded, else `null`. */
	readonly progress: number | null;
	readonly attempts: number;
	readonly error: { readonly message: string; readonly code: string } | null;
	/** The step's output file (relative to the media folder) once succeeded. */
	readonly output: string | null;
	readonly startedAt: number | null;
	readonly finishedAt: number | null;
}

/** A run as the API hands it out: its vars, status, error and steps; plain data, no server paths. */
export interface RunView {
	readonly id: string;
	readonly name: string;
	readonly input: string;
	readonly start: number;
	readonly end: number;
	readonly status: string;
	readonly createdAt: number;
	readonly finishedAt: number | null;
	readonly error: { readonly message: string; readonly code: string } | null;
	readonly steps: readonly StepView[];
}

export interface RunRoutesOptions {
	readonly workflow: CutWorkflow;
	readonly mediaDir: string;
}

export class RunRoutes {
	readonly #o: RunRoutesOptions;

	constructor(options: RunRoutesOptions) {
		this.#o = options;
	}

	/** A run's view, with the progress of its running steps read from their tasks. */
	async view(run: RunRecord): Promise<RunView> {
		const vars = run.vars;
		const steps = await Promise.all(
			STEP_IDS.map(async (id): Promise<StepView> => {
				const step = run.steps[id];
				let progress: number | null = null;
				if (step?.status === 'succeeded') progress = 1;
				else if (step?.status === 'running') {
					const task = await this.#o.workflow.scheduler.get(stepTaskId(run.id, id, step.generation));
					progress = task?.status === 'running' ? progressFraction(task.progress) : null;
				}
				return {
					id,
					status: step?.status ?? 'waiting',
					progress,
					attempts: step?.attempts ?? 0,
					error: step?.error ? { message: step.error.message, code: step.error.code } : null,
					output: step?.status === 'succeeded' && typeof step.output === 'string' ? step.output : null,
					startedAt: step?.startedAt ?? null,
					finishedAt: step?.finishedAt ?? null,
				};
			}),
		);
		return {
			id: run.id,
			name: typeof vars.name === 'string' ? vars.name : '',
			input: typeof vars.input === 'string' ? vars.input : '',
			start: typeof vars.start === 'number' ? vars.start : 0,
			end: typeof vars.end === 'number' ? vars.end : 0,
			status: run.status,
			createdAt: run.createdAt,
			finishedAt: run.finishedAt,
			error: run.error ? { message: run.error.message, code: run.error.code } : null,
			steps,
		};
	}

	/** Answer the request when it is one of the run routes; `false` when it is not. */
	async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
		const method = req.method ?? 'GET';
		const parts = url.pathname.split('/').slice(1);
		if (parts[0] === 'media' && parts[1] === 'run' && parts.length === 4) {
			allow(method, ['GET', 'HEAD']);
			await this.#media(req, res, runId(parts[2]), stepId(parts[3]));
			return true;
		}
		if (parts[0] !== 'api' || parts[1] !== 'runs') return false;
		if (parts.length === 2) {
			if (method === 'GET') await this.#list(res, url.searchParams);
			else {
				allow(method, ['GET', 'POST']);
				await this.#create(req, res);
			}
			return true;
		}
		const id = runId(parts[2]);
		if (parts.length === 3) {
			allow(method, ['GET']);
			sendJson(res, 200, { run: await this.view(await this.#run(id)) });
			return true;
		}
		if (parts.length === 4 && (parts[3] === 'stop' || parts[3] === 'retry')) {
			allow(method, ['POST']);
			await this.#command(res, id, parts[3]);
			return true;
		}
		throw new HttpError(404, `No API at ${JSON.stringify(url.pathname.slice(0, 100))}`);
	}

	async #run(id: string): Promise<RunRecord> {
		const run = await this.#o.workflow.workflows.get(id);
		if (run === null || run.definition !== CUT_WORKFLOW_NAME)
			throw new HttpError(404, `No run with id ${JSON.stringify(id)}`);
		return run;
	}

	async #list(res: ServerResponse, params: URLSearchParams): Promise<void> {
		const offset = queryInteger(params, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
		const limit = queryInteger(params, 'limit', 10, 1, MAX_RUN_PAGE_SIZE);
		const page = await this.#o.workflow.workflows.list({
			definition: CUT_WORKFLOW_NAME,
			offset,
			limit,
			order: 'desc',
		});
		const runs = await Promise.all(page.runs.map((run) => this.view(run)));
		sendJson(res, 200, { runs, total: page.total, offset, limit });
	}

	async #create(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const item = parseCutRequest(await readJsonBody(req), await listVideoFiles(this.#o.mediaDir));
		const run = await this.#o.workflow.workflows.start(CUT_WORKFLOW_NAME, { vars: { ...item } });
		sendJson(res, 201, { run: await this.view(run) });
	}

	async #command(res: ServerResponse, id: string, command: 'stop' | 'retry'): Promise<void> {
		await this.#run(id);
		let run: RunRecord;
		try {
			run = await (command === 'stop'
				? this.#o.workflow.workflows.stop(id)
				: this.#o.workflow.workflows.retry(id));
		} catch (error) {
			if (error instanceof RunStateError) throw new HttpError(409, error.message);
			if (error instanceof RunNotFoundError) throw new HttpError(404, `No run with id ${JSON.stringify(id)}`);
			throw error;
		}
		sendJson(res, 200, { run: await this.view(run) });
	}

	async #media(req: IncomingMessage, res: ServerResponse, id: string, step: StepId): Promise<void> {
		const run = await this.#run(id);
		const state = run.steps[step];
		if (state?.status !== 'succeeded')
			throw new HttpError(
				404,
				`Step ${step} of run ${JSON.stringify(id)} has no output (it is ${state?.status ?? 'unknown'})`,
			);
		const path = await resolveMediaFile(this.#o.mediaDir, state.output, STEP_MEDIA[step]);
		if (path === null)
			throw new HttpError(404, `The ${step} of run ${JSON.stringify(id)} is not in the media folder`);
		await sendVideo(req, res, path);
	}
}

function allow(method: string, methods: readonly string[]): void {
	if (!methods.includes(method))
		throw new HttpError(405, `Expected method ${methods.join(' or ')}, got ${method.slice(0, 20)}`);
}

function runId(raw: string | undefined): string {
	let id: string;
	try {
		id = decodeURIComponent(raw ?? '');
	} catch {
		throw new HttpError(400, 'Expected a run id (letters, digits, - and _)', 'id');
	}
	if (!RUN_ID.test(id))
		throw new HttpError(
			400,
			`Expected a run id (letters, digits, - and _), got ${JSON.stringify(id.slice(0, 40))}`,
			'id',
		);
	return id;
}

function stepId(raw: string | undefined): StepId {
	const id = raw ?? '';
	if (!(STEP_IDS as readonly string[]).includes(id))
		throw new HttpError(404, `Expected a step (${STEP_IDS.join(', ')}), got ${JSON.stringify(id.slice(0, 40))}`);
	return id as StepId;
}
