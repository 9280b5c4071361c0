/**
 * A real HTTP job service for the HttpActuator tests (node:http on 127.0.0.1, a random port). A job runs for
 * `durationMs`, reporting progress, then succeeds with `output` or fails with `fail`. Its `logs` lines appear one
 * by one over its run (all of them once it ended) and status answers carry them from the `logsFrom` asked for
 * (`logsMode: 'all'`: every line each time, with `logsFrom: 0`). `behaviour` makes the service misbehave on purpose.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JobSpec {
	readonly durationMs?: number;
	readonly output?: unknown;
	readonly fail?: string;
	/** Log lines, appearing one by one over `durationMs`. */
	readonly logs?: readonly string[];
	/** `'offset'` (default): the lines from the `logsFrom` asked for; `'all'`: every line each time, `logsFrom: 0`. */
	readonly logsMode?: 'offset' | 'all';
}

interface Job {
	readonly id: string;
	readonly startedAt: number;
	readonly spec: JobSpec;
	stopped: boolean;
}

export type Behaviour = 'normal' | 'hang' | 'garbage' | 'no-id' | 'error500' | 'status-hang' | 'status-garbage';

export interface JobService {
	readonly url: string;
	readonly port: number;
	behaviour: Behaviour;
	/** Every request received, as `METHOD /path`. */
	readonly requests: string[];
	/** The `logsFrom` of every status request that had one, in order. */
	readonly logsFromAsked: number[];
	/** Requests whose client went away before an answer (an aborted fetch). */
	abandoned: number;
	/** The headers of the last request. */
	lastHeaders: IncomingMessage['headers'];
	readonly jobs: Map<string, Job>;
	/** Stop listening and cut every open connection (the service dies). */
	kill(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { 'content-type': 'application/json' });
	res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		let text = '';
		req.setEncoding('utf8');
		req.on('data', (chunk: string) => (text += chunk));
		req.on('end', () => resolve(text));
		req.on('error', reject);
	});
}

function logsOf(job: Job, from: number | undefined, ended: boolean): Record<string, unknown> {
	const all = job.spec.logs;
	if (all === undefined || from === undefined) return {};
	const duration = job.spec.durationMs ?? 100;
	const visible = ended
		? all.length
		: Math.min(all.length, Math.floor(((Date.now() - job.startedAt) / duration) * all.length));
	if (job.spec.logsMode === 'all') return { logs: all.slice(0, visible), logsFrom: 0 };
	return { logs: all.slice(from, Math.max(from, visible)) };
}

function statusOf(job: Job, from?: number): Record<string, unknown> {
	const duration = job.spec.durationMs ?? 100;
	const elapsed = Date.now() - job.startedAt;
	const ended = job.stopped || elapsed >= duration;
	return { ...jobStatus(job, duration, elapsed), ...logsOf(job, from, ended) };
}

function jobStatus(job: Job, duration: number, elapsed: number): Record<string, unknown> {
	if (job.stopped) return { id: job.id, status: 'failed', error: 'stopped' };
	if (elapsed < duration)
		return { id: job.id, status: 'running', progress: Math.round((elapsed / duration) * 100) / 100 };
	if (job.spec.fail !== undefined) return { id: job.id, status: 'failed', error: job.spec.fail };
	return { id: job.id, status: 'succeeded', progress: 1 };
}

/** Start the service on 127.0.0.1 (on `port`, or a random one). */
export async function startJobService(port = 0): Promise<JobService> {
	const jobs = new Map<string, Job>();
	let counter = 0;
	const service: Partial<JobService> & {
		behaviour: Behaviour;
		requests: string[];
		logsFromAsked: number[];
		abandoned: number;
		lastHeaders: IncomingMessage['headers'];
	} = {
		behaviour: 'normal',
		abandoned: 0,
		requests: [],
		logsFromAsked: [],
		lastHeaders: {},
	};
	const server: Server = createServer((req, res) => {
		void (async () => {
			const path = (req.url ?? '/').split('?')[0] ?? '/';
			service.requests.push(`${req.method ?? ''} ${path}`);
			service.lastHeaders = req.headers;
			res.on('close', () => {
				if (!res.writableFinished) service.abandoned++;
			});
			const text = await readBody(req);
			const behaviour = service.behaviour;
			if (req.method === 'POST' && path === '/jobs') {
				if (behaviour === 'hang') return;
				if (behaviour === 'garbage') {
					res.writeHead(202, { 'content-type': 'application/json' });
					res.end('{"id": "job-');
					return;
				}
				if (behaviour === 'error500') return send(res, 500, { error: 'disk full' });
				if (behaviour === 'no-id') return send(res, 202, { job: 'x' });
				const spec = (text.length > 0 ? JSON.parse(text) : {}) as JobSpec;
				const id = `job-${++counter}`;
				jobs.set(id, { id, startedAt: Date.now(), spec, stopped: false });
				return send(res, 202, { id });
			}
			const match = /^\/jobs\/([^/]+)(\/output|\/stop)?$/.exec(path);
			const job = match ? jobs.get(decodeURIComponent(match[1] ?? '')) : undefined;
			if (!match || !job) return send(res, 404, { error: `no job at ${path}` });
			if (req.method === 'GET' && match[2] === undefined) {
				if (behaviour === 'status-hang') return;
				if (behaviour === 'status-garbage') return send(res, 200, { state: 'weird' });
				const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('logsFrom');
				if (asked !== null) service.logsFromAsked.push(Number(asked));
				return send(res, 200, statusOf(job, asked === null ? undefined : Number(asked)));
			}
			if (req.method === 'GET' && match[2] === '/output')
				return send(res, 200, { id: job.id, output: job.spec.output });
			if (req.method === 'POST' && match[2] === '/stop') {
				job.stopped = true;
				return send(res, 200, { id: job.id, status: 'failed' });
			}
			return send(res, 405, { error: 'method not allowed' });
		})();
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => resolve());
	});
	const address = server.address() as AddressInfo;
	return Object.assign(service, {
		url: `http://127.0.0.1:${address.port}`,
		port: address.port,
		jobs,
		kill: async () => {
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	}) as JobService;
}

/** A loopback port nothing listens on (for now). */
export async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
	const { port } = server.address() as AddressInfo;
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}
