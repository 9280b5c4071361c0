/**
 * The dashboard's HTTP surface without a browser: only the asset map is served (no path from the request becomes a
 * file path), the safety headers, the CSRF header and cross-site refusal, bad parameters, option checks, the
 * sampler's rates (finished tasks per second from the difference of counts), the bounded answer of the bulk
 * retry of failed runs (the count, the first 100 ids, `truncated`), and the runs list by time range (`from`, `to`:
 * checked by the bulk retry's rule, refused in its words).
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryWorkflowStore, Workflows, workflowActions } from 'lightsched/workflows';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { dashboardHandler, startDashboard, type RunningDashboard, type StatsSnapshot } from 'lightsched/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function raw(base: string, path: string, method = 'GET', headers: Record<string, string> = {}) {
	const url = new URL(base);
	return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
		const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
			let body = '';
			res.on('data', (chunk: Buffer) => (body += chunk.toString()));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
		});
		req.on('error', reject);
		req.end();
	});
}

describe('the dashboard handler', () => {
	let scheduler: Scheduler<number, number>;
	let dashboard: RunningDashboard;

	beforeAll(async () => {
		scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator((n: number) => n),
		});
		dashboard = await startDashboard({ scheduler, port: 0, sampleMs: 100 });
	});
	afterAll(async () => {
		await dashboard?.close();
		await scheduler?.close();
	});

	it('serves only the files of its map, with the safety headers', async () => {
		const page = await raw(dashboard.url, '/');
		expect(page.status).toBe(200);
		expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
		expect(page.headers['x-content-type-options']).toBe('nosniff');
		expect(page.headers['x-frame-options']).toBe('DENY');
		expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]/);
		for (const path of [
			'/assets/../../package.json',
			'/assets/..%2F..%2Fpackage.json',
			'/assets/%2e%2e/options.ts',
			'/assets/handler.ts',
			'/assets/__proto__',
			'/assets/app.js/x',
			'/package.json',
		])
			expect({ path, status: (await raw(dashboard.url, path)).status }).toEqual({ path, status: 404 });
		const script = await raw(dashboard.url, '/assets/app.js');
		expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
		const cached = await raw(dashboard.url, '/assets/app.js', 'GET', {
			'if-none-match': String(script.headers.etag),
		});
		expect(cached.status).toBe(304);
	});

	it('refuses actions without the header, from another site, and by GET', async () => {
		expect((await raw(dashboard.url, '/api/queue/pause', 'POST')).status).toBe(403);
		const crossSite = await raw(dashboard.url, '/api/queue/pause', 'POST', {
			'x-lightsched-dashboard': '1',
			'sec-fetch-site': 'cross-site',
		});
		expect(crossSite.status).toBe(403);
		expect((await raw(dashboard.url, '/api/queue/pause')).status).toBe(404);
		expect((await raw(dashboard.url, '/api/tasks', 'DELETE')).status).toBe(405);
		expect(await scheduler.isQueuePaused()).toBe(false);
		const ok = await raw(dashboard.url, '/api/queue/pause', 'POST', { 'x-lightsched-dashboard': '1' });
		expect(ok.status).toBe(200);
		expect(await scheduler.isQueuePaused()).toBe(true);
		await scheduler.resumeQueue();
	});

	it('answers bad parameters with 400, a missing task with 404 and a refused state with 409', async () => {
		await scheduler.add({ id: 'a', item: 1, runAt: Date.now() + 60_000 });
		expect((await raw(dashboard.url, '/api/tasks?status=nope')).status).toBe(400);
		expect((await raw(dashboard.url, '/api/tasks?limit=-1')).status).toBe(400);
		expect((await raw(dashboard.url, '/api/tasks?order=up')).status).toBe(400);
		expect((await raw(dashboard.url, '/api/tasks/%E0%A4%A')).status).toBe(400);
		expect((await raw(dashboard.url, '/api/tasks/missing')).status).toBe(404);
		const retry = await raw(dashboard.url, '/api/tasks/a/retry', 'POST', { 'x-lightsched-dashboard': '1' });
		expect(retry.status).toBe(409);
		expect(JSON.parse(retry.body)).toMatchObject({
			error: { message: expect.stringContaining('only a finished task') },
		});
		await scheduler.stop('a');
	});

	it('reports finished tasks per second from the difference of sampled counts', async () => {
		const first = (await (await fetch(`${dashboard.url}api/stats`)).json()) as StatsSnapshot;
		expect(first.counts).not.toBeNull();
		await scheduler.add(Array.from({ length: 20 }, (_, i) => ({ item: i })));
		await scheduler.onIdle();
		await expect
			.poll(
				async () => {
					const stats = (await (await fetch(`${dashboard.url}api/stats`)).json()) as StatsSnapshot;
					// Each rate is per second over its interval: the sum of rate × interval counts the tasks.
					const total = stats.seconds.reduce((sum, point) => sum + (point.succeeded * point.ms) / 1000, 0);
					const minute = stats.minutes.reduce((sum, point) => sum + point.succeeded * 60, 0);
					return [Math.round(total), Math.round(minute)];
				},
				{ timeout: 10_000, interval: 100 },
			)
			.toEqual([20, 20]);
	});

	it('checks its options', () => {
		const container = new QueueContainer();
		expect(() => dashboardHandler({} as never)).toThrow(/`container` or `scheduler`/);
		expect(() => dashboardHandler({ container, auth: 'short' })).toThrow(/at least 8 characters/);
		expect(() => dashboardHandler({ container, readOnyl: true } as never)).toThrow(/readOnly/);
		expect(() => dashboardHandler({ container, sampleMs: 5 })).toThrow(/sampleMs/);
	});

	it('works behind a mount that strips its path (as Express does), and with a workflow store alone', async () => {
		const handler = dashboardHandler({ scheduler, workflows: new MemoryWorkflowStore() });
		// What Express's app.use('/ops', handler) does: the prefix moves from req.url to req.originalUrl.
		const server = createServer((req, res) => {
			const url = req.url ?? '/';
			if (!url.startsWith('/ops')) return res.writeHead(418).end();
			Object.assign(req, {
				originalUrl: url,
				url: url.slice(4) === '' || url.slice(4).startsWith('?') ? `/${url.slice(4)}` : url.slice(4),
			});
			handler(req, res, () => res.writeHead(404).end('app 404'));
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
		try {
			const redirect = await raw(base, '/ops');
			expect(redirect.status).toBe(301);
			expect(redirect.headers.location).toBe('/ops/');
			expect((await raw(base, '/ops/')).status).toBe(200);
			expect((await raw(base, '/ops/assets/uplot.js')).status).toBe(200);
			expect((await raw(base, '/ops/nothing')).body).toBe('app 404');
			const info = JSON.parse((await raw(base, '/ops/api/info')).body) as {
				workflows: boolean;
				runCommands: boolean;
			};
			expect(info).toMatchObject({ workflows: true, runCommands: false });
			expect(JSON.parse((await raw(base, '/ops/api/runs')).body)).toMatchObject({
				runs: [],
				total: 0,
				commands: false,
			});
			const command = await raw(base, '/ops/api/runs/r1/retry', 'POST', { 'x-lightsched-dashboard': '1' });
			expect(command.status).toBe(405);
			const bulk = await raw(base, '/ops/api/runs/retryFailed', 'POST', { 'x-lightsched-dashboard': '1' });
			expect(bulk.status).toBe(405);
			expect(JSON.parse(bulk.body)).toEqual(JSON.parse(command.body));
		} finally {
			await handler.close();
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
		}
	});
});

describe('the bulk retry of failed runs', () => {
	it('answers the count and the first 100 ids retried (oldest first), with `truncated` when there were more', async () => {
		let healed = false;
		const actions = workflowActions({
			flaky: () => {
				if (!healed) throw new Error('not yet');
				return 'fixed';
			},
		});
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(actions) });
		const flows = new Workflows({ scheduler, actions, sweepMs: 100 });
		const dashboard = await startDashboard({ scheduler, workflows: flows, port: 0 });
		const post = async (body: unknown) => {
			const response = await fetch(`${dashboard.url}api/runs/retryFailed`, {
				method: 'POST',
				headers: { 'x-lightsched-dashboard': '1', 'content-type': 'application/json' },
				body: JSON.stringify(body),
			});
			expect(response.status).toBe(200);
			return (await response.json()) as { count: number; retried: string[]; truncated: boolean };
		};
		try {
			flows.define({ name: 'flaky', steps: [{ id: 'a', action: 'flaky', maxAttempts: 1 }] });
			const ids = Array.from({ length: 230 }, (_, i) => `run-${String(i).padStart(3, '0')}`);
			for (const id of ids) await flows.start('flaky', { id, key: 'K' });
			for (const id of ids) expect((await flows.wait(id)).status).toBe('failed');
			healed = true;
			// The ids are the oldest first, as the engine retried them.
			const failed = await flows.list({ status: 'failed', key: 'K', order: 'asc', limit: 230 });
			const order = failed.runs.map((run) => run.id);
			// 100 retried: every id, not truncated.
			expect(await post({ key: 'K', limit: 100 })).toEqual({
				count: 100,
				retried: order.slice(0, 100),
				truncated: false,
			});
			// The 130 left: their count, the first 100 ids, truncated.
			expect(await post({ key: 'K' })).toEqual({ count: 130, retried: order.slice(100, 200), truncated: true });
			for (const id of ids) expect((await flows.wait(id, { timeoutMs: 20_000 })).status).toBe('succeeded');
			expect(await post({ key: 'K' })).toEqual({ count: 0, retried: [], truncated: false });
		} finally {
			await dashboard.close();
			await flows.close();
			await scheduler.close();
		}
	});
});

describe('the runs list by time range', () => {
	it('lists the runs created in [from, to), and refuses a bad time as the bulk retry does, in the same words', async () => {
		const actions = workflowActions({
			fail: () => {
				throw new Error('no');
			},
		});
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(actions) });
		const flows = new Workflows({ scheduler, actions, sweepMs: 100 });
		const dashboard = await startDashboard({ scheduler, workflows: flows, port: 0 });
		const get = async (query: string) => {
			const response = await fetch(`${dashboard.url}api/runs?${query}`);
			return { status: response.status, body: (await response.json()) as Record<string, unknown> };
		};
		const ids = async (query: string) => {
			const { status, body } = await get(query);
			expect({ query, status }).toEqual({ query, status: 200 });
			return (body.runs as { id: string }[]).map((run) => run.id);
		};
		try {
			flows.define({ name: 'fail', steps: [{ id: 'a', action: 'fail', maxAttempts: 1 }] });
			const created: number[] = [];
			for (const id of ['r0', 'r1', 'r2', 'r3']) {
				const run = await flows.start('fail', { id, key: 'K' });
				created.push(run.createdAt);
				// Each run created in a millisecond of its own, so that a time range can part them.
				while (Date.now() <= run.createdAt) await new Promise((resolve) => setTimeout(resolve, 1));
			}
			for (const id of ['r0', 'r1', 'r2', 'r3']) expect((await flows.wait(id)).status).toBe('failed');
			const [t0, t1, , t3] = created as [number, number, number, number];
			// `from` included, `to` excluded, newest first as without a range; with the other filters (AND).
			expect(await ids(`from=${t1}&to=${t3}`)).toEqual(['r2', 'r1']);
			expect(await ids(`status=failed&key=K&from=${t1}&to=${t3}&order=asc`)).toEqual(['r1', 'r2']);
			expect(await ids(`from=${t3}`)).toEqual(['r3']);
			expect(await ids(`to=${t1}`)).toEqual(['r0']);
			expect(await ids(`from=${t0}&to=${t0 + 1}`)).toEqual(['r0']);
			expect((await get(`from=${t1}&to=${t3}`)).body.total).toBe(2);
			// Empty is no bound, as the page sends an empty input.
			expect(await ids('from=&to=')).toEqual(['r3', 'r2', 'r1', 'r0']);
			expect(await ids(`key=other&from=${t1}`)).toEqual([]);
			for (const [query, body, field] of [
				['from=abc', { from: 'abc' }, 'from'],
				['to=-1', { to: '-1' }, 'to'],
				['from=1.5', { from: '1.5' }, 'from'],
				['to=1e3', { to: '1e3' }, 'to'],
				['from=99999999999999999', { from: '99999999999999999' }, 'from'],
				['from=2000&to=2000', { from: 2000, to: 2000 }, 'to'],
				['from=2000&to=1000', { from: 2000, to: 1000 }, 'to'],
			] as const) {
				const listed = await get(query);
				const retried = await fetch(`${dashboard.url}api/runs/retryFailed`, {
					method: 'POST',
					headers: { 'x-lightsched-dashboard': '1', 'content-type': 'application/json' },
					body: JSON.stringify({ key: 'K', ...body }),
				});
				const refused = { status: retried.status, body: (await retried.json()) as Record<string, unknown> };
				expect({ query, status: listed.status }).toEqual({ query, status: 400 });
				expect(listed.body).toEqual(refused.body);
				expect(refused.status).toBe(400);
				expect((listed.body.error as { message: string }).message).toContain(`Expected \`${field}\``);
			}
			// Nothing was retried by the refused requests.
			expect((await flows.list({ status: 'failed' })).total).toBe(4);
		} finally {
			await dashboard.close();
			await flows.close();
			await scheduler.close();
		}
	});
});
