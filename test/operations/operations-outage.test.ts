/**
 * The background operations through a Redis outage (issues 11 and 14): a scheduler with retention on and a repeat
 * every 200 ms, redis-server stopped for 2 s and started again. The outage is reported once (`container:down`,
 * then `container:up`), not once per retention pass or tick; the ticks and the retention resume by themselves, no
 * tick's task is added twice (a re-added tick would run more often than its attempts), and the store stays bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
beforeAll(async () => {
	server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
});
afterAll(async () => {
	await server?.close();
});

it('retention and repeats ride out a Redis restart, reported once', { timeout: 90_000 }, async () => {
	const container = new RedisContainer({ redis: server.url, name: 'ops-outage', log: false, connectTimeoutMs: 500 });
	const starts = new Map<string, number>();
	const scheduler = new Scheduler({
		container,
		concurrency: 4,
		leaseMs: 2_000,
		pollIntervalMs: 100,
		maxAttempts: 3,
		actuator: new FunctionActuator((_item: unknown, { task }) => {
			starts.set(task.id, (starts.get(task.id) ?? 0) + 1);
			return 1;
		}),
		retention: { succeeded: { maxCount: 5 }, intervalMs: 100 },
	});
	const downs: string[] = [];
	let ups = 0;
	scheduler.on('container:down', ({ operation }) => downs.push(operation));
	scheduler.on('container:up', () => ups++);
	scheduler.on('error', () => undefined);
	await scheduler.repeat({ key: 'beat', every: 200, item: 'tick' });
	await sleep(2_000);
	const before = starts.size;
	expect(before).toBeGreaterThanOrEqual(5);
	await server.stop();
	await sleep(2_000);
	await server.restart();
	// Ticks resume (the missed ones collapse into one run) and retention catches up.
	const resumed = Date.now();
	while (starts.size < before + 6 && Date.now() - resumed < 30_000) await sleep(100);
	await sleep(1_000);
	expect(starts.size).toBeGreaterThanOrEqual(before + 6);
	expect(downs.length).toBe(1);
	expect(ups).toBe(1);
	const page = await scheduler.list({ status: 'succeeded', limit: 100 });
	expect(page.total).toBeLessThanOrEqual(10);
	const runs = await Promise.all([...starts.keys()].map((id) => scheduler.get(id)));
	for (const [id, count] of starts) {
		const stored = runs.find((t) => t?.id === id);
		// A task retention deleted is gone; one still stored ran at most its attempts.
		if (stored) expect(count, id).toBeLessThanOrEqual(stored.attempts);
	}
	expect([...starts.values()].every((n) => n <= 3)).toBe(true);
	await scheduler.close();
});
