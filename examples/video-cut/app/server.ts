/**
 * The video-cut web app: a page to create, watch, stop, restart, delete and play video cuts, over a JSON API
 * on node:http. The cuts are tasks of a lightsched `Scheduler` (see `cut-scheduler.ts`); the page hears of
 * every change through server-sent events.
 */
import { mkdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Scheduler, TaskRecord } from 'lightsched';
import type { RestoreResult } from 'lightsched/containers/combined';
import { createCutScheduler } from './cut-scheduler.js';
import { createCutWorkflow, type CutWorkflow } from './cut-workflow.js';
import { progressFraction, toTaskView, type CutItem, type CutOutput } from './cut-task.js';
import { EventStream } from './event-stream.js';
import { HttpError, sendError } from './http-util.js';
import { Routes } from './routes.js';
import { RunRoutes } from './run-routes.js';
import { parseStepTaskId } from 'lightsched/workflows';

export interface VideoCutAppOptions {
	/** Where the app keeps its state (the SQLite file). Created when missing. */
	readonly dataDir: string;
	/** The folder of input videos; the cut service writes its outputs there too. Must exist. */
	readonly mediaDir: string;
	/** The cut service's base URL (`http://127.0.0.1:8001`). */
	readonly serviceUrl: string;
	/**
	 * The port to listen on; `0` picks a free one.
	 * @default 0
	 */
	readonly port?: number;
	/**
	 * The address to listen on. Keep the loopback address unless the page must be reachable from elsewhere:
	 * the app has no login.
	 * @default '127.0.0.1'
	 */
	readonly host?: string;
	/**
	 * Where the scheduler's internal errors (a failed container write, an unreachable service) are reported.
	 * @default console.error
	 */
	readonly onError?: (error: Error) => void;
}

export interface VideoCutApp {
	/** The page's address, `http://127.0.0.1:PORT/`. */
	readonly url: string;
	readonly port: number;
	readonly host: string;
	readonly server: Server;
	readonly scheduler: Scheduler<CutItem, CutOutput>;
	/** The cut → thumbnail + preview workflow: its engine and the scheduler of its step tasks. */
	readonly workflow: CutWorkflow;
	/** What the start found in the database: waiting tasks restored, and cuts a dead process left running (recovered). */
	readonly restored: RestoreResult;
	/** Stop the server and the scheduler (running cuts are stopped and wait for the next start). */
	close(): Promise<void>;
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The host name of a `Host` header (`127.0.0.1:8000` → `127.0.0.1`). */
function hostName(header: string | undefined): string {
	if (header === undefined) return '';
	const match = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(header.trim().toLowerCase());
	return match?.[1] ?? '';
}

/**
 * Refuse requests that a foreign page could make through the user's browser: a `Host` that is not the
 * loopback name (DNS rebinding) when bound to loopback, and a state-changing request from another origin.
 */
function checkCaller(req: IncomingMessage, loopbackOnly: boolean): void {
	if (loopbackOnly && !LOOPBACK_HOSTS.has(hostName(req.headers.host))) {
		throw new HttpError(421, 'Expected the Host header to name the loopback address (127.0.0.1 or localhost)');
	}
	const method = req.method ?? 'GET';
	if (method === 'GET' || method === 'HEAD') return;
	const origin = req.headers.origin;
	if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
		throw new HttpError(403, "Expected a request from the app's own page (the Origin header names another site)");
	}
}

