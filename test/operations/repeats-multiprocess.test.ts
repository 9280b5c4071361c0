/**
 * Repeating tasks across processes (issue 14 item 3), on Redis, PostgreSQL and SQLite: three scheduler processes
 * declare the same repeat (one of them with its clock 1.5 s ahead), one is SIGKILLed midway and a new one starts.
 * Each tick must add exactly one task: every tick's task is stored once, and its work started as many times as
 * its attempts say (a tick added twice would reset its record and show more starts than attempts). The tick's
 * atomicity itself (one winner among concurrent advancers) is the contract suite's case, which fails at once when
 * the compare-and-set is broken; this test checks the whole path with real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContainer, TaskRecord } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import type { RepeatWorkerConfig } from '../fixtures/repeat-scheduler.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { bundledCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/fixtures/repeat-scheduler.ts`;
const WORKER = await bundledCommand(SCRIPT);
const EVERY = 250;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-repeats-'));
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

function startWorker(config: RepeatWorkerConfig): { child: ChildProcess; ready: Promise<void> } {
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_REPEAT: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	children.add(child);
	child.once('exit', () => children.delete(child));
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve();
		});
	});
	return { child, ready };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
	['Redis', 'redis' as const],
	['PostgreSQL', 'pg' as const],
	['SQLite', 'sqlite' as const],
])('repeats across processes on %s', (_label, kind) => {
	it('adds exactly one task per tick with three processes, a skewed clock and one killed', async () => {
		const name = `rep_${kind}`;
		const where =
			kind === 'redis'
				? redis.url
				: kind === 'pg'
					? await pg.createDatabase(`repeats_${Date.now()}`)
					: join(dir, 'repeats.sqlite');
		const logs = [0, 1, 2, 3].map((i) => join(dir, `${kind}-${i}.log`));
		const config = (i: number, skewMs = 0): RepeatWorkerConfig => ({
			kind,
			where,
			name,
			every: EVERY,
			log: logs[i] as string,
			skewMs,
		});
		const workers = [startWorker(config(0)), startWorker(config(1, 1_500)), startWorker(config(2))];
		await Promise.all(workers.map((w) => w.ready));
		await sleep(3_000);
		(workers[0] as { child: ChildProcess }).child.kill('SIGKILL');
		const late = startWorker(config(3));
		await late.ready;
		await sleep(3_000);
		for (const w of [...workers.slice(1), late]) {
			if (w.child.exitCode === null) w.child.kill('SIGTERM');
			await new Promise((resolve) => (w.child.exitCode !== null ? resolve(null) : w.child.once('exit', resolve)));
		}

		const container: TaskContainer =
			kind === 'redis'
				? new RedisContainer({ redis: redis.url, name, log: false })
				: new SqlContainer({
						knex:
							kind === 'pg'
								? { client: 'pg', connection: where as never }
								: {
										client: 'sqlite3',
										connection: { filename: where as string },
										useNullAsDefault: true,
									},
						tablePrefix: name,
					});
		try {
			const page = await container.list({ limit: 10_000 });
			const ticks = page.tasks.filter((t) => t.id.startsWith('repeat:beat:'));
			const times = ticks.map((t) => Number(t.id.split(':')[2])).sort((a, b) => a - b);
			const starts = new Map<string, number>();
			for (const log of logs) {
				if (!existsSync(log)) continue;
				for (const line of readFileSync(log, 'utf8').split('\n')) {
					const [id] = line.split(' ');
					if (id) starts.set(id, (starts.get(id) ?? 0) + 1);
				}
			}
			// About 6 s of ticks every 250 ms (ticks missed under load collapse into one run, so not all 24).
			expect(times.length).toBeGreaterThanOrEqual(12);
			expect(times.every((t) => t % EVERY === 0)).toBe(true);
			const byId = new Map<string, TaskRecord>(ticks.map((t) => [t.id, t]));
			const extra = [...starts.entries()].filter(([id, n]) => n > (byId.get(id)?.attempts ?? 0));
			expect(extra, 'a tick whose work started more often than its attempts: it was added twice').toEqual([]);
			const gaps = times.slice(1).filter((t, i) => t - (times[i] as number) > EVERY).length;
			console.log(`${kind}: ${times.length} ticks over ${times.at(-1)! - times[0]!} ms, ${gaps} gaps (missed)`);
			const stored = await (container.listRepeats?.() ?? []);
			expect(stored.map((r) => r.key)).toEqual(['beat']);
		} finally {
			await container.close();
		}
	}, 90_000);
});
