/**
 * `lightsched/metrics` (issue 16 item 3): a scheduler on a SQLite file runs tasks that succeed, fail after a retry,
 * and get stopped; a task whose owner died (its lease lapses) is taken over. The metrics are scraped over HTTP from
 * `metricsHandler` and checked against what ran, and the per-status gauge against `counts()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { NonRetryableError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { metricsHandler, SchedulerMetrics } from 'lightsched/metrics';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-metrics-'));
let n = 0;
const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
	for (const thing of open.splice(0).reverse()) await thing.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const container = (): SqlContainer =>
	new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: join(dir, `m${++n}.sqlite`) }, useNullAsDefault: true },
	});

/** Serve the registry and scrape it once: the metric lines, by `name{labels}`. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
	const server: Server = createServer(metricsHandler(registry));
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const address = server.address();
	const port = typeof address === 'object' && address !== null ? address.port : 0;
	try {
		const response = await fetch(`http://127.0.0.1:${port}/metrics`);
		expect(response.status).toBe(200);
		expect(response.headers.get('content-type')).toContain('text/plain');
		const missing = await fetch(`http://127.0.0.1:${port}/other`);
		expect(missing.status).toBe(404);
		const lines = new Map<string, number>();
		for (const line of (await response.text()).split('\n')) {
			if (line === '' || line.startsWith('#')) continue;
			const at = line.lastIndexOf(' ');
			lines.set(line.slice(0, at), Number(line.slice(at + 1)));
		}
		return lines;
	} finally {
		await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}

describe('SchedulerMetrics', () => {
	it('counts what ran by event, times waits and runs, and gauges the statuses as counts() does', async () => {
		const scheduler = new Scheduler<{ kind: string }, string>({
			container: container(),
			concurrency: 4,
			maxAttempts: 2,
			backoff: () => 10,
			actuator: new FunctionActuator(async ({ kind }: { kind: string }, { signal }) => {
				if (kind === 'fail') throw new Error('always fails');
				if (kind === 'fatal') throw new NonRetryableError('no retry');
				if (kind === 'long')
					await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
				return kind;
			}),
		});
		open.push(scheduler);
		const registry = new Registry();
		const metrics = new SchedulerMetrics({ registry, countsCacheMs: 0 });
		metrics.watch(scheduler, { queue: 'jobs', actuator: 'function' });
		const ends: string[] = [];
		scheduler.on('task:started', ({ task }) => {
			if (task.item.kind === 'long') void scheduler.stop(task.id);
		});
		const done = new Promise<void>((resolve) => {
			scheduler.on('idle', () => resolve());
		});
		await scheduler.add([
			...Array.from({ length: 5 }, (_, i) => ({ id: `ok${i}`, item: { kind: 'ok' } })),
			{ id: 'fail', item: { kind: 'fail' } },
			{ id: 'fatal', item: { kind: 'fatal' } },
			{ id: 'long', item: { kind: 'long' } },
		]);
		for await (const task of scheduler.finished()) {
			ends.push(`${task.id}:${task.status}`);
			if (ends.length === 8) break;
		}
		await done;
		const m = await scrape(registry);
		const event = (e: string): number | undefined =>
			m.get(`lightsched_task_events_total{queue="jobs",actuator="function",event="${e}"}`);
		expect(event('added')).toBe(8);
		// 5 ok + fail twice + fatal + long
		expect(event('started')).toBe(9);
		expect(event('succeeded')).toBe(5);
		expect(event('failed')).toBe(2);
		expect(event('stopped')).toBe(1);
		expect(event('retrying')).toBe(1);
		expect(m.get('lightsched_task_retries_total{queue="jobs",actuator="function"}')).toBe(1);
		expect(m.get('lightsched_task_wait_seconds_count{queue="jobs",actuator="function"}')).toBe(9);
		expect(m.get('lightsched_task_run_seconds_count{queue="jobs",actuator="function",status="succeeded"}')).toBe(5);
		expect(m.get('lightsched_task_run_seconds_count{queue="jobs",actuator="function",status="retrying"}')).toBe(1);
		const counts = await scheduler.counts();
		expect(counts.succeeded).toBe(5);
		for (const status of ['waiting', 'running', 'succeeded', 'failed', 'stopped'] as const)
			expect(m.get(`lightsched_tasks{queue="jobs",status="${status}"}`), status).toBe(counts[status]);
	});

	it('counts a task whose owner died as a lease expiry, and it runs again here', async () => {
		const shared = container();
		const scheduler = new Scheduler({
			container: shared,
			leaseMs: 300,
			maxAttempts: 2,
			actuator: new FunctionActuator(() => 'ran'),
			autoStart: false,
		});
		open.push(scheduler);
		await scheduler.add([{ id: 'orphan', item: null }]);
		// A scheduler that died right after its claim: its lease runs out, nobody renews it.
		const claimed = await shared.claim(1, 'dead-owner', 100, Date.now());
		expect(claimed.map((t) => t.id)).toEqual(['orphan']);
		const metrics = new SchedulerMetrics();
		metrics.watch(scheduler, { queue: 'q' });
		const ran = new Promise<void>((resolve) => {
			scheduler.on('task:succeeded', () => resolve());
			scheduler.on('task:failed', () => resolve());
		});
		scheduler.resume();
		await ran;
		const m = await scrape(metrics.registry);
		expect(m.get('lightsched_lease_expired_total{queue="q",status="waiting"}')).toBe(1);
		expect(await scheduler.get('orphan')).toMatchObject({ status: 'succeeded', attempts: 2, output: 'ran' });
	});

	it('reads counts() at most once per countsCacheMs however often it is scraped', async () => {
		const scheduler = new Scheduler({ container: container(), actuator: new FunctionActuator(() => null) });
		open.push(scheduler);
		const counts = vi.spyOn(scheduler, 'counts');
		const metrics = new SchedulerMetrics({ countsCacheMs: 60_000 });
		metrics.watch(scheduler, { queue: 'q' });
		await Promise.all([scrape(metrics.registry), scrape(metrics.registry)]);
		await scrape(metrics.registry);
		expect(counts).toHaveBeenCalledTimes(1);
	});

	it('rejects bad options by name, and a second scheduler under the same queue', () => {
		expect(() => new SchedulerMetrics({ prefix: 'bad prefix' })).toThrow(/`prefix`/);
		expect(() => new SchedulerMetrics({ countsCacheMs: -1 })).toThrow(/`countsCacheMs`/);
		expect(() => new SchedulerMetrics({ registy: new Registry() } as never)).toThrow(/registry/);
		const scheduler = new Scheduler({ container: container(), actuator: new FunctionActuator(() => null) });
		open.push(scheduler);
		const metrics = new SchedulerMetrics();
		metrics.watch(scheduler, { queue: 'q' });
		expect(() => metrics.watch(scheduler, { queue: 'q' })).toThrow(/already watched under queue `q`/);
		expect(() => metrics.watch(scheduler, { queue: '' })).toThrow(/`queue`/);
	});
});