function checkPort(port: unknown): number {
	if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
		throw new TypeError(`Expected \`port\` to be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
	}
	return port;
}

/** Start the app: open (or create) the task store, start the scheduler, and listen. */
export async function createVideoCutApp(options: VideoCutAppOptions): Promise<VideoCutApp> {
	for (const name of ['dataDir', 'mediaDir', 'serviceUrl'] as const) {
		if (typeof options[name] !== 'string' || options[name].length === 0) {
			throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${JSON.stringify(options[name])}`);
		}
	}
	const port = checkPort(options.port ?? 0);
	const host = options.host ?? '127.0.0.1';
	const onError = options.onError ?? ((error: Error) => console.error(`[video-cut] ${error.message}`));
	const media = await stat(options.mediaDir).catch(() => null);
	if (media === null || !media.isDirectory())
		throw new TypeError(`Expected \`mediaDir\` to be an existing folder, got ${JSON.stringify(options.mediaDir)}`);
	await mkdir(options.dataDir, { recursive: true });

	const { scheduler, persistencer, restored } = await createCutScheduler({
		dataDir: options.dataDir,
		serviceUrl: options.serviceUrl,
	});
	let workflow: CutWorkflow;
	try {
		workflow = await createCutWorkflow({ dataDir: options.dataDir, serviceUrl: options.serviceUrl });
	} catch (error) {
		await scheduler.close();
		throw error;
	}
	const events = new EventStream();
	const lastProgress = new Map<string, number | null>();
	const publish =
		(type: string) =>
		({ task }: { task: TaskRecord<CutItem, CutOutput> }) => {
			if (type !== 'progress') lastProgress.delete(task.id);
			events.publish('task', { type, task: toTaskView(task) });
		};
	for (const type of ['added', 'started', 'succeeded', 'retrying', 'failed', 'stopped'] as const)
		scheduler.on(`task:${type}`, publish(type));
	scheduler.on('task:progress', ({ task, progress }) => {
		// The service is polled every 300 ms; tell the pages only when the figure moved.
		const fraction = progressFraction(progress);
		if (lastProgress.get(task.id) === fraction) return;
		lastProgress.set(task.id, fraction);
		publish('progress')({ task });
	});
	scheduler.on('error', onError);
	// Runs: the page reloads a run on any change of it, and moves a step's progress bar in place.
	for (const type of [
		'run:created',
		'run:status',
		'step:started',
		'step:succeeded',
		'step:failed',
		'step:stopped',
	] as const)
		workflow.workflows.on(type, ({ run }) => events.publish('run', { type, runId: run.id }));
	workflow.workflows.on('error', onError);
	workflow.scheduler.on('error', onError);
	const lastStepProgress = new Map<string, number | null>();
	workflow.scheduler.on('task:progress', ({ task, progress }) => {
		const ref = parseStepTaskId(task.id);
		const fraction = progressFraction(progress);
		if (ref === null || lastStepProgress.get(task.id) === fraction) return;
		lastStepProgress.set(task.id, fraction);
		events.publish('run', { type: 'progress', runId: ref.runId, stepId: ref.stepId, progress: fraction });
	});
	for (const type of ['succeeded', 'failed', 'stopped'] as const)
		workflow.scheduler.on(`task:${type}`, ({ task }) => lastStepProgress.delete(task.id));

	const runs = new RunRoutes({ workflow, mediaDir: options.mediaDir });
	const routes = new Routes({
		scheduler,
		persistencer,
		events,
		mediaDir: options.mediaDir,
		publicDir: PUBLIC_DIR,
		runs,
	});
	const loopbackOnly = LOOPBACK_HOSTS.has(host);
	const server = createServer((req: IncomingMessage, res: ServerResponse) => {
		try {
			checkCaller(req, loopbackOnly);
		} catch (error) {
			sendError(res, error as HttpError);
			return;
		}
		void routes.handle(req, res);
	});
	try {
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(port, host, () => {
				server.off('error', reject);
				resolve();
			});
		});
	} catch (error) {
		events.close();
		await workflow.close();
		await scheduler.close();
		throw error;
	}
	const address = server.address() as AddressInfo;
	const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
	let closing: Promise<void> | null = null;
	return {
		url: `http://${urlHost}:${address.port}/`,
		port: address.port,
		host,
		server,
		scheduler,
		workflow,
		restored,
		close() {
			closing ??= (async () => {
				events.close();
				const closed = new Promise<void>((resolve) => server.close(() => resolve()));
				server.closeAllConnections();
				await workflow.close();
				await scheduler.close();
				await closed;
			})();
			return closing;
		},
	};
}
