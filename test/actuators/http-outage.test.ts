/**
 * The HTTP service failing in the ways a deployment sees (issue 11 item 6), played by a tiny node:http
 * server: a proxy's HTML error page instead of the service's JSON, a web page where the job service was
 * expected, a gateway error during polling, a refused connection. Each ends in an `ActuatorError` naming the
 * URL, within the request timeout and retry bounds, and the task stays stored with that error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { HttpActuator, HttpStatusError, type HttpActuatorOptions } from 'lightsched/actuators/http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const NGINX_502 =
	'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';
const LOGIN_PAGE =
	'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign in · Example Portal</title></head><body><form>…</form></body></html>';

/** A server on a loopback port answering with `handler`; `requests` lists `METHOD /path` (the query left out). */
async function serve(handler: Handler): Promise<{ url: string; requests: string[]; server: Server }> {
	const requests: string[] = [];
	const server = createServer((req, res) => {
		requests.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
		req.resume();
		req.on('end', () => handler(req, res));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
	return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

const html = (res: ServerResponse, status: number, body: string): void => {
	res.writeHead(status, { 'content-type': 'text/html' }).end(body);
};
const json = (res: ServerResponse, status: number, body: unknown): void => {
	res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

function options(url: string, extra: Partial<HttpActuatorOptions> = {}): HttpActuatorOptions {
	return {
		baseUrl: url,
		start: { path: '/jobs' },
		status: { path: '/jobs/{ref}' },
		stop: { path: '/jobs/{ref}/stop' },
		retryDelayMs: 20,
		timeoutMs: 1_000,
		...extra,
	};
}

function scheduler(actuator: HttpActuator): Scheduler {
	const made = new Scheduler({
		container: new QueueContainer(),
		actuator,
		pollIntervalMs: 20,
		backoff: { type: 'fixed', delayMs: 10 },
	});
	made.on('error', () => undefined);
	cleanups.push(() => made.close());
	return made;
}

async function runOne(s: Scheduler, id: string, maxAttempts = 1): Promise<TaskRecord> {
	const finished = s.finished();
	await s.add({ id, item: {}, maxAttempts });
	for await (const task of finished) if (task.id === id) return task;
	throw new Error('closed before the task finished');
}

describe('HttpActuator: a service that answers with HTML or not at all', { timeout: 60_000 }, () => {
	it("names a proxy's HTML error page by its title, not by 200 characters of markup", async () => {
		const svc = await serve((_req, res) => html(res, 502, NGINX_502));
		const s = scheduler(new HttpActuator(options(svc.url)));
		const task = await runOne(s, 'proxied', 2);
		expect(task.status).toBe('failed');
		expect(task.attempts).toBe(2);
		expect(task.error?.code).toBe('ERR_ACTUATOR');
		expect(task.error?.message).toBe(
			`POST ${svc.url}/jobs answered HTTP 502 with an HTML page titled "502 Bad Gateway"`,
		);
		expect((await s.get('proxied'))?.status).toBe('failed');
	});

	it('says an HTML page answered where the job service was expected (a wrong baseUrl)', async () => {
		const svc = await serve((_req, res) => html(res, 200, LOGIN_PAGE));
		const s = scheduler(new HttpActuator(options(svc.url)));
		const task = await runOne(s, 'portal');
		expect(task.error?.message).toBe(
			`POST ${svc.url}/jobs answered HTTP 200 with an HTML page titled "Sign in · Example Portal" instead of JSON (is \`baseUrl\` the job service, not a web page or a proxy's?)`,
		);
	});

	it('counts a gateway error during polling as an outage: the job is still polled, and it succeeds once the gateway is back', async () => {
		let statusCalls = 0;
		const svc = await serve((req, res) => {
			if (req.method === 'POST') return json(res, 202, { id: 'job-1' });
			statusCalls++;
			if (statusCalls <= 2)
				return html(
					res,
					503,
					'<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>',
				);
			return json(res, 200, { status: 'succeeded', output: 42 });
		});
		const s = scheduler(new HttpActuator(options(svc.url, { maxStatusFailures: 3 })));
		const task = await runOne(s, 'blip');
		expect(task.error ?? null).toBeNull();
		expect(task.status).toBe('succeeded');
		expect(task.output).toBe(42);
		expect(statusCalls).toBe(3);
	});

	it('fails a running task after maxStatusFailures gateway errors in a row, naming the URL and the page', async () => {
		const svc = await serve((req, res) =>
			req.method === 'POST' ? json(res, 202, { id: 'job-1' }) : html(res, 502, NGINX_502),
		);
		const s = scheduler(new HttpActuator(options(svc.url, { maxStatusFailures: 3 })));
		const task = await runOne(s, 'down');
		expect(task.status).toBe('failed');
		expect(task.error?.message).toBe(
			`The service stayed unreachable for 3 status polls in a row: GET ${svc.url}/jobs/job-1 answered HTTP 502 with an HTML page titled "502 Bad Gateway"`,
		);
		expect(svc.requests.filter((r) => r === 'GET /jobs/job-1')).toHaveLength(3);
	});

	it('a 404 of the status call still fails at once (the job is gone), with the status exposed', async () => {
		const svc = await serve((req, res) =>
			req.method === 'POST' ? json(res, 202, { id: 'job-1' }) : json(res, 404, { error: 'no such job' }),
		);
		const actuator = new HttpActuator(options(svc.url));
		const [status] = await actuator.status([{ id: 't', ref: 'job-1', item: {} } as TaskRecord]);
		expect(status?.state).toBe('failed');
		const error = (status as { error: Error }).error;
		expect(error).toBeInstanceOf(HttpStatusError);
		expect(error.message).toBe(`GET ${svc.url}/jobs/job-1 answered HTTP 404: "no such job"`);
	});

	it('a refused connection or a hanging service fails the start within the retry and timeout bounds, naming the URL', async () => {
		const svc = await serve(() => undefined);
		const hanging = scheduler(new HttpActuator(options(svc.url, { timeoutMs: 300 })));
		const hung = await runOne(hanging, 'hung');
		expect(hung.error?.message).toBe(`POST ${svc.url}/jobs timed out after 300 ms`);
		svc.server.closeAllConnections();
		await new Promise<void>((resolve) => svc.server.close(() => resolve()));
		const refused = scheduler(new HttpActuator(options(svc.url, { retries: 2 })));
		const task = await runOne(refused, 'refused');
		expect(task.status).toBe('failed');
		expect(task.error?.message).toBe(
			`POST ${svc.url}/jobs failed: ECONNREFUSED (the service could not be reached); gave up after 3 tries`,
		);
	});
});
