/**
 * Cross-process `waitFor` latency (issue 14 item 2): a producer with no actuator (this process) adds one task at a
 * time and awaits its final record; a worker in a child process runs it. Two figures per engine, in microseconds:
 * `end→answer`, from the end of the work in the worker (its handler's last line reads `process.hrtime.bigint()`,
 * CLOCK_MONOTONIC, shared by the processes of the machine) to the producer's `waitFor` resolving, and `add→answer`,
 * the whole round trip (the claim's wake-up included). Engines, on one redis-server and one PostgreSQL started here,
 * in the same run: lightsched's `TaskEvents.waitFor` on RedisContainer and on SqlContainer (PostgreSQL,
 * LISTEN/NOTIFY) and over one SQLite file (the two processes share it; its file-watch wake-up), and BullMQ's
 * `job.waitUntilFinished(queueEvents)` on the same Redis. Each engine runs ROUNDS rounds (a fresh worker and queue each); printed: p50 and p99, the medians over the rounds, and BullMQ's over
 * lightsched's on Redis.
 *
 * Both servers are durable (PostgreSQL `fsync` and `full_page_writes` on, redis-server AOF `appendfsync everysec`;
 * bench/durable-servers.ts): the worker's write of the outcome then waits for its commit's fsync on PostgreSQL, as it
 * would in production. `DURABLE=0`: the test harness's servers (no fsync, no AOF), the setting of the reports in
 * docs/benchmarks.md until 7 Dec 2026 (this bench asked for `fsync=off` in so many words, the harness's default).
 *
 *   npm run bench:wait-for    (SAMPLES=300 WARMUP=30 ROUNDS=3 ONLY=<part of a name> DURABLE=0)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { TaskEvents, type TaskContainer } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { createTaskRecord } from 'lightsched/kit';
import { SERVERS, startBenchPostgres, startBenchRedis } from './durable-servers.js';
import type { WaitForBenchConfig } from './wait-for-worker.js';
import { median, quantile } from './stats.js';

const SAMPLES = Number(process.env['SAMPLES'] ?? 300);
const WARMUP = Number(process.env['WARMUP'] ?? 30);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const ONLY = process.env['ONLY'] ?? '';
const WORKER = fileURLToPath(new URL('./wait-for-worker.ts', import.meta.url));

type Engine = WaitForBenchConfig['engine'];

const ENGINES: readonly [Engine, string][] = [
	['lightsched-redis', 'lightsched RedisContainer, TaskEvents.waitFor'],
	['bullmq', 'BullMQ 6 job.waitUntilFinished(queueEvents), same Redis'],
	['lightsched-pg', 'lightsched SqlContainer (PostgreSQL), TaskEvents.waitFor'],
	['lightsched-sqlite', 'lightsched SqlContainer (SQLite, two processes), TaskEvents.waitFor'],
];

interface Waiting {
	/** Add task n and resolve with its output's end time once the task's final record is in. */
	run(n: number): Promise<bigint>;
	close(): Promise<void>;
}

