/**
 * Issue 11 item 4 on Redis: two scheduler processes share one RedisContainer, one on a clock 10 s ahead and one
 * 10 s behind (`Date.now` patched in the child process, as on a machine whose clock is wrong). 40 tasks of 3 s,
 * `leaseMs: 2000`, `maxAttempts: 3`. Leases are judged by the Redis server's clock, so neither process takes over
 * the other's live tasks: every task runs once and succeeds. (Judged by the callers' clocks, the fast one saw every
 * other lease as expired: 20 tasks ran more than once and 20 ended failed.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startWorker } from '../support/redis-worker.js';

const TASKS = 40;

let server: RedisServer;
let logs: string;

beforeAll(async () => {
	server = await startRedis();
	logs = mkdtempSync(join(tmpdir(), 'lightsched-skew-'));
});
afterAll(async () => {
	await server?.close();
	if (logs) rmSync(logs, { recursive: true, force: true });
});

describe('RedisContainer with schedulers whose clocks disagree (issue 11 item 4)', () => {
	it('one process 10 s ahead, one 10 s behind: nothing runs twice, nothing fails', { timeout: 120_000 }, async () => {
		const name = `skew-${process.pid}`;
		const common = { url: server.url, name, concurrency: 20, leaseMs: 2000, workMs: 3000, maxAttempts: 3 };
		const workers = [
			startWorker({ ...common, skewMs: 10_000, log: join(logs, 'ahead.log') }),
			startWorker({ ...common, skewMs: -10_000, log: join(logs, 'behind.log') }),
		];
		const container = new RedisContainer({ redis: server.url, name, log: false });
		try {
			await Promise.all(workers.map((w) => w.ready));
			await container.add(
				records(
					Array.from({ length: TASKS }, (_, i) => ({ id: `s${i}`, item: i })),
					Date.now(),
					3,
				),
			);
			const deadline = Date.now() + 90_000;
			for (;;) {
				const c = await container.counts();
				if (c.waiting + c.running + c.exporting === 0) break;
				if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(c)}`);
				await sleep(200);
			}
			await Promise.all(workers.map((w) => w.stop()));
			const starts = new Map<string, number>();
			for (const file of readdirSync(logs).filter((f) => f.endsWith('.log'))) {
				for (const line of readFileSync(join(logs, file), 'utf8').split('\n')) {
					if (line === '' || line.startsWith('done ')) continue;
					starts.set(line, (starts.get(line) ?? 0) + 1);
				}
			}
			const twice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);
			const { tasks } = await container.list({ limit: TASKS });
			const notOnce = tasks
				.filter((t) => t.status !== 'succeeded' || t.attempts !== 1)
				.map((t) => `${t.id}: ${t.status}, ${t.attempts} attempts`);
			console.log(
				`[skew] ran more than once: ${twice.length}; not succeeded at the first attempt: ${notOnce.length}`,
			);
			expect(notOnce).toEqual([]);
			expect(twice).toEqual([]);
			expect(starts.size).toBe(TASKS);
			expect(await container.counts()).toMatchObject({ succeeded: TASKS, failed: 0 });
		} finally {
			await Promise.all(workers.map((w) => w.stop()));
			await container.close();
		}
	});
});
