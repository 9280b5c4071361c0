/**
 * Issue 11 item 4 on PostgreSQL: two scheduler processes share one SqlContainer, one on a clock 10 s ahead and one
 * 10 s behind (`Date.now` patched in the child process, as on a machine whose clock is wrong). 40 tasks of 3 s,
 * `leaseMs: 2000`, `maxAttempts: 3`. Leases, due times and reclaims are judged by PostgreSQL's clock (`now()` in the
 * statements), so neither process takes over the other's live tasks: every task runs once and succeeds. (Judged by
 * the callers' clocks, the fast one sees every other lease as expired and takes the tasks over while they run.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { readWorkerLogs, startSqlWorker } from '../support/sql-worker.js';

const TASKS = 40;

let pg: PostgresServer;
let logs: string;

beforeAll(async () => {
	pg = await startPostgres();
	logs = mkdtempSync(join(tmpdir(), 'lightsched-sql-skew-'));
}, 60_000);
afterAll(async () => {
	await pg?.stop();
	if (logs) rmSync(logs, { recursive: true, force: true });
});

describe('SqlContainer (PostgreSQL) with schedulers whose clocks disagree (issue 11 item 4)', () => {
	it('one process 10 s ahead, one 10 s behind: nothing runs twice, nothing fails', { timeout: 150_000 }, async () => {
		const connection = await pg.createDatabase('skew');
		const common = {
			connection,
			tablePrefix: 'skew_',
			concurrency: 10,
			leaseMs: 2000,
			workMs: 3000,
			maxAttempts: 3,
		};
		const files = [join(logs, 'ahead.log'), join(logs, 'behind.log')];
		const workers = [
			startSqlWorker({ ...common, skewMs: 10_000, log: files[0]! }),
			startSqlWorker({ ...common, skewMs: -10_000, log: files[1]! }),
		];
		const container = new SqlContainer({ knex: { client: 'pg', connection }, tablePrefix: 'skew_' });
		try {
			await Promise.all(workers.map((w) => w.ready));
			// Due for a while already, so that both processes take tasks from the start (a clock 10 s behind would not
			// see a task due "now" as due yet), ten at a time each: every task runs beside the other process's.
			await container.add(
				records(
					Array.from({ length: TASKS }, (_, i) => ({ id: `s${i}`, item: i })),
					Date.now() - 15_000,
					3,
				),
			);
			const deadline = Date.now() + 120_000;
			for (;;) {
				const c = await container.counts();
				if (c.waiting + c.running + c.exporting === 0) break;
				if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(c)}`);
				await sleep(250);
			}
			await Promise.all(workers.map((w) => w.stop()));
			const { starts } = readWorkerLogs(files);
			const twice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);
			const { tasks } = await container.list({ limit: TASKS });
			const notOnce = tasks
				.filter((t) => t.status !== 'succeeded' || t.attempts !== 1)
				.map((t) => `${t.id}: ${t.status}, ${t.attempts} attempts`);
			console.log(
				`[sql skew] ran more than once: ${twice.length}; not succeeded at the first attempt: ${notOnce.length}`,
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
