/**
 * `lightsched runs`: workflow runs from a shell, in the container's own run store (Redis and SQL containers keep one
 * beside their tasks): list, show, the operator commands (stop, pause, resume, retry, retry-from, continue, skip),
 * the retry of failed runs in bulk, remove and clean. A command is written with a compare-and-set and the step tasks
 * it names are stopped; the run then moves on in the workers' `Workflows` (their sweep, every `sweepMs`), as this
 * process runs no step.
 */
import { containerWorkflowStore } from 'lightsched/kit';
import { isFinalRunStatus, type WorkflowStore } from '../src/workflow-store.js';
import type { CommandName } from '../workflows/commands.js';
import { CliError, EXIT } from './cli-error.js';
import { printJson } from './output.js';
import { parseCount, parseDuration, parseRunStatuses } from './parse-values.js';
import { runListText, runText } from './run-output.js';
import type { Session } from './session.js';

/** Run `work` with the container's run store, closed after (the container stays open). */
async function withStore<T>(s: Session, work: (store: WorkflowStore) => Promise<T>): Promise<T> {
	const store = containerWorkflowStore(s.container);
	if (store === undefined)
		throw new CliError(
			'This container keeps no workflow runs (the Redis and SQL containers do): `runs` has nothing to read',
			EXIT.usage,
		);
	try {
		return await work(store);
	} finally {
		await store.close();
	}
}

export interface RunListOptions {
	readonly status?: string;
	readonly definition?: string;
	readonly key?: string;
	readonly limit?: string;
	readonly offset?: string;
	readonly order?: string;
}

/** A page of runs, newest first unless `--order asc`. */
export async function runListCommand(s: Session, options: RunListOptions): Promise<void> {
	const order = options.order ?? 'desc';
	if (order !== 'asc' && order !== 'desc')
		throw new CliError(`Expected \`--order\` to be asc or desc, got ${JSON.stringify(order)}`, EXIT.usage);
	const offset = options.offset === undefined ? 0 : parseCount('--offset', options.offset);
	const limit = options.limit === undefined ? 20 : parseCount('--limit', options.limit, 1);
	const status = options.status === undefined ? undefined : parseRunStatuses('--status', options.status);
	const page = await withStore(s, (store) =>
		store.list({
			...(status === undefined ? {} : { status }),
			...(options.definition === undefined ? {} : { definition: options.definition }),
			...(options.key === undefined ? {} : { key: options.key }),
			offset,
			limit,
			order,
		}),
	);
	if (s.json) printJson(s.io, page);
	else s.io.out.write(`${runListText(page.runs, page.total, offset)}\n`);
}

/** One run: its fields, vars and error, and its steps. */
export async function runShowCommand(s: Session, id: string): Promise<void> {
	const run = await withStore(s, (store) => store.get(id));
	if (run === null) throw new CliError(`No workflow run with id \`${id}\``, EXIT.notFound);
	if (s.json) printJson(s.io, run);
	else s.io.out.write(`${runText(run)}\n`);
}

/** What each command's text says once written (the workers' `Workflows` do the rest). */
const DONE: Record<CommandName, string> = {
	stop: 'stopped; its running steps are asked to stop',
	pause: 'paused: no step starts until `runs resume`',
	resume: 'resumed: the workers start its next steps',
	retry: 'retried: the workers run its failed and stopped steps again',
	retryFrom: 'retried from the step: the workers run it and what follows again',
	continue: 'the step is released: the workers run it',
	skip: 'the step is skipped: the workers go on from it',
};

/** An operator command on one run; `stepId` for retryFrom, continue and skip, `now` for pause. */
export async function runOperatorCommand(
	s: Session,
	command: CommandName,
	id: string,
	args: { readonly stepId?: string; readonly now?: boolean } = {},
): Promise<void> {
	const { RunOperator } = await import('../workflows/operator-commands.js');
	const run = await withStore(s, (store) =>
		new RunOperator({ store, scheduler: s.scheduler }).command(id, command, args),
	);
	if (s.json) printJson(s.io, run);
	else s.io.out.write(`${run.id}: ${DONE[command]} (status ${run.status})\n`);
}

export interface RunRetryOptions {
	readonly failed?: boolean;
	readonly key?: string;
	readonly definition?: string;
	readonly limit?: string;
}

