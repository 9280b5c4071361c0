/**
 * Four scheduler processes share one PostgreSQL container and 10,000 tasks: each task runs in one process at a
 * time (no overlapping executions), all finish, and no process ever runs more than its concurrency limit.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskRecord } from 'lightsched/kit';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { duplicates, readLogs, startWorker } from './harness.js';

const TASKS = 10_000;
const PROCESSES = 4;
const CONCURRENCY = 16;

const dir = mkdtempSync(join(tmpdir(), 'lightsched-multi-'));
let postgres: PostgresServer;
beforeAll(async () => {
	postgres = await startPostgres();
});
afterAll(async () => {
	await postgres?.stop();
	rmSync(dir, { recursive: true, force: true });
});

describe('several scheduler processes on one PostgreSQL', () => {
	it(`${PROCESSES} processes, ${TASKS} tasks: one owner at a time, all finished, concurrency respected`, async () => {
		const sql = { knex: { client: 'pg', connection: postgres.url } };
		const seeder = new SqlContainer(sql as never);
		const now = Date.now();
		const all = Array.from({ length: TASKS }, (_, i) =>
			createTaskRecord({ id: `task-${i}`, item: { n: i } }, `tasks[${i}]`, { maxAttempts: 3 }, now),
		);
		for (let i = 0; i < all.length; i += 1000) await seeder.add(all.slice(i, i + 1000));
		await seeder.close();

		const logDir = join(dir, 'logs');
		mkdirSync(logDir);
		const started = Date.now();
		const workers = Array.from({ length: PROCESSES }, () =>
			startWorker({
				store: 'sql',
				sql,
				logDir,
				concurrency: CONCURRENCY,
				leaseMs: 5000,
				workMs: [1, 5],
				maxAttempts: 3,
			}),
		);
		const reports = await Promise.all(workers.map((w) => w.done));
		const elapsed = Date.now() - started;

		const check = new SqlContainer(sql as never);
		const counts = await check.counts();
		await check.close();
		expect(counts).toMatchObject({ succeeded: TASKS, waiting: 0, running: 0, exporting: 0, failed: 0 });

		const { executions, finals } = readLogs(logDir);
		const { ranTwice, byId } = duplicates(executions);
		expect(byId.size).toBe(TASKS);
		for (const [id, list] of byId) {
			for (let i = 1; i < list.length; i++) {
				const before = list[i - 1];
				const after = list[i];
				expect(before?.end, `${id}: execution in ${before?.pid} never ended`).not.toBeNull();
				expect(
					after && before && after.start >= (before.end ?? Infinity),
					`${id} ran in ${before?.pid} and ${after?.pid} at once`,
				).toBe(true);
			}
		}
		expect(finals.size).toBe(TASKS);
		for (const [id, list] of finals) expect(list, id).toEqual(['succeeded']);
		for (const report of reports) expect(report.maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
		const perProcess = reports.map((r) => r.executions);
		expect(perProcess.reduce((a, b) => a + b, 0)).toBe(executions.length);
		console.log(
			`multi-process: ${PROCESSES}×${CONCURRENCY} on PostgreSQL, ${TASKS} tasks in ${elapsed} ms; executions per process ${perProcess.join(', ')}; ` +
				`max in flight ${reports.map((r) => r.maxInFlight).join(', ')}; ran more than once: ${ranTwice}; errors: ${reports.flatMap((r) => r.errors).length}` +
				reports.flatMap((r) => r.errors.map((e) => `\n  scheduler error: ${e}`)).join(''),
		);
	}, 120_000);
});
