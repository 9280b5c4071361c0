/**
 * A retry due at once (or within milliseconds) can be claimed by the scheduler that failed the attempt before that
 * attempt freed its slot: on Redis the failing transition claims the owner's next due task ahead, and on any shared
 * container another slot's claim can take it. That claim is a new attempt and must run. It used to be merged into
 * the finished attempt, so the retry never ran and the task stayed `running` until its lease expired (30 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-fast-retry-'));
beforeAll(async () => {
	redis = await startRedis();
});
afterAll(async () => {
	await redis.close();
	rmSync(dir, { recursive: true, force: true });
});

describe.each([
	['QueueContainer', (): TaskContainer => new QueueContainer()],
	['RedisContainer', (): TaskContainer => new RedisContainer({ redis: redis.url, name: 'fast-retry', log: false })],
	[
		'SqlContainer on SQLite',
		(): TaskContainer =>
			new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: join(dir, 'q.db') }, useNullAsDefault: true },
			}),
	],
])('retries due at once on %s', (_name, open) => {
	it.each([0, 10])(
		'every task fails once and then succeeds, with a backoff of %i ms',
		{ timeout: 40_000 },
		async (delayMs) => {
			const tries = new Map<string, number>();
			const scheduler = new Scheduler({
				container: open(),
				concurrency: 8,
				maxAttempts: 3,
				backoff: { type: 'fixed', delayMs },
				actuator: new FunctionActuator(async (id: string) => {
					const n = (tries.get(id) ?? 0) + 1;
					tries.set(id, n);
					await new Promise((resolve) => setTimeout(resolve, 1));
					if (n === 1) throw new Error('first attempt fails');
					return n;
				}),
			});
			try {
				const ids = Array.from({ length: 200 }, (_, i) => `b${delayMs}-${i}`);
				await scheduler.add(ids.map((id) => ({ id, item: id })));
				const finished = await Promise.all(ids.map((id) => scheduler.waitFor(id, { timeoutMs: 20_000 })));
				expect(finished.filter((task) => task.status !== 'succeeded').map((task) => task.id)).toEqual([]);
				expect(finished.every((task) => task.attempts === 2)).toBe(true);
				expect([...tries.values()].every((n) => n === 2)).toBe(true);
			} finally {
				await scheduler.close();
			}
		},
	);
});
