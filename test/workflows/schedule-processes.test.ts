/**
 * Scheduled runs across processes: two worker processes on one SQLite file or one Redis server declare the same
 * schedule (every 300 ms). Each tick makes one run, created by one of them; after one is SIGKILLed, the other keeps
 * the schedule going. The kill can land inside a create (stored, not yet announced): on Redis that is also made to
 * happen, through a proxy that drops the killed process's replies.
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
import { startTcpProxy } from '../support/tcp-proxy.js';
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
	await redis?.close();
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

/**
 * SIGKILL `a`; let `b` (sent SIGCONT first when `resume`: it was stopped) make three runs after the kill; stop `b`
 * and check every run against the two logs (`checkRuns`).
 */
async function killFirstAndCheck(
	a: ChildProcess,
	b: ChildProcess,
	runs: () => Promise<RunRecord[]>,
	logs: readonly [string, string],
	{ resume = false } = {},
): Promise<void> {
	const killSentAt = Date.now();
	a.kill('SIGKILL');
	await new Promise((resolve) => a.once('exit', resolve));
	const killedAt = Date.now();
	if (resume) b.kill('SIGCONT');
	await until(
		async () => (await runs()).filter((run) => tickOf(run) > killedAt).length >= 3,
		20_000,
		'three ticks after the kill',
	);
	b.kill('SIGTERM');
	await new Promise((resolve) => b.once('exit', resolve));
	checkRuns(await runs(), logs, killSentAt, killedAt);
}

/**
 * What the two processes made. Each tick has one run (ids are per tick). A run's `run:created` line comes from the
 * process whose create the store took, and from no other; a process SIGKILLed inside a create (after the store
 * took it, before its line was written) leaves that run without a line, and such runs can only be its latest
 * ticks: later than any it announced and not later than the kill. After the kill the survivor made every run.
 */
function checkRuns(all: readonly RunRecord[], logs: readonly [string, string], killSentAt: number, killedAt: number) {
	const [byKilled, bySurvivor] = [createdBy(logs[0]), createdBy(logs[1])];
	const created = [...byKilled, ...bySurvivor];
	const ids = new Set(all.map((run) => run.id));
	expect(new Set(created).size).toBe(created.length);
	expect(created.filter((id) => !ids.has(id))).toEqual([]);
	const lastAnnounced = Math.max(0, ...all.filter((run) => byKilled.includes(run.id)).map(tickOf));
	for (const run of all) {
		expect(tickOf(run) % EVERY).toBe(0);
		expect(run.vars).toEqual({ region: 'us' });
		if (created.includes(run.id)) continue;
		expect(tickOf(run)).toBeGreaterThan(lastAnnounced);
		expect(tickOf(run)).toBeLessThanOrEqual(killSentAt);
	}
	const afterKill = all.filter((run) => tickOf(run) > killedAt).map((run) => run.id);
	expect(bySurvivor).toEqual(expect.arrayContaining(afterKill));
}

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
			// Wherever the kill lands: between ticks, or inside a create (then that run has no line, see checkRuns).
			await killFirstAndCheck(a, b, runs, logs);
		} finally {
			await store.close();
			client?.disconnect();
		}
	}, 90_000);
});

describe('flows.schedule across processes on Redis, a kill inside a create', () => {
	// The kill inside a create, made to happen: the survivor is stopped (SIGSTOP) and the other process's replies
	// are dropped (a proxy between it and Redis), so the runs it creates meanwhile are stored but never announced; it
	// is killed once one is there, and the survivor continued (SIGCONT). The survivor's create of the tick it was
	// waiting for may then be refused (one run per tick); either way it goes on.
	it('a process killed after the store took its create, before it heard so, leaves that tick its only run', async () => {
		const name = 'schedule-processes-cut';
		const client = new Redis((redis as RedisServer).url);
		const store = new RedisWorkflowStore({ redis: client, name });
		const proxy = await startTcpProxy((redis as RedisServer).port);
		const logs = [join(dir, 'cut-a.log'), join(dir, 'cut-b.log')] as const;
		const runs = async (): Promise<RunRecord[]> =>
			(await store.list({ definition: 'create-cluster', limit: 1000 })).runs.filter((run) =>
				run.id.startsWith('schedule:ticking:'),
			);
		try {
			const b = await startWorker({ redis: { url: (redis as RedisServer).url, name } }, logs[1]);
			const a = await startWorker({ redis: { url: `redis://127.0.0.1:${proxy.port}`, name } }, logs[0]);
			await until(async () => (await runs()).length >= 3, 20_000, 'three ticks');
			b.kill('SIGSTOP');
			const stoppedAt = Date.now();
			proxy.swallowRepliesFrom = 'schedule:ticking:';
			// A tick after the stop: the stopped process sent no create for it, so its run is the other's.
			await until(
				async () => (await runs()).some((run) => tickOf(run) > stoppedAt),
				20_000,
				'a run the process to kill created after the stop',
			);
			await killFirstAndCheck(a, b, runs, logs, { resume: true });
			// The killed process's last run is there, announced by nobody.
			expect(createdBy(logs[0]).length + createdBy(logs[1]).length).toBeLessThan((await runs()).length);
		} finally {
			await store.close();
			client.disconnect();
			await proxy.close();
		}
	}, 90_000);
});
