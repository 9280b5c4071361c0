/**
 * The app's HTTP routes: the JSON API over the scheduler, the event stream, the media files (looked up by task
 * id, never by a path from the request) and the page's three static files.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DuplicateTaskError, InvalidStateError, type Persistencer, type Scheduler } from 'lightsched';
import { isFinalStatus } from 'lightsched/kit';
import { parseCutRequest, toTaskView, type CutItem, type CutOutput, type CutTask } from './cut-task.js';
import type { EventStream } from './event-stream.js';
import { HttpError, queryInteger, readJsonBody, sendError, sendJson, sendText } from './http-util.js';
import { listVideoFiles, resolveMediaFile, sendVideo } from './media.js';
import type { RunRoutes } from './run-routes.js';

/** The page's files, by URL path. Nothing else is served from disk but videos. */
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
	'/': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
	'/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The page may load only its own script, style and media; no inline script runs. */
const PAGE_POLICY =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Task ids this app creates and accepts in URLs. */
const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The largest page size `GET /api/tasks` serves. */
export const MAX_PAGE_SIZE = 100;

export interface RoutesOptions {
	readonly scheduler: Scheduler<CutItem, CutOutput>;
	readonly persistencer: Persistencer<CutOutput> | undefined;
	readonly events: EventStream;
	readonly mediaDir: string;
	readonly publicDir: string;
	/** The workflow runs' routes (`/api/runs…`, `/media/run/…`), when the app runs the workflow. */
	readonly runs?: RunRoutes;
}

export class Routes {
	readonly #o: RoutesOptions;
	readonly #static = new Map<string, Buffer>();

	constructor(options: RoutesOptions) {
		this.#o = options;
	}

