/**
 * The dashboard's task API: counts and latency for the sampler, the task list (status filter, offset paging,
 * order, search by id or key), a task's detail, and the actions (stop, retry, remove, clean, pause, resume), all
 * through a `Scheduler` so they behave as the application's own calls do. No read of the list counts the matching
 * tasks (`exactTotal: false`): the list's total comes from the sampler's last counts.
 */
import { FINAL_STATUSES, isFinalStatus, isTaskStatus, TASK_STATUSES } from 'lightsched/kit';
import type { FinalStatus, Scheduler, TaskCounts, TaskRecord, TaskStatus } from 'lightsched';
import { HttpError, intParam, orderParam } from './http.js';
import type { QueueLatency } from './sampler.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyScheduler = Scheduler<any, any>;

/** What the list shows of a task (no item or output: those can be large; the detail has them). */
export interface TaskSummary {
	readonly id: string;
	readonly key: string | null;
	readonly status: TaskStatus;
	readonly priority: number;
	readonly attempts: number;
	readonly maxAttempts: number;
	readonly createdAt: number;
	readonly updatedAt: number;
	readonly startedAt: number | null;
	readonly finishedAt: number | null;
	readonly runAt: number;
	readonly error: string | null;
	readonly stopRequested: boolean;
}

function summary(task: TaskRecord): TaskSummary {
	return {
		id: task.id,
		key: task.key,
		status: task.status,
		priority: task.priority,
		attempts: task.attempts,
		maxAttempts: task.maxAttempts,
		createdAt: task.createdAt,
		updatedAt: task.updatedAt,
		startedAt: task.startedAt,
		finishedAt: task.finishedAt,
		runAt: task.runAt,
		error: task.error?.message ?? null,
		stopRequested: task.stopRequested,
	};
}

const MAX_LIMIT = 500;
/** How many unfinished tasks a search by key looks through (containers have no look-up by key). */
const KEY_SCAN = 20_000;

function statusesParam(params: URLSearchParams, name = 'status'): TaskStatus[] | undefined {
	const raw = params.get(name);
	if (raw === null || raw === '') return undefined;
	const statuses = raw.split(',');
	for (const status of statuses)
		if (!isTaskStatus(status))
			throw new HttpError(400, `Expected \`${name}\` to list statuses, got ${JSON.stringify(status)}`);
	return statuses as TaskStatus[];
}

/** The sampler's last counts (see `CountsSampler.recentCounts`); `null` when they could not be read. */
export type RecentCounts = () => Promise<{ readonly at: number; readonly counts: TaskCounts } | null>;

/**
 * Where a list answer's `total` comes from: `page` — exact, read with the page (the last page, an empty one, a
 * search); `sample` — the sampler's counts of the matching statuses (read at `sampledAt`, so tasks added or
 * finished since are not in it), never less than what the page itself shows; `at-least` — no counts to hand (the
 * sample failed): a lower bound, the tasks up to this page and one more.
 */
export type TotalSource = 'page' | 'sample' | 'at-least';

/** What `GET api/tasks` answers. */
export interface TaskListAnswer {
	readonly tasks: TaskSummary[];
	/** How many tasks match; see `totalFrom`. */
	readonly total: number;
	/** Whether another page follows (the container read one row past the page). */
	readonly more: boolean;
	readonly totalFrom: TotalSource;
	/** When the sampled counts were read (`totalFrom: 'sample'`), else `null`. */
	readonly sampledAt: number | null;
	readonly offset: number;
	readonly limit: number;
	/** The search, when the answer is one. */
	readonly search?: string;
}

/** `GET api/tasks`: a page of tasks; `q` finds a task by id, or the unfinished task holding key `q`. */
export async function listTasks(
	scheduler: AnyScheduler,
	params: URLSearchParams,
	recentCounts: RecentCounts,
): Promise<TaskListAnswer> {
	const status = statusesParam(params);
	const offset = intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER);
	const limit = Math.max(1, intParam(params, 'limit', 50, MAX_LIMIT));
	const order = orderParam(params);
	const q = params.get('q') ?? '';
	if (q !== '') {
		const found = await search(scheduler, q);
		const matching = found.filter((t) => status === undefined || status.includes(t.status));
		return {
			tasks: matching.map(summary),
			total: matching.length,
			more: false,
			totalFrom: 'page',
			sampledAt: null,
			offset: 0,
			limit,
			search: q,
		};
	}
	const [page, sampled] = await Promise.all([
		scheduler.list({ ...(status === undefined ? {} : { status }), offset, limit, order, exactTotal: false }),
		recentCounts(),
	]);
	const tasks = page.tasks.map(summary);
	// Without more tasks the page's total is exact (the container counted an empty page; otherwise it is where the
	// page ends).
	if (!page.more) return { tasks, total: page.total, more: false, totalFrom: 'page', sampledAt: null, offset, limit };
	if (sampled === null)
		return { tasks, total: page.total, more: true, totalFrom: 'at-least', sampledAt: null, offset, limit };
	const counted = [...new Set(status ?? TASK_STATUSES)].reduce((sum, s) => sum + sampled.counts[s], 0);
	return {
		tasks,
		total: Math.max(counted, page.total),
		more: true,
		totalFrom: 'sample',
		sampledAt: sampled.at,
		offset,
		limit,
	};
}

