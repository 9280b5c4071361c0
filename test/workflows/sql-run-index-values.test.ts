/**
 * SqlWorkflowStore on SQLite: a run write that leaves the run's indexed columns (`active_key`, `status`, `open`) as
 * this process last wrote them sets only the others (containers/sql/run-index-values.ts), and compares them in its
 * WHERE instead. A row whose indexed columns were changed behind the store's back at the same `rev` (a run made
 * again under its id, in another process) is still written whole: its columns say what its body says. Both drivers
 * (on `sqlite3` in a release's transaction only: outside one a batch is one statement), batched writes and single
 * ones.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { taskRelease, withTaskRelease, type ReleasingUpdate, type TaskRecord } from 'lightsched/kit';
import type { RunRecord } from 'lightsched/workflows';
import { sqliteBackend } from '../support/sql.js';
import { sampleRun } from './store.contract.js';

const drivers = { sqlite3: sqliteBackend('sqlite3'), 'better-sqlite3': sqliteBackend('better-sqlite3') };
afterAll(async () => {
	for (const backend of Object.values(drivers)) await backend.stop();
});

describe.each(Object.keys(drivers) as (keyof typeof drivers)[])('SqlWorkflowStore on SQLite (%s)', (driver) => {
	it('writes a mid-run update without its indexed columns, and a row changed behind its back whole', async () => {
		const container = new SqlContainer({ knex: await drivers[driver].freshDatabase() });
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
		// The run UPDATEs the connection prepares (both drivers prepare through it; a text once when kept).
		const updates: string[] = [];
		const client = container.knex.client as {
			acquireConnection(): Promise<{ prepare(sql: string, ...rest: unknown[]): unknown }>;
			releaseConnection(connection: unknown): Promise<unknown>;
		};
		const connection = await client.acquireConnection();
		const prepareSql = connection.prepare.bind(connection);
		connection.prepare = (sql: string, ...rest: unknown[]): unknown => {
			if (/^\s*(WITH v|UPDATE)/.test(sql) && sql.includes('wf_runs')) updates.push(sql);
			return prepareSql(sql, ...rest);
		};
		await client.releaseConnection(connection);
		const release = store[withTaskRelease](container) as ReleasingUpdate;
		const { prepare } = scheduler[taskRelease]();
		let n = 0;
		// Each write releases a task (due later: not claimed here), so it runs in a transaction on either driver.
		const update = async (run: RunRecord): Promise<RunRecord | null> => {
			const tasks = await prepare([{ id: `${run.id}:${++n}`, item: {}, runAt: Date.now() + 60_000 }]);
			return (await release(run, tasks as TaskRecord[]))?.run ?? null;
		};
		try {
			const runs = Array.from({ length: 4 }, () => sampleRun({ status: 'waiting' }));
			for (const run of runs) await store.create(run);
			// Each write's columns as its body: the first writes change `status` (all columns set), the next leave it.
			let current = await Promise.all(runs.map(async (run) => update({ ...run, status: 'running' })));
			for (let round = 0; round < 2; round++)
				current = await Promise.all(
					current.map(async (run) => update({ ...(run as RunRecord), vars: { round } })),
				);
			const unindexed = updates.filter((sql) => /SET updated_at = /.test(sql));
			expect(unindexed.length).toBeGreaterThan(0);
			for (const sql of unindexed) {
				const sets = sql.slice(sql.indexOf(' SET '), sql.search(/ (FROM v|WHERE) /));
				expect(sets).not.toMatch(/status|open|active_key/);
				expect(sql.slice(sql.search(/ WHERE /))).toMatch(/status = /);
			}
			// Another process made run 0 again under its id and moved it to the same rev, paused: this store's memory
			// of that rev (running) is wrong now. And run 1 alone, the same.
			for (const i of [0, 1]) {
				const run = current[i] as RunRecord;
				await store.knex.raw(`UPDATE lightsched_wf_runs SET status = 'paused', open = 0 WHERE id = ?`, [
					run.id,
				]);
			}
			const both = await Promise.all(
				[0, 2].map((i) => update({ ...(current[i] as RunRecord), vars: { round: 9 } })),
			);
			const alone = await update({ ...(current[1] as RunRecord), vars: { round: 9 } });
			for (const run of [...both, alone]) expect(run).not.toBeNull();
			const rows = (await store.knex('lightsched_wf_runs').select('id', 'status', 'open', 'rev')) as {
				id: string;
				status: string;
				open: number;
				rev: number;
			}[];
			for (const [i, rev] of [
				[0, 4],
				[1, 4],
				[2, 4],
				[3, 3],
			] as const) {
				const row = rows.find((r) => r.id === runs[i]?.id);
				expect(row).toMatchObject({ status: 'running', open: 1, rev });
				expect((await store.get(runs[i]?.id as string))?.status).toBe('running');
			}
			expect((await store.list({ status: 'paused' })).total).toBe(0);
		} finally {
			await scheduler.close();
			await store.close();
		}
	});
});