	/** Answer one request; every failure becomes a JSON error with a status. */
	async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		try {
			await this.#route(req, res);
		} catch (error) {
			if (error instanceof HttpError) sendError(res, error);
			else {
				const message = error instanceof Error ? error.message : String(error);
				sendError(res, new HttpError(500, `Internal error: ${message}`));
			}
		}
	}

	async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const url = new URL(req.url ?? '/', 'http://app.invalid');
		const path = url.pathname;
		const method = req.method ?? 'GET';
		const parts = path.split('/').slice(1);
		const page = STATIC_FILES[path];
		if (page !== undefined) {
			allow(method, ['GET', 'HEAD']);
			const body = await this.#staticFile(page.file);
			sendText(res, 200, page.type, body, {
				'content-security-policy': PAGE_POLICY,
				'cache-control': 'no-cache',
			});
			return;
		}
		if (this.#o.runs !== undefined && (await this.#o.runs.handle(req, res, url))) return;
		if (parts[0] === 'media' && parts.length === 3 && (parts[1] === 'input' || parts[1] === 'output')) {
			allow(method, ['GET', 'HEAD']);
			await this.#media(req, res, parts[1], taskId(parts[2]));
			return;
		}
		if (parts[0] !== 'api') throw new HttpError(404, `Nothing at ${JSON.stringify(path.slice(0, 100))}`);
		if (path === '/api/tasks') {
			if (method === 'GET') return this.#list(res, url.searchParams);
			allow(method, ['GET', 'POST']);
			return this.#create(req, res);
		}
		if (path === '/api/inputs') {
			allow(method, ['GET']);
			sendJson(res, 200, { inputs: await listVideoFiles(this.#o.mediaDir) });
			return;
		}
		if (path === '/api/events') {
			allow(method, ['GET']);
			this.#o.events.open(req, res);
			return;
		}
		if (parts[1] === 'tasks' && parts.length === 3) {
			const id = taskId(parts[2]);
			if (method === 'GET') return this.#get(res, id);
			allow(method, ['GET', 'DELETE']);
			return this.#remove(res, id);
		}
		if (parts[1] === 'tasks' && parts.length === 4 && (parts[3] === 'stop' || parts[3] === 'restart')) {
			allow(method, ['POST']);
			const id = taskId(parts[2]);
			return parts[3] === 'stop' ? this.#stop(res, id) : this.#restart(res, id);
		}
		throw new HttpError(404, `No API at ${JSON.stringify(path.slice(0, 100))}`);
	}

	async #staticFile(file: string): Promise<Buffer> {
		let body = this.#static.get(file);
		if (body === undefined) {
			body = await readFile(join(this.#o.publicDir, file));
			this.#static.set(file, body);
		}
		return body;
	}

	async #list(res: ServerResponse, params: URLSearchParams): Promise<void> {
		const offset = queryInteger(params, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
		const limit = queryInteger(params, 'limit', 10, 1, MAX_PAGE_SIZE);
		const page = await this.#o.scheduler.list({ offset, limit, order: 'desc' });
		sendJson(res, 200, { tasks: page.tasks.map(toTaskView), total: page.total, offset, limit });
	}

	async #create(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const body = await readJsonBody(req);
		const item = parseCutRequest(body, await listVideoFiles(this.#o.mediaDir));
		for (let tries = 0; ; tries++) {
			try {
				const task = await this.#o.scheduler.add({ id: `cut-${randomBytes(4).toString('hex')}`, item });
				sendJson(res, 201, { task: toTaskView(task) });
				return;
			} catch (error) {
				if (!(error instanceof DuplicateTaskError) || tries >= 3) throw error;
			}
		}
	}

	async #task(id: string): Promise<CutTask> {
		const task = await this.#o.scheduler.get(id);
		if (task === null) throw new HttpError(404, `No task with id ${JSON.stringify(id)}`);
		return task;
	}

	async #get(res: ServerResponse, id: string): Promise<void> {
		sendJson(res, 200, { task: toTaskView(await this.#task(id)) });
	}

	async #stop(res: ServerResponse, id: string): Promise<void> {
		const task = await this.#task(id);
		if (isFinalStatus(task.status))
			throw new HttpError(
				409,
				`Task ${JSON.stringify(id)} has already ${task.status === 'stopped' ? 'been stopped' : task.status}; nothing to stop`,
			);
		const stopped = await this.#o.scheduler.stop(id);
		sendJson(res, 200, { task: toTaskView(stopped) });
	}

	async #restart(res: ServerResponse, id: string): Promise<void> {
		const task = await this.#task(id);
		if (!isFinalStatus(task.status))
			throw new HttpError(
				409,
				`Task ${JSON.stringify(id)} is ${task.status}; only a finished task can be restarted`,
			);
		let added: CutTask;
		try {
			added = await this.#o.scheduler.add({ id, item: task.item });
		} catch (error) {
			if (error instanceof DuplicateTaskError)
				throw new HttpError(409, `Task ${JSON.stringify(id)} was restarted already`);
			throw error;
		}
		sendJson(res, 200, { task: toTaskView(added) });
	}

	async #remove(res: ServerResponse, id: string): Promise<void> {
		const task = await this.#task(id);
		if (!isFinalStatus(task.status))
			throw new HttpError(409, `Task ${JSON.stringify(id)} is ${task.status}; stop it before deleting it`);
		let removed: boolean;
		try {
			removed = await this.#o.scheduler.remove(id);
		} catch (error) {
			if (error instanceof InvalidStateError)
				throw new HttpError(409, `Task ${JSON.stringify(id)} is running again; stop it before deleting it`);
			throw error;
		}
		if (!removed) throw new HttpError(404, `No task with id ${JSON.stringify(id)}`);
		this.#o.events.publish('task', { type: 'removed', id });
		sendJson(res, 200, { removed: id });
	}

	async #media(req: IncomingMessage, res: ServerResponse, kind: 'input' | 'output', id: string): Promise<void> {
		const task = await this.#task(id);
		let name: unknown;
		if (kind === 'input') name = task.item.input;
		else {
			if (task.status !== 'succeeded')
				throw new HttpError(404, `Task ${JSON.stringify(id)} has no output (it is ${task.status})`);
			name = task.output ?? (await this.#o.persistencer?.get?.(id));
		}
		const path = await resolveMediaFile(this.#o.mediaDir, name);
		if (path === null)
			throw new HttpError(404, `The ${kind} video of task ${JSON.stringify(id)} is not in the media folder`);
		await sendVideo(req, res, path);
	}
}

function allow(method: string, methods: readonly string[]): void {
	if (!methods.includes(method))
		throw new HttpError(405, `Expected method ${methods.join(' or ')}, got ${method.slice(0, 20)}`);
}

function taskId(raw: string | undefined): string {
	let id: string;
	try {
		id = decodeURIComponent(raw ?? '');
	} catch {
		throw new HttpError(400, 'Expected a task id (letters, digits, - and _)', 'id');
	}
	if (!TASK_ID.test(id))
		throw new HttpError(
			400,
			`Expected a task id (letters, digits, - and _), got ${JSON.stringify(id.slice(0, 40))}`,
			'id',
		);
	return id;
}
