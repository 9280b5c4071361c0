/**
 * Per-group rate limits across processes (issue 14 item 4): three scheduler processes on one Redis, one PostgreSQL
 * database and one SQLite file, the container's `groupRateLimit` of 3 starts per 500 ms window. A `hot` group's backlog of 30
 * tasks is added first, then a `warm` group of 9, a `cold` group of 3 and 6 tasks with no group. Judged by each
 * task's stored `startedAt` (the container's clock, the one the windows are on): no group ever had more than 3
 * starts in a window; the cold group and the ungrouped tasks were not held behind the hot backlog (all started
 * while it still had windows to go); every task ran exactly once (the workers' logs) and none failed. The children
 * poll only once a minute on Redis and PostgreSQL, so the run finishing shows the schedulers wake when a group's
 * window reopens (SQLite, with no wake-up channel, polls every 200 ms).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewTask, TaskContainer, TaskRecord } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from 'lightsched/testing';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { readIntervals, startLimitWorker, waitFinished } from '../support/limit-workers.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-grpmp-'));
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

const groupRateLimit = { max: 3, intervalMs: 500 };

function tasks(): NewTask[] {
	const of = (group: string | undefined, count: number): NewTask[] =>
		Array.from({ length: count }, (_, i) => ({
			id: `${group ?? 'none'}-${i}`,
			item: i,
			...(group === undefined ? {} : { group }),
		}));
	return [...of('hot', 30), ...of('warm', 9), ...of('cold', 3), ...of(undefined, 6)];
}

describe.each([
	['Redis', 'redis' as const],
	['PostgreSQL', 'pg' as const],
	['SQLite', 'sqlite' as const],
])('groupRateLimit across three processes on %s', (_label, kind) => {
	it('never starts more than max tasks of a group in a window, holds no group behind another, runs every task', async () => {
		const name = `grpmp_${kind}_`;
		let where: string;
		let container: TaskContainer;
		if (kind === 'redis') {
			where = redis.url;
			container = new RedisContainer({ redis: where, name, log: false });
		} else if (kind === 'sqlite') {
			where = join(dir, 'groups.sqlite');
			const sql = new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: where }, useNullAsDefault: true },
				tablePrefix: name,
			});
			await sql.migrate();
			container = sql;
		} else {
			const db = `grpmp_${Date.now()}`;
			await pg.createDatabase(db);
			where = `${pg.url.replace(/\/postgres$/, '')}/${db}`;
			const sql = new SqlContainer({ knex: { client: 'pg', connection: where }, tablePrefix: name });
			await sql.migrate();
			container = sql;
		}
		const logs = [0, 1, 2].map((i) => join(dir, `grp-${kind}-${i}.log`));
		const workers = logs.map((log) =>
			startLimitWorker(
				{
					kind,
					where,
					name,
					concurrency: 4,
					workMs: 20,
					log,
					groupRateLimit,
					// SQLite has no wake-up channel: its schedulers poll (a new task is seen at the next poll); Redis and
					// PostgreSQL poll once a minute, so finishing shows they wake when a group's window reopens.
					pollIntervalMs: kind === 'sqlite' ? 200 : 60_000,
				},
				children,
			),
		);
		try {
			await Promise.all(workers.map((w) => w.ready));
			const all = tasks();
			await container.add(records(all));
			// Held back, not failed: soon after the add the hot group's tasks still wait, none failed.
			await new Promise((resolve) => setTimeout(resolve, 150));
			expect((await container.list({ status: 'failed', limit: 10 })).tasks).toEqual([]);
			expect((await container.list({ status: 'waiting', limit: 100 })).total).toBeGreaterThan(0);
			await waitFinished(container, all.length);
			const done = (await container.list({ status: 'succeeded', limit: 100 })).tasks;
			expect(done).toHaveLength(all.length);
			const perWindow = new Map<string, number>();
			for (const task of done) {
				if (task.group === null) continue;
				const window = `${task.group} ${Math.floor((task.startedAt as number) / groupRateLimit.intervalMs)}`;
				perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
			}
			const busiest = Math.max(...perWindow.values());
			const started = (group: string | null): number[] =>
				done.filter((task: TaskRecord) => task.group === group).map((task) => task.startedAt as number);
			const hotWindows = new Set(started('hot').map((at) => Math.floor(at / groupRateLimit.intervalMs)));
			console.log(
				`${kind}: ${done.length} tasks, at most ${busiest} of a group in one window, hot over ${hotWindows.size} windows`,
			);
			expect(busiest).toBeLessThanOrEqual(groupRateLimit.max);
			expect(hotWindows.size).toBeGreaterThanOrEqual(30 / groupRateLimit.max);
			// Not held behind the hot backlog: the cold group and the ungrouped tasks all started while the hot group
			// still had at least three windows to go.
			const lastHot = Math.max(...started('hot'));
			for (const at of [...started('cold'), ...started(null)]) {
				expect(at).toBeLessThan(lastHot - 3 * groupRateLimit.intervalMs);
			}
			expect([...readIntervals(logs).values()].every((i) => i.starts === 1)).toBe(true);
			expect(readIntervals(logs).size).toBe(all.length);
			expect((await container.list({ status: 'failed', limit: 10 })).tasks).toEqual([]);
		} finally {
			for (const w of workers) w.child.kill('SIGTERM');
			await container.close();
		}
	}, 90_000);
});
