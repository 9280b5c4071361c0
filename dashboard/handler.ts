/**
 * The dashboard as a plain Node request handler: the page and its assets, the JSON API under `api/`, the live
 * stream of counts (`api/events`, server-sent events) and, given a registry, `metrics`. Actions are POST only and
 * need the `X-Lightsched-Dashboard: 1` header, which a cross-site form or image cannot send (and a cross-site
 * script cannot without a CORS preflight, which the dashboard never allows): that is its CSRF guard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { metricsHandler } from 'lightsched/metrics';
import { InvalidStateError } from 'lightsched/kit';
import { loadAsset } from './assets.js';
import { HttpError, readJsonBody, safetyHeaders, sendError, sendJson } from './http.js';
import { resolveOptions, type DashboardOptions, type ResolvedDashboardOptions } from './options.js';
import { listRuns, retryFailed, runCommand, runDetail, runsSource, type RunsSource } from './runs-api.js';
import { CountsSampler, type StatsSnapshot } from './sampler.js';
import { cleanTasks, listTasks, queueLatency, taskAction, taskDetail } from './task-api.js';

/** A Node request handler (`node:http`, Express, Fastify's `reply.raw`, Koa's `ctx.req`/`ctx.res`) with a `close`. */
export interface DashboardHandler {
	/**
	 * Answer a request. One outside the dashboard's paths goes to `next` when given (Express, Connect), else gets 404.
	 */
	(request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
	/** Stop the sampler and end the live streams; a scheduler the dashboard made for `container` is closed too. */
	close(): Promise<void>;
}

/** The header every action must carry (the CSRF guard). */
export const ACTION_HEADER = 'x-lightsched-dashboard';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyScheduler = Scheduler<any, any>;

/** The container as the dashboard's own scheduler sees it: everything but `close`, which stays the owner's. */
function keepOpen(container: TaskContainer): TaskContainer {
	return new Proxy(container, {
		get(target, name) {
			if (name === 'close') return () => Promise.resolve();
			const value: unknown = Reflect.get(target, name, target);
			return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
		},
	});
}

function adminScheduler(container: TaskContainer): AnyScheduler {
	const scheduler = new Scheduler<unknown, unknown>({
		container: keepOpen(container),
		autoStart: false,
		actuator: new FunctionActuator(() => {
			throw new InvalidStateError('The dashboard only administers the container; it runs nothing');
		}),
	});
	// Background trouble (a lease sweep failing while the server is down) shows as a failed sample instead.
	scheduler.on('error', () => {});
	return scheduler;
}

/** Whether `auth` lets the request through (a throw or rejection refuses it). */
async function allowed(auth: (request: IncomingMessage) => boolean | Promise<boolean>, request: IncomingMessage) {
	try {
		return (await auth(request)) === true;
	} catch {
		return false;
	}
}

function decodePart(part: string): string {
	try {
		return decodeURIComponent(part);
	} catch {
		throw new HttpError(400, `The path segment ${JSON.stringify(part)} is not valid percent-encoding`);
	}
}

/** Make the dashboard's request handler. */
export function dashboardHandler(options: DashboardOptions): DashboardHandler {
	const resolved = resolveOptions(options);
	return createHandler(options, resolved);
}

/** `dashboardHandler` with the options already checked (`startDashboard` checks its own first). */
export function createHandler(options: DashboardOptions, resolved: ResolvedDashboardOptions): DashboardHandler {
	const own = options.scheduler === undefined;
	const scheduler: AnyScheduler = options.scheduler ?? adminScheduler(options.container as TaskContainer);
	const runs: RunsSource | null = options.workflows === undefined ? null : runsSource(options.workflows);
	const registry = options.registry ?? null;
	const sampler = new CountsSampler(
		{
			counts: () => scheduler.counts(),
			latency: (now) => queueLatency(scheduler, now),
			paused: () => scheduler.isQueuePaused().catch(() => null),
		},
		resolved.sampleMs,
	);
	const streams = new Set<ServerResponse>();
	const info = {
		title: resolved.title,
		readOnly: resolved.readOnly,
		auth: resolved.auth !== null,
		workflows: runs !== null,
		runCommands: runs?.engine != null,
		metrics: registry !== null,
		sampleMs: resolved.sampleMs,
	};

	async function api(request: IncomingMessage, response: ServerResponse, parts: string[], params: URLSearchParams) {
		const method = request.method ?? 'GET';
		const [head, id, action] = parts;
		if (method === 'POST') {
			if (request.headers[ACTION_HEADER] !== '1')
				throw new HttpError(403, `Actions need the \`X-Lightsched-Dashboard: 1\` header`);
			if (request.headers['sec-fetch-site'] === 'cross-site')
				throw new HttpError(403, 'Actions from another site are refused');
			if (resolved.readOnly) throw new HttpError(403, 'The dashboard is read-only');
			const body = await readJsonBody(request);
			if (head === 'tasks' && id !== undefined && action !== undefined && parts.length === 3)
				return taskAction(scheduler, id, action);
			if (head === 'clean' && parts.length === 1) return cleanTasks(scheduler, body);
			if (head === 'queue' && (id === 'pause' || id === 'resume') && parts.length === 2) {
				if (id === 'pause') await scheduler.pauseQueue();
				else await scheduler.resumeQueue();
				return { paused: id === 'pause' };
			}
			if (head === 'runs' && runs !== null && id === 'retryFailed' && parts.length === 2)
				return retryFailed(runs, body);
			if (head === 'runs' && runs !== null && id !== undefined && action !== undefined && parts.length === 3)
				return runCommand(runs, id, action, body);
			throw new HttpError(404, 'No such action');
		}
		if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not allowed here`);
		if (head === 'info' && parts.length === 1) return info;
		if (head === 'stats' && parts.length === 1) return sampler.poll();
		if (head === 'tasks' && parts.length === 1) return listTasks(scheduler, params, () => sampler.recentCounts());
		if (head === 'tasks' && id !== undefined && parts.length === 2) return taskDetail(scheduler, id);
		if (head === 'runs' && runs !== null && parts.length === 1) return listRuns(runs, params);
		if (head === 'runs' && runs !== null && id !== undefined && parts.length === 2) return runDetail(runs, id);
		throw new HttpError(404, 'No such API path');
	}

	function stream(request: IncomingMessage, response: ServerResponse): void {
		response.writeHead(200, {
			...safetyHeaders(),
			'content-type': 'text/event-stream; charset=utf-8',
			'cache-control': 'no-store',
			'x-accel-buffering': 'no',
			connection: 'keep-alive',
		});
		response.write('retry: 3000\n\n');
		const send = (snapshot: StatsSnapshot) => response.write(`event: stats\ndata: ${JSON.stringify(snapshot)}\n\n`);
		const unsubscribe = sampler.subscribe(send);
		void sampler.poll().then((snapshot) => {
			if (!response.writableEnded) send(snapshot);
		});
		const heartbeat = setInterval(() => response.write(': ping\n\n'), 15_000);
		heartbeat.unref?.();
		streams.add(response);
		const end = () => {
			clearInterval(heartbeat);
			unsubscribe();
			streams.delete(response);
		};
		request.on('close', end);
		response.on('close', end);
	}

	async function serveAsset(request: IncomingMessage, response: ServerResponse, name: string): Promise<boolean> {
		const loading = loadAsset(name);
		if (loading === null) return false;
		const asset = await loading;
		const headers = {
			...safetyHeaders(),
			'content-type': asset.type,
			etag: asset.etag,
			'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=300',
		};
		if (request.headers['if-none-match'] === asset.etag) {
			response.writeHead(304, headers).end();
			return true;
		}
		response.writeHead(200, { ...headers, 'content-length': asset.body.length });
		response.end(request.method === 'HEAD' ? undefined : asset.body);
		return true;
	}

	async function handle(request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) {
		const url = new URL(request.url ?? '/', 'http://localhost');
		let path = url.pathname;
		if (resolved.basePath !== '') {
			if (path !== resolved.basePath && !path.startsWith(`${resolved.basePath}/`)) return pass();
			path = path.slice(resolved.basePath.length);
		}
		if (path === '' || path === '/' || path === '/index.html') {
			// Relative asset URLs need the trailing slash: `/dash` -> `/dash/` (also behind Express's mount).
			const original = new URL(
				(request as { originalUrl?: string }).originalUrl ?? request.url ?? '/',
				'http://localhost',
			);
			if (path === '' || (path === '/' && !original.pathname.endsWith('/'))) {
				response.writeHead(301, { location: `${original.pathname}/${original.search}` }).end();
				return;
			}
			if (!(await serveAsset(request, response, 'index.html'))) return pass();
			return;
		}
		const parts = path.split('/').slice(1);
		if (parts[0] === 'assets' && parts.length === 2 && request.method !== 'POST') {
			if (await serveAsset(request, response, parts[1] ?? '')) return;
			return pass();
		}
		const isApi = parts[0] === 'api';
		const isMetrics = registry !== null && path === '/metrics';
		if (!isApi && !isMetrics) return pass();
		if (resolved.auth !== null && !(await allowed(resolved.auth, request))) {
			response.writeHead(401, {
				...safetyHeaders(),
				'www-authenticate': 'Bearer',
				'content-type': 'application/json',
			});
			response.end(JSON.stringify({ error: { message: 'Not authorised', code: 'HTTP_401' } }));
			return;
		}
		if (isMetrics) return metricsHandler(registry, url.pathname)(request, response);
		const apiParts = parts.slice(1).map(decodePart);
		if (apiParts.length === 1 && apiParts[0] === 'events' && request.method === 'GET')
			return stream(request, response);
		const value = await api(request, response, apiParts, url.searchParams);
		sendJson(response, 200, value);

		function pass(): void {
			if (next !== undefined) next();
			else sendJson(response, 404, { error: { message: 'Not found', code: 'HTTP_404' } });
		}
	}

	const handler = ((request, response, next) => {
		handle(request, response, next).catch((error: unknown) => sendError(response, error));
	}) as DashboardHandler;
	handler.close = async () => {
		sampler.close();
		for (const response of streams) response.end();
		streams.clear();
		if (own) await scheduler.close();
	};
	return handler;
}
