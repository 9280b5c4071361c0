/**
 * Issue 11 item 3 on PostgreSQL: a claim applied by the server whose reply never reaches the scheduler must not
 * cost an attempt of work that never ran. Two schedulers reach PostgreSQL through a TCP proxy that cuts every
 * connection every 400 ms (a flaky network: a statement may commit while its reply is lost); 3,000 no-op tasks,
 * `maxAttempts: 1`. Every task succeeds, none runs twice, and no attempt is counted for work that never started
 * (each task ends with `attempts: 1`). The scheduler learns of such tasks from `renew`'s `unknown` list and
 * hands them back uncounted.
 *
 * PENDING (skipped unless LIGHTSCHED_PENDING=1): on 2026-12-02 with the core's unknown hand-back (c91ef96) and the
 * container's fixes (renew's unknown list; a batch whose reply is lost rejects instead of reporting its
 * transitions refused) a run still ends with ~2 tasks failed ERR_LEASE_EXPIRED and ~6 run twice, out of 3,000.
 * What the logs point at, all in the scheduler (src/), reported to the lead. Runs twice: a task listed unknown by
 * a renewal is read (`container.get`) and handed back after the renewal resolved, with no check that no claim of
 * this scheduler was in flight meanwhile; a later claim that took the same task (the first claim had failed before
 * its commit) and whose reply comes after that read gets its task handed back under it (trail: b started t1677
 * attempts=1, 400 ms later b's success was rejected, a started t1677 attempts=1). Also: attempts whose outcome
 * write is still being retried are not renewed (runningIds() leaves settled attempts out), so their leases lapse
 * under repeated cuts; a task whose outcome write gave up is later found unknown and handed back uncounted although
 * its work ran; a failed hand-back of unknown tasks is not retried once a renewal has cleared the claim in doubt
 * (the keeper goes idle, the lease lapses and the attempt is counted: failed ERR_LEASE_EXPIRED). Run it with `LIGHTSCHED_PENDING=1 npx vitest run
 * test/durability/sql-lost-replies.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startCuttingProxy, type CuttingProxy } from '../support/redis.js';

const TASKS = 3_000;

let pg: PostgresServer;
let proxy: CuttingProxy;

beforeAll(async () => {
	pg = await startPostgres();
	proxy = await startCuttingProxy(pg.port, 400);
}, 60_000);
afterAll(async () => {
	await proxy?.close();
	await pg?.stop();
});

const pending = process.env['LIGHTSCHED_PENDING'] === '1' ? it : it.skip;

describe('SqlContainer (PostgreSQL) through a proxy that cuts every connection every 400 ms', () => {
	pending(
		'2 schedulers, 3,000 tasks, maxAttempts 1: every task succeeds once, no attempt counted for work never started',
		{ timeout: 240_000 },
		async () => {
			const db = await pg.createDatabase('cut');
			const runs = new Map<string, number>();
			const errors: string[] = [];
			const make = (name: string): Scheduler<number, number> => {
				const scheduler = new Scheduler<number, number>({
					id: name,
					container: new SqlContainer({
						knex: { client: 'pg', connection: { ...db, port: proxy.port }, pool: { min: 0, max: 4 } },
						tablePrefix: 'cut_',
					}),
					concurrency: 20,
					pollIntervalMs: 200,
					maxAttempts: 1,
					actuator: new FunctionActuator(async (n: number, { task }) => {
						runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
						return n;
					}),
				});
				scheduler.on('error', (error) => errors.push(`${name}: ${error.message}`));
				return scheduler;
			};
			// Tasks are added over a direct connection: this test is about claims and reports, not adds.
			const direct = new SqlContainer({ knex: { client: 'pg', connection: db }, tablePrefix: 'cut_' });
			await direct.migrate();
			const schedulers = [make('a'), make('b')];
			try {
				for (let i = 0; i < TASKS; i += 500) {
					await direct.add(
						records(
							Array.from({ length: 500 }, (_, k) => ({ id: `t${i + k}`, item: i + k })),
							Date.now(),
							1,
						),
					);
				}
				const deadline = Date.now() + 200_000;
				for (;;) {
					const c = await direct.counts();
					if (c.waiting + c.running + c.exporting === 0) break;
					if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(c)}`);
					await new Promise((resolve) => setTimeout(resolve, 250));
				}
				const bad: string[] = [];
				for (let offset = 0; offset < TASKS; offset += 1_000) {
					const { tasks } = await direct.list({ offset, limit: 1_000 });
					for (const t of tasks)
						if (t.status !== 'succeeded' || t.attempts !== 1)
							bad.push(`${t.id}: ${t.status} ${t.attempts} ${t.error?.code ?? ''}`);
				}
				const twice = [...runs].filter(([, n]) => n > 1).map(([id]) => id);
				const kinds = new Map<string, number>();
				for (const e of errors) {
					const key = e.replace(/\d+/g, 'N').slice(0, 160);
					kinds.set(key, (kinds.get(key) ?? 0) + 1);
				}
				console.log([...kinds].map(([k, n]) => `${n} × ${k}`).join('\n'));
				console.log(
					`[sql cut] cuts: ${proxy.cuts}; not succeeded at one attempt: ${bad.length}; ran twice: ${twice.length}; errors reported: ${errors.length}`,
				);
				expect(proxy.cuts).toBeGreaterThan(5);
				expect(bad.slice(0, 20)).toEqual([]);
				expect(twice).toEqual([]);
				expect(runs.size).toBe(TASKS);
			} finally {
				await Promise.all(schedulers.map((s) => s.close()));
				await direct.close();
			}
		},
	);
});