async function startWorker(config: WaitForBenchConfig): Promise<() => Promise<void>> {
	const child = spawn(process.execPath, ['--conditions=lightsched:source', '--import', 'tsx', WORKER], {
		env: { ...process.env, WAIT_FOR_BENCH: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	await new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)}`)));
		createInterface({ input: child.stdout }).on('line', (line) => {
			if (line === 'ready') resolve();
		});
	});
	return () =>
		new Promise<void>((resolve) => {
			child.removeAllListeners('exit');
			child.once('exit', () => resolve());
			child.stdin.end();
		});
}

async function lightsched(container: TaskContainer): Promise<Waiting> {
	const events = new TaskEvents(container);
	await events.ready();

	return {
		async run(n) {
			const id = `t${n}`;
			await container.add([createTaskRecord({ id, item: n }, 'task', { maxAttempts: 1 }, Date.now())]);
			const record = await events.waitFor<number, { endedAt: string }>(id, { timeoutMs: 30_000 });

			if (record.status !== 'succeeded') throw new Error(`task ${id} ${record.status}`);
			return BigInt((record.output as { endedAt: string }).endedAt);
		},
		async close() {
			await events.close();
			await container.close();
		},
	};
}

async function bullmq(name: string, port: number): Promise<Waiting> {
	const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
	const queue = new Queue(name, { connection });
	const queueEvents = new QueueEvents(name, { connection });
	await queueEvents.waitUntilReady();
	return {
		async run(n) {
			const job = await queue.add('t', { n });
			const output = (await job.waitUntilFinished(queueEvents, 30_000)) as { endedAt: string };
			return BigInt(output.endedAt);
		},
		async close() {
			await queueEvents.close();
			await queue.close();
		},
	};
}

const sqlite = (config: WaitForBenchConfig): SqlContainer =>
	new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: config.sqliteFile }, useNullAsDefault: true },
		tablePrefix: config.name,
	});

const dir = mkdtempSync(join(tmpdir(), 'lightsched-wait-for-'));
const redis = await startBenchRedis();
const pg = await startBenchPostgres();
const results = new Map<Engine, { endP50: number[]; endP99: number[]; addP50: number[]; addP99: number[] }>();
try {
	for (let round = 0; round < ROUNDS; round++) {
		for (const [engine, label] of ENGINES) {
			if (ONLY !== '' && !label.includes(ONLY)) continue;
			const name = `wf${round}_${engine.replace(/-/g, '_')}_`;
			const config: WaitForBenchConfig = {
				engine,
				name,
				redisUrl: redis.url,
				redisPort: redis.port,
				pgUrl: pg.url,
				sqliteFile: join(dir, `${name}.db`),
			};
			if (engine === 'lightsched-sqlite') {
				// Created before the worker opens it, so the two processes do not race to make the tables.
				const setup = sqlite(config);
				await setup.migrate();
				await setup.close();
			}
			const stopWorker = await startWorker(config);
			const waiting =
				engine === 'bullmq'
					? await bullmq(name, redis.port)
					: await lightsched(
							engine === 'lightsched-redis'
								? new RedisContainer({ redis: redis.url, name, log: false })
								: engine === 'lightsched-pg'
									? new SqlContainer({
											knex: { client: 'pg', connection: pg.url },
											tablePrefix: name,
										})
									: sqlite(config),
						);
			const end: number[] = [];
			const add: number[] = [];
			for (let n = 0; n < WARMUP + SAMPLES; n++) {
				const t0 = process.hrtime.bigint();
				const endedAt = await waiting.run(n);
				const t1 = process.hrtime.bigint();
				if (n < WARMUP) continue;
				end.push(Number(t1 - endedAt) / 1000);
				add.push(Number(t1 - t0) / 1000);
			}
			await waiting.close();
			await stopWorker();
			end.sort((a, b) => a - b);
			add.sort((a, b) => a - b);
			const r = results.get(engine) ?? { endP50: [], endP99: [], addP50: [], addP99: [] };
			r.endP50.push(quantile(end, 0.5));
			r.endP99.push(quantile(end, 0.99));
			r.addP50.push(quantile(add, 0.5));
			r.addP99.push(quantile(add, 0.99));
			results.set(engine, r);
		}
	}
} finally {
	await Promise.all([redis.close(), pg.stop()]);
	rmSync(dir, { recursive: true, force: true });
}

const fmt = (us: number): string => `${Math.round(us).toLocaleString('en-US')} µs`;
console.log(
	`waitFor latency, medians of ${ROUNDS} rounds of ${SAMPLES} tasks (one at a time), ${cpus().length} cores, load ${loadavg()
		.map((l) => l.toFixed(1))
		.join(' ')}; servers ${SERVERS}`,
);
console.log('| engine | end→answer p50 | end→answer p99 | add→answer p50 | add→answer p99 |');
console.log('|---|---|---|---|---|');
for (const [engine, label] of ENGINES) {
	const r = results.get(engine);
	if (r === undefined) continue;
	console.log(
		`| ${label} | ${fmt(median(r.endP50))} | ${fmt(median(r.endP99))} | ${fmt(median(r.addP50))} | ${fmt(median(r.addP99))} |`,
	);
}
const ours = results.get('lightsched-redis');
const theirs = results.get('bullmq');
if (ours !== undefined && theirs !== undefined) {
	const ratio = (a: number[], b: number[]): string => (median(a) / median(b)).toFixed(2);
	console.log(
		`BullMQ / lightsched on the same Redis: end→answer p50 ${ratio(theirs.endP50, ours.endP50)}×, p99 ${ratio(theirs.endP99, ours.endP99)}×; add→answer p50 ${ratio(theirs.addP50, ours.addP50)}×, p99 ${ratio(theirs.addP99, ours.addP99)}×`,
	);
}
