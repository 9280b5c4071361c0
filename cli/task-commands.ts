/**
 * The commands on tasks: counts, list, get, add, stop, retry, remove, clean, pause, resume, logs. Each calls the Scheduler's public
 * API and prints human text, or JSON with `--json`.
 */
import { isFinalStatus, FINAL_STATUSES } from 'lightsched/kit';
import type { FinalStatus, NewTask, TaskLogPage, TaskRecord, TaskStatus } from 'lightsched';
import { CliError, EXIT } from './cli-error.js';
import { countsText, listText, printJson, StatusLine, taskText } from './output.js';
import { parseCount, parseDuration, parseFields, parseInteger, parseItem, parseStatuses } from './parse-values.js';
import type { Session } from './session.js';

export async function countsCommand(s: Session): Promise<void> {
	const counts = await s.scheduler.counts();
	if (s.json) printJson(s.io, counts);
	else s.io.out.write(`${countsText(counts)}\n`);
}

export interface ListOptions {
	readonly status?: string;
	readonly limit?: string;
	readonly offset?: string;
	readonly order?: string;
}

export async function listCommand(s: Session, options: ListOptions): Promise<void> {
	const order = options.order ?? 'desc';
	if (order !== 'asc' && order !== 'desc')
		throw new CliError(`Expected \`--order\` to be asc or desc, got ${JSON.stringify(order)}`, EXIT.usage);
	const offset = options.offset === undefined ? 0 : parseCount('--offset', options.offset);
	const limit = options.limit === undefined ? 20 : parseCount('--limit', options.limit, 1);
	const page = await s.scheduler.list({
		...(options.status === undefined ? {} : { status: parseStatuses('--status', options.status) }),
		offset,
		limit,
		order,
	});
	if (s.json) printJson(s.io, page);
	else s.io.out.write(`${listText(page.tasks, page.total, offset)}\n`);
}

async function getOrThrow(s: Session, id: string): Promise<TaskRecord> {
	const task = await s.scheduler.get(id);
	if (task === null) throw new CliError(`No task \`${id}\``, EXIT.notFound);
	return task;
}

export async function getCommand(s: Session, id: string): Promise<void> {
	const task = await getOrThrow(s, id);
	if (s.json) printJson(s.io, task);
	else s.io.out.write(`${taskText(task)}\n`);
}

export interface AddOptions {
	readonly id?: string;
	readonly field?: string[];
	readonly priority?: string;
	readonly maxAttempts?: string;
	readonly timeout?: string;
	readonly delay?: string;
}

/** Read all of stdin (the item when no argument is given, or `-`). */
async function readStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
	if (stdin.isTTY === true)
		throw new CliError('Expected an item: a JSON argument, `--field key=value`, or JSON on stdin', EXIT.usage);
	const chunks: Buffer[] = [];
	for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
	return Buffer.concat(chunks).toString('utf8');
}

export async function addCommand(
	s: Session,
	itemArg: string | undefined,
	options: AddOptions,
	stdin: NodeJS.ReadableStream & { isTTY?: boolean },
): Promise<void> {
	const fields = options.field ?? [];
	let item: unknown;
	if (fields.length > 0) {
		if (itemArg !== undefined) throw new CliError('Give the item as JSON or as `--field`s, not both', EXIT.usage);
		item = parseFields(fields);
	} else if (itemArg === undefined || itemArg === '-') item = parseItem('stdin', await readStdin(stdin));
	else item = parseItem('the argument', itemArg);
	const task: NewTask<unknown> = {
		item,
		...(options.id === undefined ? {} : { id: options.id }),
		...(options.priority === undefined ? {} : { priority: parseInteger('--priority', options.priority) }),
		...(options.maxAttempts === undefined
			? {}
			: { maxAttempts: parseCount('--max-attempts', options.maxAttempts, 1) }),
		...(options.timeout === undefined ? {} : { timeoutMs: parseDuration('--timeout', options.timeout) }),
		...(options.delay === undefined ? {} : { runAt: Date.now() + parseDuration('--delay', options.delay) }),
	};
	const [added] = await s.scheduler.add([task]);
	if (added === undefined) throw new CliError('The container stored no task', EXIT.failed);
	if (s.json) printJson(s.io, added);
	else s.io.out.write(`added ${added.id}\n`);
}

