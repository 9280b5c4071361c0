/**
 * Crash tests: a scheduler in a child process is SIGKILLed at random moments three times and restarted each
 * time. Every task must end `succeeded` exactly once (the container's compare-and-set) and none may be lost;
 * the test prints how many ran more than once (at-least-once) and how long the takeover took.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskRecord, type TaskContainer } from 'lightsched/kit';
import { SqlContainer } from 'lightsched/containers/sql';
import type { WorkerConfig } from '../fixtures/durable-worker.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { duplicates, readLogs, sleep, startWorker, takeoverMs, type Execution } from './harness.js';

const TASKS = 2_000;
const KILLS = 3;

const dir = mkdtempSync(join(tmpdir(), 'lightsched-crash-'));
let postgres: PostgresServer;
beforeAll(async () => {
	postgres = await startPostgres();
});
afterAll(async () => {
	await postgres?.stop();
	rmSync(dir, { recursive: true, force: true });
});

async function seed(container: TaskContainer): Promise<void> {
	const now = Date.now();
	const all = Array.from({ length: TASKS }, (_, i) =>
		createTaskRecord({ id: `task-${i}`, item: { n: i } }, `tasks[${i}]`, { maxAttempts: 10 }, now),
	);
	for (let i = 0; i < all.length; i += 500) await container.add(all.slice(i, i + 500));
	await container.close();
}

/** Run the kill-and-restart cycle; returns what the logs say. */
async function crashRun(name: string, config: Omit<WorkerConfig, 'logDir'>, open: () => TaskContainer): Promise<void> {
	const logDir = join(dir, name);
	mkdirSync(logDir);
	const full: WorkerConfig = { ...config, logDir };
	const kills: { pid: number; at: number }[] = [];
	for (let k = 0; k < KILLS; k++) {
		const worker = startWorker(full);
		const ended = await Promise.race([
			worker.started.then(() => false),
			worker.done.then(
				() => true,
				() => true,
			),
		]);
		if (ended) break;
		await sleep(150 + Math.floor(Math.random() * 600));
		const at = Date.now();
		await worker.kill();
		kills.push({ pid: worker.pid, at });
	}
	const last = startWorker(full);
	const report = await last.done;

	const container = open();
	const counts = await container.counts();
	const page = await container.list({ status: 'succeeded', limit: TASKS + 1 });
	await container.close();
	expect(counts).toMatchObject({ succeeded: TASKS, waiting: 0, running: 0, exporting: 0, failed: 0, stopped: 0 });
	expect(new Set(page.tasks.map((t) => t.id)).size).toBe(TASKS);

	const { executions, finals } = readLogs(logDir);
	const { ranTwice, byId } = duplicates(executions);
	// No task lost: every one of them ran to its end at least once.
	for (let i = 0; i < TASKS; i++) {
		expect(
			byId.get(`task-${i}`)?.some((e) => e.end !== null),
			`task-${i} never finished its work`,
		).toBe(true);
	}
	// A final status is reported once at most (a kill between the stored transition and the callback loses the report).
	for (const [id, list] of finals) expect(list.length, `${id} finished twice: ${list.join(',')}`).toBe(1);
	const takeovers = kills.map(({ pid, at }) => takeoverMs(executions, pid, at));
	// Work that ended in a killed process but ran again: the kill fell between the work's end and the stored transition.
	const ranLater = (e: Execution): boolean => (byId.get(e.id) ?? []).some((other) => other.start > e.start);
	const interrupted = kills.map(({ pid }) => executions.filter((e) => e.pid === pid && e.end === null).length);
	const endedThenRerun = kills.map(
		({ pid }) => executions.filter((e) => e.pid === pid && e.end !== null && ranLater(e)).length,
	);
	console.log(
		`${name}: ${TASKS} tasks, ${kills.length} kills, ${executions.length} executions, ${ranTwice} tasks ran more than once ` +
			`(interrupted mid-work per kill: ${interrupted.join(', ')}; work done but not yet stored: ${endedThenRerun.join(', ')}), takeover ms: ${takeovers.map((t) => t ?? '-').join(', ')}, ` +
			`final reports ${finals.size}/${TASKS}, errors in the last run: ${report.errors.length}`,
	);
}

describe('crash and restart', () => {
	it('SqlContainer on SQLite: every task succeeds exactly once through three SIGKILLs', async () => {
		const filename = join(dir, 'crash.sqlite');
		const sql = { knex: { client: 'sqlite3', connection: { filename } } };
		await seed(new SqlContainer(sql as never));
		await crashRun(
			'sqlite',
			{ store: 'sql', sql, concurrency: 8, leaseMs: 1000, workMs: [1, 5], maxAttempts: 10 },
			() => new SqlContainer(sql as never),
		);
	}, 120_000);

	it('SqlContainer on PostgreSQL: every task succeeds exactly once through three SIGKILLs', async () => {
		const sql = { knex: { client: 'pg', connection: postgres.url } };
		await seed(new SqlContainer(sql as never));
		await crashRun(
			'postgres',
			{ store: 'sql', sql, concurrency: 8, leaseMs: 1000, workMs: [1, 5], maxAttempts: 10 },
			() => new SqlContainer(sql as never),
		);
	}, 120_000);

	it('CombinedContainer(queue, SQLite): restart restores and recovers, every task succeeds exactly once', async () => {
		const filename = join(dir, 'combined.sqlite');
		const sql = { knex: { client: 'sqlite3', connection: { filename } } };
		await seed(new SqlContainer(sql as never));
		await crashRun(
			'combined',
			{ store: 'combined', sql, concurrency: 8, leaseMs: 1000, workMs: [1, 5], maxAttempts: 10 },
			() => new SqlContainer(sql as never),
		);
	}, 120_000);
});
