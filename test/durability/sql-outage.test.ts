/**
 * Issue 11 item 1 on PostgreSQL: the server is stopped and started again under a running Scheduler while tasks
 * keep being added. Each add during the outage either rejects within a bounded time with a ContainerError naming
 * the server (host:port/database), or is stored, never half-stored (all of its tasks or none); once the server is
 * back the scheduler resumes by itself (its LISTEN channel reconnects; it polls meanwhile) and every stored task
 * succeeds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

let pg: PostgresServer;

beforeAll(async () => {
	pg = await startPostgres();
}, 60_000);
afterAll(async () => {
	await pg?.stop();
});

interface AddResult {
	readonly ids: string[];
	readonly ms: number;
	readonly error?: unknown;
}

describe('SqlContainer: PostgreSQL stopped and restarted under a running scheduler (issue 11 item 1)', () => {
	it(
		'adds during the outage reject clearly or are stored whole; the scheduler resumes and every stored task succeeds',
		{ timeout: 150_000 },
		async () => {
			const db = await pg.createDatabase('outage');
			const container = new SqlContainer({
				knex: { client: 'pg', connection: db, pool: { min: 0, max: 4 } },
				connectTimeoutMs: 1_000,
			});
			const runs = new Map<string, number>();
			const scheduler = new Scheduler({
				container,
				concurrency: 10,
				leaseMs: 2000,
				maxAttempts: 5,
				pollIntervalMs: 500,
				backoff: { type: 'fixed', delayMs: 50 },
				actuator: new FunctionActuator(async (_item: unknown, { task }) => {
					runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
					await sleep(20);
					return task.id;
				}),
			});
			const errors: unknown[] = [];
			scheduler.on('error', (error) => errors.push(error));
			const results: AddResult[] = [];
			let adding = true;
			const adder = (async () => {
				for (let n = 0; adding; n++) {
					const ids = [0, 1, 2].map((k) => `o${n}-${k}`);
					const start = Date.now();
					try {
						await scheduler.add(ids.map((id) => ({ id, item: null })));
						results.push({ ids, ms: Date.now() - start });
					} catch (error) {
						results.push({ ids, ms: Date.now() - start, error });
					}
					await sleep(50);
				}
			})();
			try {
				await sleep(1000);
				await pg.halt();
				await sleep(3000);
				await pg.restart();
				await sleep(1500);
				adding = false;
				await adder;

				const rejected = results.filter((r) => r.error !== undefined);
				console.log(
					`[sql outage] ${results.length} adds, ${rejected.length} rejected; scheduler errors: ${errors.length}`,
				);
				expect(rejected.length).toBeGreaterThan(0);
				for (const r of rejected) {
					expect(r.error).toBeInstanceOf(ContainerError);
					expect((r.error as Error).message).toContain(`PostgreSQL at 127.0.0.1:${pg.port}/outage`);
					expect((r.error as Error).cause).toBeInstanceOf(Error);
					// Bounded: the connect bound (1 s) or the acquire bound (10 s), not knex's 60 s.
					expect(r.ms).toBeLessThan(15_000);
				}
				for (const error of errors) expect(error, String(error)).toBeInstanceOf(Error);
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
				expect([...runs.values()].every((n) => n === 1)).toBe(true);
			} finally {
				adding = false;
				await adder;
				await scheduler.close();
			}
		},
	);
});
