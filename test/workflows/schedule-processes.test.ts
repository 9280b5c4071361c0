/**
 * Scheduled runs across processes: two worker processes on one SQLite file or one Redis server declare the same
 * schedule (every 300 ms). Each tick makes one run, created by one of them; after one is SIGKILLed between ticks,
 * the other keeps the schedule going.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import type { RunRecord, WorkflowStore } from 'lightsched/workflows';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
import { bundledCommand } from '../support/bundled-command.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { until } from './fixture.js';
import type { ScheduleWorkerConfig } from './schedule-worker.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = await bundledCommand('test/workflows/schedule-worker.ts');
const EVERY = 300;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-schedule-'));
const children: ChildProcess[] = [];
let redis: RedisServer | undefined;

beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	rmSync(dir, { recursive: true, force: true });
	await redis?.stop();
});

function startWorker(config: Omit<ScheduleWorkerConfig, 'log' | 'every'>, log: string): Promise<ChildProcess> {
	const worker: ScheduleWorkerConfig = { ...config, log, every: EVERY };
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_WF_SCHEDULE_WORKER: JSON.stringify(worker) },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	children.push(child);
	return new Promise<ChildProcess>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited (${String(code)}) before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve(child);
		});
	});
}

function createdBy(log: string): string[] {
	if (!existsSync(log)) return [];
	return readFileSync(log, 'utf8')
		.split('\n')
		.filter((line) => line.startsWith('created '))
		.map((line) => line.slice('created '.length));
}

const tickOf = (run: RunRecord): number => Number(run.id.slice('schedule:ticking:'.length));

describe.each(['SQLite', 'Redis'] as const)('flows.schedule across processes on %s', (backend) => {
	it('two processes make one run per tick; after one is SIGKILLed the other keeps the schedule going', async () => {
		let config: Omit<ScheduleWorkerConfig, 'log' | 'every'>;
		let store: WorkflowStore;
		let client: Redis | undefined;
		if (backend === 'SQLite') {
			const knex = {
				client: 'sqlite3',
				connection: { filename: join(dir, 'db.sqlite') },
				useNullAsDefault: true,
			};
			config = { sql: knex };
			store = new SqlWorkflowStore({ knex });
		} else {
			const name = 'schedule-processes';
			config = { redis: { url: (redis as RedisServer).url, name } };
			client = new Redis((redis as RedisServer).url);
			store = new RedisWorkflowStore({ redis: client, name });
		}
		const logs = [join(dir, `${backend}-a.log`), join(dir, `${backend}-b.log`)] as const;
		const runs = async (): Promise<RunRecord[]> =>
			(await store.list({ definition: 'create-cluster', limit: 1000 })).runs.filter((run) =>
				run.id.startsWith('schedule:ticking:'),
			);
		try {
			// One after the other: the second starts on the container and store the first set up.
			const a = await startWorker(config, logs[0]);
			await until(async () => (await runs()).length >= 1, 20_000, 'the first tick');
			const b = await startWorker(config, logs[1]);
			await until(async () => (await runs()).length >= 5, 20_000, 'five ticks');
			a.kill('SIGKILL');
			await new Promise((resolve) => a.once('exit', resolve));
			const killedAt = Date.now();
			await until(
				async () => (await runs()).filter((run) => tickOf(run) > killedAt).length >= 3,
				20_000,
				'three ticks after the kill',
			);
			b.kill('SIGTERM');
			await new Promise((resolve) => b.once('exit', resolve));
			const all = await runs();
			const created = [...createdBy(logs[0]), ...createdBy(logs[1])];
			// Every tick's run was created by exactly one of the two processes.
			expect(created.sort()).toEqual(all.map((run) => run.id).sort());
			for (const run of all) {
				expect(tickOf(run) % EVERY).toBe(0);
				expect(run.vars).toEqual({ region: 'us' });
			}
			// While both ran either could win a tick; after the kill the survivor made every run.
			const afterKill = all.filter((run) => tickOf(run) > killedAt).map((run) => run.id);
			expect(createdBy(logs[1])).toEqual(expect.arrayContaining(afterKill));
		} finally {
			await store.close();
			client?.disconnect();
		}
	}, 90_000);
});
