/**
 * The dashboard's workflow API: runs by status, definition, key or time of creation; one run with its step graph (the steps and
 * their `dependsOn`, from the stored definition the run started with); the run commands and the retry of the failed
 * runs of a key or definition in bulk (with an engine only).
 */
import type { RunQuery, RunRecord, RunStatus, Workflows, WorkflowStore } from 'lightsched/workflows';
import { HttpError, intParam, orderParam } from './http.js';

const RUN_STATUSES: readonly RunStatus[] = [
	'waiting',
	'running',
	'paused',
	'blocked',
	'succeeded',
	'failed',
	'stopped',
];

/**
 * What the run commands go through: a `Workflows` engine, or any object with its `store` and its run commands (such as
 * the one `lightsched dashboard` makes, which writes a command for the workers' engines to carry out).
 */
export type RunEngine = Pick<
	Workflows,
	'store' | 'stop' | 'pause' | 'resume' | 'retry' | 'retryFrom' | 'continue' | 'skip' | 'retryFailed'
>;

const COMMANDS = [
	'stop',
	'pause',
	'resume',
	'retry',
	'retryFrom',
	'continue',
	'skip',
] as const satisfies readonly Exclude<keyof RunEngine, 'store' | 'retryFailed'>[];

/** The fields `POST api/runs/retryFailed` takes. */
const RETRY_FAILED_FIELDS = ['key', 'definition', 'from', 'to', 'limit'];

/** The most ids `POST api/runs/retryFailed` answers with (the count says how many were retried in all). */
const RETRIED_SHOWN = 100;

const NO_ENGINE = 'The dashboard was given a workflow store, not an engine: no commands';

/** The store to read and, when given an engine, the engine for commands. */
export interface RunsSource {
	readonly store: WorkflowStore;
	readonly engine: RunEngine | null;
}

/** Tell an engine from a bare store. */
export function runsSource(workflows: RunEngine | WorkflowStore): RunsSource {
	const engine = typeof (workflows as RunEngine).retryFrom === 'function' ? (workflows as RunEngine) : null;
	return { store: engine === null ? (workflows as WorkflowStore) : engine.store, engine };
}

function runSummary(run: RunRecord): unknown {
	const steps: Record<string, number> = {};
	for (const step of Object.values(run.steps)) steps[step.status] = (steps[step.status] ?? 0) + 1;
	return {
		id: run.id,
		definition: run.definition,
		version: run.version,
		key: run.key,
		status: run.status,
		createdAt: run.createdAt,
		updatedAt: run.updatedAt,
		finishedAt: run.finishedAt,
		error: run.error?.message ?? null,
		steps,
	};
}

/**
 * The time range of runs, checked: created at or after `from` and before `to` (`[from, to)`, in milliseconds since the
 * epoch, as `RunQuery` has them), each a whole number >= 0 when given, `to` after `from`. The one rule of
 * `GET api/runs` (the query string's texts, through `queryTime`) and `POST api/runs/retryFailed` (the body's values).
 */
function timeRange(from: unknown, to: unknown): Pick<RunQuery, 'from' | 'to'> {
	const time = (field: 'from' | 'to', value: unknown): number | undefined => {
		if (value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0))
			return value as number | undefined;
		throw new HttpError(
			400,
			`Expected \`${field}\` to be a time in milliseconds since the epoch (a whole number >= 0), got ${JSON.stringify(value)}`,
		);
	};
	const start = time('from', from);
	const end = time('to', to);
	if (start !== undefined && end !== undefined && end <= start)
		throw new HttpError(
			400,
			`Expected \`to\` (${end}) to be after \`from\` (${start}): runs are selected in [from, to)`,
		);
	return { ...(start === undefined ? {} : { from: start }), ...(end === undefined ? {} : { to: end }) };
}

/** A time of the query string for `timeRange`: absent or '' is none, decimal digits a number, anything else the text. */
function queryTime(params: URLSearchParams, name: 'from' | 'to'): unknown {
	const raw = params.get(name);
	if (raw === null || raw === '') return undefined;
	return /^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
}

/** `GET api/runs`: a page of runs (created in `[from, to)` when given), newest first by default. */
export async function listRuns(source: RunsSource, params: URLSearchParams): Promise<unknown> {
	const rawStatus = params.get('status');
	const status = rawStatus === null || rawStatus === '' ? undefined : rawStatus.split(',');
	for (const s of status ?? [])
		if (!(RUN_STATUSES as readonly string[]).includes(s))
			throw new HttpError(400, `Expected \`status\` to list run statuses, got ${JSON.stringify(s)}`);
	const offset = intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER);
	const limit = Math.max(1, intParam(params, 'limit', 50, 500));
	const definition = params.get('definition') || undefined;
	const key = params.get('key') || undefined;
	const range = timeRange(queryTime(params, 'from'), queryTime(params, 'to'));
	const page = await source.store.list({
		...(status === undefined ? {} : { status: status as RunStatus[] }),
		...(definition === undefined ? {} : { definition }),
		...(key === undefined ? {} : { key }),
		...range,
		offset,
		limit,
		order: orderParam(params),
	});
	return { runs: page.runs.map(runSummary), total: page.total, offset, limit, commands: source.engine !== null };
}