export async function stopCommand(s: Session, ids: readonly string[]): Promise<void> {
	const out: TaskRecord[] = [];
	for (const id of ids) out.push(await s.scheduler.stop(id));
	if (s.json) printJson(s.io, out);
	else
		for (const t of out)
			s.io.out.write(
				`${t.id}: ${t.status === 'running' && t.stopRequested ? 'stop requested (its scheduler stops it)' : t.status}\n`,
			);
}

/** Run a finished task again: the same id, item and settings, as a new waiting task (its record is replaced). */
export async function retryCommand(s: Session, ids: readonly string[]): Promise<void> {
	const out: TaskRecord[] = [];
	for (const id of ids) {
		const task = await getOrThrow(s, id);
		if (!isFinalStatus(task.status))
			throw new CliError(
				`Task \`${id}\` is ${task.status}: only a finished task (${FINAL_STATUSES.join(', ')}) can be retried`,
				EXIT.conflict,
			);
		const [added] = await s.scheduler.add([
			{
				id,
				item: task.item,
				priority: task.priority,
				maxAttempts: task.maxAttempts,
				...(task.timeoutMs === null ? {} : { timeoutMs: task.timeoutMs }),
			},
		]);
		if (added !== undefined) out.push(added);
	}
	if (s.json) printJson(s.io, out);
	else for (const t of out) s.io.out.write(`${t.id}: waiting again\n`);
}

export async function removeCommand(s: Session, ids: readonly string[]): Promise<void> {
	const missing: string[] = [];
	for (const id of ids) if (!(await s.scheduler.remove(id))) missing.push(id);
	if (s.json) printJson(s.io, { removed: ids.filter((id) => !missing.includes(id)), missing });
	else for (const id of ids) s.io.out.write(`${id}: ${missing.includes(id) ? 'no such task' : 'removed'}\n`);
	if (missing.length > 0) throw new CliError(`No task ${missing.map((id) => `\`${id}\``).join(', ')}`, EXIT.notFound);
}

export interface CleanOptions {
	readonly status?: string;
	readonly olderThan?: string;
	readonly keep?: string;
	readonly limit?: string;
	readonly dryRun?: boolean;
}

/**
 * Delete finished tasks in bulk (`Scheduler.clean`, batches of 1,000, oldest first): those in `--status` (default
 * every final status) that finished more than `--older-than` ago and/or beyond the newest `--keep`, at most
 * `--limit`. `--dry-run` counts what an age rule would delete and deletes nothing.
 */
export async function cleanCommand(s: Session, options: CleanOptions): Promise<void> {
	const statuses: TaskStatus[] =
		options.status === undefined ? [...FINAL_STATUSES] : parseStatuses('--status', options.status);
	for (const status of statuses)
		if (!isFinalStatus(status))
			throw new CliError(
				`Expected \`--status\` to list final statuses (${FINAL_STATUSES.join(', ')}), got ${status}`,
				EXIT.usage,
			);
	const olderThan = options.olderThan === undefined ? undefined : parseDuration('--older-than', options.olderThan);
	const keep = options.keep === undefined ? undefined : parseCount('--keep', options.keep);
	const limit = options.limit === undefined ? undefined : parseCount('--limit', options.limit, 1);
	if (options.dryRun === true && keep !== undefined)
		throw new CliError('`--dry-run` counts by age only: leave out `--keep`', EXIT.usage);
	const removed =
		options.dryRun === true
			? await countOlder(s, statuses, olderThan ?? 0, limit ?? Number.POSITIVE_INFINITY)
			: await cleanWithProgress(s, statuses as FinalStatus[], olderThan, keep, limit);
	if (s.json) printJson(s.io, { removed, dryRun: options.dryRun === true });
	else
		s.io.out.write(
			`${options.dryRun === true ? 'would remove' : 'removed'} ${removed} task${removed === 1 ? '' : 's'}\n`,
		);
}

/** `Scheduler.clean`, with a live count of the batches deleted so far on a terminal (its `tasks:cleaned` events). */
async function cleanWithProgress(
	s: Session,
	status: FinalStatus[],
	olderThan: number | undefined,
	keep: number | undefined,
	limit: number | undefined,
): Promise<number> {
	let removed = 0;
	const line = new StatusLine(s.io, () => `clean: ${removed} removed so far`);
	const count = ({ ids, background }: { ids: readonly string[]; background: boolean }): void => {
		if (!background) removed += ids.length;
	};
	s.scheduler.on('tasks:cleaned', count);
	try {
		return await s.scheduler.clean({
			status,
			...(olderThan === undefined ? {} : { olderThanMs: olderThan }),
			...(keep === undefined ? {} : { keep }),
			...(limit === undefined ? {} : { limit }),
		});
	} finally {
		s.scheduler.off('tasks:cleaned', count);
		line.done();
	}
}