async function search(scheduler: AnyScheduler, q: string): Promise<TaskRecord[]> {
	const byId = await scheduler.get(q);
	if (byId !== null) return [byId];
	// A key is unique among unfinished tasks only; look through them, a bounded number.
	const status: TaskStatus[] = ['waiting', 'running', 'exporting'];
	for (let offset = 0; offset < KEY_SCAN; offset += 1000) {
		const page = await scheduler.list({ status, offset, limit: 1000, order: 'desc', exactTotal: false });
		const hit = page.tasks.find((t) => t.key === q);
		if (hit !== undefined) return [hit];
		if (!page.more) break;
	}
	return [];
}

/** One event of a task's life, for the timeline. */
interface TimelineEntry {
	readonly at: number;
	readonly what: string;
}

function timeline(task: TaskRecord): TimelineEntry[] {
	const entries: TimelineEntry[] = [{ at: task.createdAt, what: 'added' }];
	if (task.runAt > task.createdAt)
		entries.push({ at: task.runAt, what: task.attempts > 0 ? 'due again (retry)' : 'due' });
	if (task.startedAt !== null) entries.push({ at: task.startedAt, what: `attempt ${task.attempts} started` });
	if (task.error !== null && task.status !== 'succeeded' && task.finishedAt === null)
		entries.push({ at: task.updatedAt, what: `attempt failed: ${task.error.message}` });
	if (task.finishedAt !== null) entries.push({ at: task.finishedAt, what: task.status });
	entries.push({ at: task.updatedAt, what: 'last change' });
	return entries.sort((a, b) => a.at - b.at);
}

/** `GET api/tasks/<id>`: the whole record, its timeline and its newest log lines. */
export async function taskDetail(scheduler: AnyScheduler, id: string): Promise<unknown> {
	const task = await scheduler.get(id);
	if (task === null) throw new HttpError(404, `No task \`${id}\``);
	// A container without logs rejects `getLogs`: the page then says there are none.
	const logs = await scheduler.getLogs(id, { offset: -200, limit: 200 }).catch(() => null);
	return { task, timeline: timeline(task), logs };
}

/** `POST api/tasks/<id>/<action>`: stop, retry (a finished task runs again: same id, item and settings) or remove. */
export async function taskAction(scheduler: AnyScheduler, id: string, action: string): Promise<unknown> {
	switch (action) {
		case 'stop':
			return { task: await scheduler.stop(id) };
		case 'retry': {
			const task = await scheduler.get(id);
			if (task === null) throw new HttpError(404, `No task \`${id}\``);
			if (!isFinalStatus(task.status))
				throw new HttpError(
					409,
					`Task \`${id}\` is ${task.status}: only a finished task (${FINAL_STATUSES.join(', ')}) can be retried`,
				);
			const added = await scheduler.add({
				id,
				item: task.item,
				priority: task.priority,
				maxAttempts: task.maxAttempts,
				...(task.timeoutMs === null ? {} : { timeoutMs: task.timeoutMs }),
				...(task.key === null ? {} : { key: task.key }),
			});
			return { task: added };
		}
		case 'remove': {
			if (!(await scheduler.remove(id))) throw new HttpError(404, `No task \`${id}\``);
			return { removed: id };
		}
		default:
			throw new HttpError(404, `No task action \`${action}\` (stop, retry, remove)`);
	}
}

/** `POST api/clean` with `{ status, olderThanMs?, keep?, limit? }`: delete finished tasks in bulk. */
export async function cleanTasks(scheduler: AnyScheduler, body: Record<string, unknown>): Promise<unknown> {
	const raw = body.status ?? [...FINAL_STATUSES];
	const statuses = (Array.isArray(raw) ? raw : [raw]) as unknown[];
	for (const status of statuses)
		if (typeof status !== 'string' || !(FINAL_STATUSES as readonly string[]).includes(status))
			throw new HttpError(400, `Expected \`status\` to be final statuses (${FINAL_STATUSES.join(', ')})`);
	const number = (name: string): number | undefined => {
		const value = body[name];
		if (value === undefined || value === null) return undefined;
		if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
			throw new HttpError(400, `Expected \`${name}\` to be a whole number, got ${JSON.stringify(value)}`);
		return value;
	};
	const olderThanMs = number('olderThanMs');
	const keep = number('keep');
	const limit = number('limit');
	const removed = await scheduler.clean({
		status: statuses as FinalStatus[],
		...(olderThanMs === undefined ? {} : { olderThanMs }),
		...(keep === undefined ? {} : { keep }),
		...(limit === undefined ? {} : { limit }),
	});
	return { removed };
}

/** How long tasks wait: the oldest waiting task by arrival, and the running tasks that arrived last. */
export async function queueLatency(scheduler: AnyScheduler, now: number): Promise<QueueLatency> {
	const [waiting, running] = await Promise.all([
		scheduler.list({ status: 'waiting', order: 'asc', limit: 1, exactTotal: false }),
		scheduler.list({ status: 'running', order: 'desc', limit: 20, exactTotal: false }),
	]);
	const oldest = waiting.tasks[0];
	const waits = running.tasks
		.filter((t) => t.startedAt !== null)
		.map((t) => Math.max(0, (t.startedAt ?? 0) - Math.max(t.createdAt, t.runAt)))
		.sort((a, b) => a - b);
	return {
		oldestWaitingMs: oldest === undefined ? null : Math.max(0, now - Math.max(oldest.createdAt, oldest.runAt)),
		recentWaitMs: waits.length === 0 ? null : (waits[Math.floor(waits.length / 2)] ?? null),
		recentCount: waits.length,
	};
}