/** One node of a run's graph. */
interface GraphStep {
	readonly id: string;
	readonly action: string | null;
	readonly dependsOn: readonly string[];
}

function definitionSteps(body: unknown): GraphStep[] | null {
	const steps = (body as { steps?: unknown } | null)?.steps;
	if (!Array.isArray(steps)) return null;
	return steps.map((step: { id?: unknown; action?: unknown; dependsOn?: unknown }) => ({
		id: String(step.id),
		action: typeof step.action === 'string' ? step.action : null,
		dependsOn: Array.isArray(step.dependsOn) ? step.dependsOn.map(String) : [],
	}));
}

/** `GET api/runs/<id>`: the run (steps with outputs, errors, traces) and its graph. */
export async function runDetail(source: RunsSource, id: string): Promise<unknown> {
	const run = await source.store.get(id);
	if (run === null) throw new HttpError(404, `No run \`${id}\``);
	const stored = await source.store.getDefinition(run.definition, run.version);
	const graph =
		definitionSteps(stored?.body) ?? Object.keys(run.steps).map((s) => ({ id: s, action: null, dependsOn: [] }));
	return { run, graph, commands: source.engine !== null };
}

/** `POST api/runs/<id>/<command>` with `{ step }` for retryFrom, continue and skip, `{ now }` for pause. */
export async function runCommand(
	source: RunsSource,
	id: string,
	command: string,
	body: Record<string, unknown>,
): Promise<unknown> {
	const engine = source.engine;
	if (engine === null) throw new HttpError(405, NO_ENGINE);
	if (!(COMMANDS as readonly string[]).includes(command))
		throw new HttpError(404, `No run command \`${command}\` (${COMMANDS.join(', ')})`);
	const step = (): string => {
		if (typeof body.step !== 'string' || body.step === '')
			throw new HttpError(400, `Expected \`step\` (a step id) for \`${command}\``);
		return body.step;
	};
	switch (command as (typeof COMMANDS)[number]) {
		case 'stop':
			return { run: await engine.stop(id) };
		case 'pause':
			return { run: await engine.pause(id, { now: body.now === true }) };
		case 'resume':
			return { run: await engine.resume(id) };
		case 'retry':
			return { run: await engine.retry(id) };
		case 'retryFrom':
			return { run: await engine.retryFrom(id, step()) };
		case 'continue':
			return { run: await engine.continue(id, step()) };
		case 'skip':
			return { run: await engine.skip(id, step()) };
	}
}

/**
 * `POST api/runs/retryFailed` with `{ key?, definition?, from?, to?, limit? }`: the engine's `retryFailed` on the
 * failed runs of that key and definition created in `[from, to)` (ms since the epoch, as `RunQuery` has them; the
 * oldest `limit` of them when given, the engine checks it). Answers `{ count, retried, truncated }`: how many were
 * retried, the first `RETRIED_SHOWN` of their ids (oldest first), and whether there were more.
 */
export async function retryFailed(source: RunsSource, body: Record<string, unknown>): Promise<unknown> {
	const engine = source.engine;
	if (engine === null) throw new HttpError(405, NO_ENGINE);
	for (const field of Object.keys(body))
		if (!RETRY_FAILED_FIELDS.includes(field))
			throw new HttpError(400, `Unknown field \`${field}\` (${RETRY_FAILED_FIELDS.join(', ')})`);
	const text = (field: 'key' | 'definition'): string | undefined => {
		const value = body[field];
		if (value === undefined || (typeof value === 'string' && value !== '')) return value;
		throw new HttpError(400, `Expected \`${field}\` to be a non-empty string, got ${JSON.stringify(value)}`);
	};
	const key = text('key');
	const definition = text('definition');
	const query = {
		...(key === undefined ? {} : { key }),
		...(definition === undefined ? {} : { definition }),
		...timeRange(body.from, body.to),
	};
	const options = body.limit === undefined ? {} : { limit: body.limit as number };
	const retried = await engine.retryFailed(query, options);
	return {
		count: retried.length,
		retried: retried.slice(0, RETRIED_SHOWN),
		truncated: retried.length > RETRIED_SHOWN,
	};
}
