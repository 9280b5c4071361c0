/**
 * Issue 11 item 1 on Redis: redis-server is stopped and started again under a running Scheduler while tasks keep
 * being added. Each add during the outage either rejects within a bounded time with a ContainerError naming the
 * server, or is stored, never half-stored (all of its tasks or none); once the server is back the scheduler resumes
 * by itself and every stored task succeeds. The container's own warnings do not flood.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, Scheduler } from 'lightsched';
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

interface AddResult {
	readonly ids: string[];
	readonly ms: number;
	readonly error?: unknown;
}

describe('RedisContainer: redis-server stopped and restarted under a running scheduler (issue 11 item 1)', () => {
	it(
		'adds during the outage reject clearly or are stored whole; the scheduler resumes and every stored task succeeds',
		{ timeout: 120_000 },
		async () => {
			const name = `outage-${process.pid}`;
			const warnings: string[] = [];
			const container = new RedisContainer({
				redis: server.url,
				name,
				log: (m) => warnings.push(m),
				connectTimeoutMs: 1000,
			});
			const runs = new Map<string, number>();
			const scheduler = new Scheduler({
				container,
				concurrency: 10,
				leaseMs: 2000,
				maxAttempts: 5,
				backoff: { type: 'fixed', delayMs: 50 },
				actuator: new FunctionActuator(async (_item: unknown, { task }) => {
					runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
					await sleep(20);
					return task.id;
				}),
			});
			const errors: unknown[] = [];
			scheduler.on('error', (error) => errors.push(error));
			const pending: Promise<AddResult>[] = [];
			let adding = true;
			// An add every 50 ms, each on its own (not one after another: one sent just before the stop would wait for
			// the restart and hold back the others).
			const adder = (async () => {
				for (let n = 0; adding; n++) {
					const ids = [0, 1, 2].map((k) => `o${n}-${k}`);
					const start = Date.now();
					pending.push(
						scheduler.add(ids.map((id) => ({ id, item: null }))).then(
							() => ({ ids, ms: Date.now() - start }),
							(error: unknown) => ({ ids, ms: Date.now() - start, error }),
						),
					);
					await sleep(50);
				}
			})();
			try {
				await sleep(1000);
				await server.stop();
				await sleep(3000);
				await server.restart();
				await sleep(1500);
				adding = false;
				await adder;
				const results = await Promise.all(pending);

				const rejected = results.filter((r) => r.error !== undefined);
				console.log(
					`[outage] ${results.length} adds, ${rejected.length} rejected; scheduler errors: ${errors.length}; warnings: ${warnings.length}`,
				);
				expect(rejected.length).toBeGreaterThan(0);
				for (const r of rejected) {
					expect(r.error).toBeInstanceOf(ContainerError);
					expect((r.error as Error).message).toContain(`127.0.0.1:${server.port}`);
					// Bounded: the connect bound (1 s) or the reply bound (10 s), not ioredis's ~73 s.
					expect(r.ms).toBeLessThan(15_000);
				}
				// Resumes by itself: every stored task ends succeeded.
				const deadline = Date.now() + 60_000;
				for (;;) {
					const c = await container.counts();
					if (c.waiting + c.running + c.exporting === 0) break;
					if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(c)}`);
					await sleep(100);
				}
				let stored = 0;
				for (const r of results) {
					const found = await Promise.all(r.ids.map((id) => container.get(id)));
					const present = found.filter((t) => t !== null);
					// All or nothing; an add that resolved stored all.
					expect([0, r.ids.length], `add of ${r.ids.join(', ')}`).toContain(present.length);
					if (r.error === undefined) expect(present.length).toBe(r.ids.length);
					for (const t of present) expect(t).toMatchObject({ status: 'succeeded', output: t?.id });
					stored += present.length;
				}
				expect(await container.counts()).toMatchObject({ succeeded: stored, failed: 0 });
				// The container itself warned at most once (the memory policy check), not once per failed call.
				expect(warnings.length).toBeLessThanOrEqual(1);
			} finally {
				adding = false;
				await adder;
				await Promise.all(pending);
				await scheduler.close();
			}
		},
	);
});