/** How many tasks `clean --older-than` would delete: read in pages of 500, nothing deleted. */
async function countOlder(s: Session, statuses: TaskStatus[], olderThan: number, limit: number): Promise<number> {
	const before = Date.now() - olderThan;
	let due = 0;
	let seen = 0;
	const line = new StatusLine(s.io, () => `clean: ${due} to remove, ${seen} looked at`);
	try {
		for (;;) {
			const page = await s.scheduler.list({ status: statuses, offset: seen, limit: 500, order: 'asc' });
			for (const task of page.tasks) {
				seen++;
				if ((task.finishedAt ?? task.updatedAt) < before) due++;
			}
			if (page.tasks.length === 0 || due >= limit) return Math.min(due, limit);
		}
	} finally {
		line.done();
	}
}

/** Pause or resume claiming for every worker on the container (stored: a restarted worker stays paused). */
export async function pauseCommand(s: Session, paused: boolean): Promise<void> {
	if (paused) await s.scheduler.pauseQueue();
	else await s.scheduler.resumeQueue();
	if (s.json) printJson(s.io, { paused });
	else s.io.out.write(paused ? 'paused: no worker on this container claims tasks until `resume`\n' : 'resumed\n');
}

export interface LogsOptions {
	readonly offset?: string;
	readonly limit?: string;
	readonly follow?: boolean;
}

/** How often `logs --follow` reads the task's new lines. */
const FOLLOW_MS = 500;

/** A task's log lines (oldest first), numbered; `--offset -20` for the newest twenty; `--follow` until it ends. */
export async function logsCommand(s: Session, id: string, options: LogsOptions): Promise<void> {
	const offset = options.offset === undefined ? undefined : parseInteger('--offset', options.offset);
	const limit = options.limit === undefined ? 100 : parseCount('--limit', options.limit);
	if ((await s.scheduler.get(id)) === null) throw new CliError(`No task \`${id}\``, EXIT.notFound);
	const page = await s.scheduler.getLogs(id, { ...(offset === undefined ? {} : { offset }), limit });
	if (options.follow === true) {
		await followLogs(s, id, page);
		return;
	}
	if (s.json) {
		printJson(s.io, page);
		return;
	}
	page.lines.forEach((line, i) => s.io.out.write(`${String(page.offset + i).padStart(5)}  ${line}\n`));
	const dropped = page.dropped > 0 ? `, the oldest ${page.dropped} dropped` : '';
	s.io.err.write(`lines ${page.offset}-${page.offset + page.lines.length - 1} of ${page.total}${dropped}\n`);
}

/**
 * Print `first`, then the task's new lines as they are stored (read every 500 ms) until the task has finished and
 * every line it logged was printed. `--json`: one JSON line per log line, `{ "n": 12, "line": "…" }`.
 */
async function followLogs(s: Session, id: string, first: TaskLogPage): Promise<void> {
	let next = first.offset;
	const print = (page: TaskLogPage): void => {
		if (page.offset > next && next > 0)
			s.io.err.write(`(lines ${next}-${page.offset - 1} were dropped before they could be read)\n`);
		page.lines.forEach((line, i) => {
			const n = page.offset + i;
			s.io.out.write(s.json ? `${JSON.stringify({ n, line })}\n` : `${String(n).padStart(5)}  ${line}\n`);
		});
		next = Math.max(next, page.offset + page.lines.length);
	};
	print(first);
	let ended = false;
	for (;;) {
		// The status first: lines stored before the task ended are read below, after it.
		const task = await s.scheduler.get(id);
		if (task === null) throw new CliError(`Task \`${id}\` was removed while following its log`, EXIT.notFound);
		let page: TaskLogPage;
		do {
			page = await s.scheduler.getLogs(id, { offset: next, limit: 1_000 });
			print(page);
		} while (page.lines.length === 1_000);
		// Once it ended, one more read a moment later: its last lines may still be on their way to the container.
		if (ended) return;
		ended = isFinalStatus(task.status);
		await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS));
	}
}
