/**
 * Results across processes (issue 14 item 2), on Redis, PostgreSQL and SQLite: two worker processes run tasks that a
 * producer process — no scheduler, no actuator — adds straight to the container and awaits with
 * `TaskEvents.waitFor`. Every task's final record must reach the producer: the successes with the output the worker
 * returned, the failures (every fifth task fails; one attempt each) with their error. Again with tasks kept 0 ms
 * after finishing (`NewTask.retention`; every SQL change log carries the final record, SQLite's since schema 8): the
 * records still reach the producer, and the workers delete every task.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WaitForProcessConfig } from '../fixtures/wait-for-process.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { bundledCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/fixtures/wait-for-process.ts`;
const WORKER = await bundledCommand(SCRIPT);
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wait-for-'));
let redis: RedisServer;
let pg: PostgresServer;
const children = new Set<ChildProcess>();

beforeAll(async () => {
	[redis, pg] = await Promise.all([startRedis(), startPostgres()]);
}, 120_000);
afterAll(async () => {
	for (const child of children) child.kill('SIGKILL');
	await Promise.all([redis?.close(), pg?.stop()]);
	rmSync(dir, { recursive: true, force: true });
});

/** Start a process; resolves with its stdout lines once it exits (rejects on a non-zero exit). */
function run(
	config: WaitForProcessConfig,
	onLine?: (line: string) => void,
): { child: ChildProcess; exited: Promise<string[]> } {
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_WAIT_FOR: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	children.add(child);
	const lines: string[] = [];
	createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
		lines.push(line);
		onLine?.(line);
	});
	const exited = new Promise<string[]>((resolve, reject) => {
		child.once('exit', (code) => {
			children.delete(child);
			if (code === 0) resolve(lines);
			else reject(new Error(`${config.role} exited with ${String(code)}`));
		});
	});
	return { child, exited };
}

function startWorker(config: Omit<WaitForProcessConfig, 'role'>): Promise<ChildProcess> {
	return new Promise((resolve, reject) => {
		const { child, exited } = run({ ...config, role: 'worker' }, (line) => {
			if (line === 'ready') resolve(child);
		});
		exited.catch(reject);
	});
}

describe.each([
	['Redis', 'redis' as const],
	['PostgreSQL', 'pg' as const],
	['SQLite', 'sqlite' as const],
])('waitFor from a process with no actuator, tasks run by two others (%s)', (_label, kind) => {
	it('hands every final record to the producer', async () => {
		const where =
			kind === 'redis' ? redis.url : kind === 'pg' ? { ...pg.connection } : join(dir, 'wait-for.sqlite');
		const base = { kind, where, name: `wf_${kind}_` };
		// All three start at once: the producer's tasks wait in the container until a worker is up.
		const starting = [startWorker(base), startWorker(base)];
		const lines = await run({ ...base, role: 'producer', count: 20, prefix: kind }).exited;
		const workers = await Promise.all(starting);
		for (const worker of workers) worker.stdin?.end();
		const records = JSON.parse(lines.at(-1) ?? '[]') as {
			id: string;
			status: string;
			output: { doubled: number; pid: number } | null;
			error: string | null;
		}[];
		expect(records).toHaveLength(20);
		const pids = new Set(workers.map((w) => w.pid));
		records.forEach((record, n) => {
			expect(record.id).toBe(`${kind}-${n}`);
			if (n % 5 === 4) {
				expect(record).toMatchObject({ status: 'failed', error: `task ${n} fails` });
			} else {
				expect(record).toMatchObject({ status: 'succeeded', output: { doubled: n * 2 } });
				expect(pids.has(record.output?.pid)).toBe(true);
			}
		});
	}, 60_000);
});

describe.each([
	['Redis', 'redis' as const],
	['PostgreSQL', 'pg' as const],
	['SQLite', 'sqlite' as const],
])('waitFor across processes on tasks kept 0 ms after finishing (%s)', (_label, kind) => {
	it('hands every final record to the producer, and the worker deletes every task', async () => {
		const where =
			kind === 'redis' ? redis.url : kind === 'pg' ? { ...pg.connection } : join(dir, 'wait-for-kept-0.sqlite');
		const base = { kind, where, name: `wf0_${kind}_` };
		const starting = [startWorker(base), startWorker(base)];
		const lines = await run({ ...base, role: 'producer', count: 20, prefix: `${kind}0`, keepNone: true }).exited;
		const workers = await Promise.all(starting);
		for (const worker of workers) worker.stdin?.end();
		const records = JSON.parse(lines.at(-2) ?? '[]') as { id: string; status: string; output: unknown }[];
		expect(records).toHaveLength(20);
		records.forEach((record, n) => {
			expect(record.id).toBe(`${kind}0-${n}`);
			if (n % 5 === 4) expect(record).toMatchObject({ status: 'failed' });
			else expect(record).toMatchObject({ status: 'succeeded', output: { doubled: n * 2 } });
		});
		expect(JSON.parse(lines.at(-1) ?? '{}')).toEqual({ remaining: 0 });
	}, 60_000);
});