/**
 * `runs retry <id>`, or `runs retry --failed`: every failed run (of `--key`, of `--definition`), or the oldest
 * `--limit` of them, through `RunOperator.retryFailed`; a run retried meanwhile by another process is passed over.
 */
export async function runRetryCommand(s: Session, id: string | undefined, options: RunRetryOptions): Promise<void> {
	if (options.failed !== true) {
		const { key, definition, limit } = options;
		const filter =
			key !== undefined ? 'key' : definition !== undefined ? 'definition' : limit !== undefined ? 'limit' : '';
		if (filter !== '') throw new CliError(`\`--${filter}\` selects failed runs: add \`--failed\``, EXIT.usage);
		if (id === undefined) throw new CliError('Expected a run id, or `--failed` for every failed run', EXIT.usage);
		return runOperatorCommand(s, 'retry', id);
	}
	if (id !== undefined)
		throw new CliError('Expected a run id or `--failed`, not both (`--key` picks the runs of a key)', EXIT.usage);
	const limit = options.limit === undefined ? undefined : parseCount('--limit', options.limit, 1);
	const { RunOperator } = await import('../workflows/operator-commands.js');
	const retried = await withStore(s, (store) =>
		new RunOperator({ store, scheduler: s.scheduler }).retryFailed(
			{
				...(options.key === undefined ? {} : { key: options.key }),
				...(options.definition === undefined ? {} : { definition: options.definition }),
			},
			limit === undefined ? {} : { limit },
		),
	);
	if (s.json) printJson(s.io, { retried });
	else s.io.out.write(`retried ${retried.length} failed run${retried.length === 1 ? '' : 's'}\n`);
}

/** Delete finished runs with their step tasks; exits 3 when one is missing, 4 when one has not finished. */
export async function runRemoveCommand(s: Session, ids: readonly string[]): Promise<void> {
	const { removeRun } = await import('../workflows/run-retention.js');
	const missing: string[] = [];
	await withStore(s, async (store) => {
		for (const id of ids) if (!(await removeRun({ store, scheduler: s.scheduler }, id))) missing.push(id);
	});
	if (s.json) printJson(s.io, { removed: ids.filter((id) => !missing.includes(id)), missing });
	else for (const id of ids) s.io.out.write(`${id}: ${missing.includes(id) ? 'no such run' : 'removed'}\n`);
	if (missing.length > 0)
		throw new CliError(`No workflow run ${missing.map((id) => `\`${id}\``).join(', ')}`, EXIT.notFound);
}

export interface RunCleanOptions {
	readonly status?: string;
	readonly olderThan?: string;
	readonly keep?: string;
	readonly definition?: string;
	readonly dryRun?: boolean;
}

/**
 * Delete one final status's runs (of `--definition`) finished more than `--older-than` ago or beyond `--keep`;
 * `--dry-run` counts them and deletes nothing.
 */
export async function runCleanCommand(s: Session, options: RunCleanOptions): Promise<void> {
	const statuses = options.status === undefined ? [] : parseRunStatuses('--status', options.status);
	const [status] = statuses;
	if (status === undefined || statuses.length !== 1 || !isFinalRunStatus(status))
		throw new CliError('Expected `--status` to be one final status: succeeded, failed or stopped', EXIT.usage);
	if (options.olderThan === undefined && options.keep === undefined)
		throw new CliError('Expected `--older-than`, `--keep` or both', EXIT.usage);
	const rule = {
		status,
		...(options.definition === undefined ? {} : { definition: options.definition }),
		...(options.olderThan === undefined ? {} : { maxAgeMs: parseDuration('--older-than', options.olderThan) }),
		...(options.keep === undefined ? {} : { maxCount: parseCount('--keep', options.keep) }),
	};
	const dryRun = options.dryRun === true;
	const { checkCleanRuns, cleanRuns, countCleanRuns } = await import('../workflows/run-retention.js');
	const removed = await withStore(s, (store) =>
		(dryRun ? countCleanRuns : cleanRuns)({ store, scheduler: s.scheduler }, checkCleanRuns(rule), Date.now()),
	);
	if (s.json) printJson(s.io, { removed, dryRun });
	else s.io.out.write(`${dryRun ? 'would remove' : 'removed'} ${removed} run${removed === 1 ? '' : 's'}\n`);
}
