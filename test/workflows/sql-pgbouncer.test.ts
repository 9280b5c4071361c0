/**
 * Workflows on PostgreSQL behind a real PgBouncer in transaction mode (test/support/pgbouncer.ts: the usual
 * production set-up, where a server connection goes back to the pool after every transaction, so session state and
 * LISTEN do not survive). The workflow store contract runs through it, and two engines (two "processes", each with
 * its own pool through the pooler) share runs: one runs the steps (its LISTEN behind the pooler, found dead or not),
 * the other, with no notifications at all (`notify: false`), waits for the runs and stops one through the tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type StepItem } from 'lightsched/workflows';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { workflowStoreContract } from './store.contract.js';

let pg: PostgresServer;
let bouncer: PgBouncer;
let n = 0;

beforeAll(async () => {
	pg = await startPostgres();
	bouncer = await startPgBouncer(pg, { poolMode: 'transaction', poolSize: 4 });
}, 60_000);
afterAll(async () => {
	await bouncer?.stop();
	await pg?.stop();
});

/** A new database, reached through the pooler (knex's pool of at most 4 connections to PgBouncer). */
async function pooledDatabase(): Promise<{ client: 'pg'; connection: object; pool: { min: number; max: number } }> {
	const name = `flows${++n}`;
	await pg.createDatabase(name);
	return { client: 'pg', connection: bouncer.connection(name), pool: { min: 0, max: 4 } };
}

workflowStoreContract('SqlWorkflowStore through PgBouncer (transaction mode)', async () => {
	return new SqlWorkflowStore({ knex: await pooledDatabase() });
});

describe('Workflows through PgBouncer in transaction mode', () => {
	it('one process runs fan-out/join runs, another with no notifications waits for them and stops one', async () => {
		const knex = await pooledDatabase();
		const ran = new Map<string, number>();
		const open = (notify: boolean) => {
			const container = new SqlContainer(
				notify ? { knex, notifyProbe: { timeoutMs: 1_000, intervalMs: 1_000 } } : { knex, notify: false },
			);
			const store = new SqlWorkflowStore({ container });
			const actions = workflowActions({
				work: async (params, ctx) => {
					const key = `${ctx.runId}/${ctx.stepId}`;
					ran.set(key, (ran.get(key) ?? 0) + 1);
					if (params['slow'] === true)
						await new Promise((resolve, reject) => {
							const timer = setTimeout(resolve, 60_000);
							ctx.signal.addEventListener('abort', () => {
								clearTimeout(timer);
								reject(new Error('stopped'));
							});
						});
					return Object.keys(ctx.inputs).length;
				},
			});
			const scheduler = new Scheduler<StepItem>({
				container,
				actuator: new FunctionActuator(actions),
				concurrency: 8,
				pollIntervalMs: 200,
			});
			scheduler.on('error', () => undefined); // the dead LISTEN's report
			const flows = new Workflows({ scheduler, actions, store, sweepMs: 500 });
			flows.define({
				name: 'dag',
				steps: [
					{ id: 'root', action: 'work' },
					...[1, 2, 3, 4].map((i) => ({ id: `mid${i}`, action: 'work', dependsOn: ['root'] })),
					{ id: 'join', action: 'work', dependsOn: ['mid1', 'mid2', 'mid3', 'mid4'] },
				],
			});
			flows.define({ name: 'slow', steps: [{ id: 'wait', action: 'work', params: { slow: true } }] });
			return { scheduler, store, flows };
		};
		const runner = open(true);
		const watcher = open(false);
		await watcher.scheduler.pause(); // this one only watches and commands
		try {
			const started = await Promise.all(Array.from({ length: 20 }, () => runner.flows.start('dag')));
			const finished = await Promise.all(started.map((run) => watcher.flows.wait(run.id, { timeoutMs: 30_000 })));
			expect(finished.map((run) => run.status)).toEqual(started.map(() => 'succeeded'));
			expect(finished[0]?.steps['join']?.output).toBe(4);
			expect(ran.size).toBe(20 * 6);
			expect([...ran.values()].every((count) => count === 1)).toBe(true);

			// A stop from the other process reaches the running step through the shared tables alone.
			const slow = await runner.flows.start('slow');
			for (let waited = 0; !ran.has(`${slow.id}/wait`) && waited < 20_000; waited += 50)
				await new Promise((resolve) => setTimeout(resolve, 50));
			await watcher.flows.stop(slow.id);
			const stopped = await watcher.flows.wait(slow.id, { timeoutMs: 30_000 });
			expect(stopped.status).toBe('stopped');
			expect(stopped.steps['wait']?.status).toBe('stopped');
		} finally {
			for (const side of [runner, watcher]) {
				await side.flows.close();
				await side.scheduler.close();
				await side.store.close();
			}
		}
	}, 90_000);
});
