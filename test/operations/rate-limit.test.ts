/**
 * Rate limits (issue 14 item 4). The containers' global `rateLimit` (at most `max` starts per fixed window across
 * every process) with three scheduler processes on Redis, PostgreSQL and SQLite: judged by the stored `startedAt`
 * of every task (the container's clock, the one its windows are on), no window ever had more than `max` starts,
 * every task ran once and none failed. The Redis and PostgreSQL children poll only once a minute, so the run
 * finishing shows the schedulers wake when the window reopens. The scheduler's own `rateLimit` (a sliding window):
 * no `intervalMs` span holds more than `max` of its starts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from 'lightsched/testing';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { readIntervals, startLimitWorker, waitFinished } from '../support/limit-workers.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-rate-'));
let redis: RedisServer;
let pg: PostgresServer;
const children = new Set<ChildProcess>();

beforeAll(async () => {
	[redis, pg] = await Promise.all([startRedis(), startPostgres()]);
}, 120_000);
afterAll(async () => {
	for (const child of children) child.kill('SIGKILL');
	await Promise.all([redis?.close(), pg?.stop()]);
	rmSync(dir, { recursive: true, force: true });
});

describe('rateLimit options', () => {
	it('refuses bad limits on every container and the scheduler', () => {
		const knex = { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true };
		expect(() => new SqlContainer({ knex, rateLimit: { max: 0, intervalMs: 10 } })).toThrow(/`rateLimit.max`/);
		expect(() => new SqlContainer({ knex, rateLimit: { max: 1, interval: 10 } as never })).toThrow(
			/did you mean `intervalMs`/,
		);
		expect(
			() => new RedisContainer({ redis: 'redis://127.0.0.1:1', name: 'x', rateLimit: { max: 1, intervalMs: 0 } }),
		).toThrow(/`rateLimit.intervalMs`/);
		const actuator = new FunctionActuator(() => null);
		expect(
			() => new Scheduler({ container: new QueueContainer(), actuator, rateLimit: { max: 1.5, intervalMs: 10 } }),
		).toThrow(/`rateLimit.max`/);
	});
});

describe.each([
	['Redis', 'redis' as const],
	['PostgreSQL', 'pg' as const],
	['SQLite', 'sqlite' as const],
])('the container rate limit across three processes on %s', (_label, kind) => {
	it('never starts more than max tasks in a window, and every task runs', async () => {
		const rateLimit = { max: 4, intervalMs: 400 };
		const name = `rl_${kind}_`;
		let where: string;
		let container: TaskContainer;
		if (kind === 'redis') {
			where = redis.url;
			container = new RedisContainer({ redis: where, name, log: false });
		} else {
			where = kind === 'pg' ? `${pg.url.replace(/\/postgres$/, '')}/rl_${Date.now()}` : join(dir, 'rl.sqlite');
			if (kind === 'pg') await pg.createDatabase(where.split('/').pop() as string);
			const knex =
				kind === 'pg'
					? { client: 'pg', connection: where }
					: { client: 'sqlite3', connection: { filename: where }, useNullAsDefault: true };
			const sql = new SqlContainer({ knex, tablePrefix: name });
			await sql.migrate();
			container = sql;
		}
		const logs = [0, 1, 2].map((i) => join(dir, `rl-${kind}-${i}.log`));
		const workers = logs.map((log) =>
			startLimitWorker(
				{
					kind,
					where,
					name,
					concurrency: 4,
					workMs: 10,
					log,
					rateLimit,
					// With a wake-up channel: no polling to speak of, so the window reopening must wake them.
					pollIntervalMs: kind === 'sqlite' ? 200 : 60_000,
				},
				children,
			),
		);
		try {
			await Promise.all(workers.map((w) => w.ready));
			const total = 24;
			await container.add(records(Array.from({ length: total }, (_, i) => ({ id: `r${i}`, item: i }))));
			// Held back, not failed: soon after the add most tasks still wait.
			await new Promise((resolve) => setTimeout(resolve, 150));
			expect((await container.list({ status: 'failed', limit: 10 })).tasks).toEqual([]);
			await waitFinished(container, total);
			const done = (await container.list({ status: 'succeeded', limit: 100 })).tasks;
			expect(done).toHaveLength(total);
			const perWindow = new Map<number, number>();
			for (const task of done) {
				const window = Math.floor((task.startedAt as number) / rateLimit.intervalMs);
				perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
			}
			const busiest = Math.max(...perWindow.values());
			console.log(`${kind}: ${total} tasks over ${perWindow.size} windows, at most ${busiest} in one`);
			expect(busiest).toBeLessThanOrEqual(rateLimit.max);
			expect(perWindow.size).toBeGreaterThanOrEqual(total / rateLimit.max);
			expect([...readIntervals(logs).values()].every((i) => i.starts === 1)).toBe(true);
			expect((await container.list({ status: 'failed', limit: 10 })).tasks).toEqual([]);
		} finally {
			for (const w of workers) w.child.kill('SIGTERM');
			await container.close();
		}
	}, 90_000);
});

describe('the scheduler rate limit', () => {
	it('starts at most max tasks in any interval, on top of concurrency', async () => {
		const container = new QueueContainer();
		const starts: number[] = [];
		const scheduler = new Scheduler({
			container,
			concurrency: 10,
			rateLimit: { max: 3, intervalMs: 200 },
			actuator: new FunctionActuator(() => {
				starts.push(Date.now());
				return null;
			}),
		});
		try {
			await scheduler.add(Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, item: i })));
			await scheduler.onIdle();
			const stored = (await container.list({ status: 'succeeded', limit: 100 })).tasks
				.map((t) => t.startedAt as number)
				.sort((a, b) => a - b);
			expect(stored).toHaveLength(12);
			// Sliding window: the start max places later is at least intervalMs later.
			for (let i = 3; i < stored.length; i++) {
				expect((stored[i] as number) - (stored[i - 3] as number)).toBeGreaterThanOrEqual(200);
			}
		} finally {
			await scheduler.close();
		}
	}, 30_000);
});
