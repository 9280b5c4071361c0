/**
 * Add-to-start latency, in microseconds, at a steady rate into idle workers: lightsched on every shared container
 * beside its peers on the same server, in the same run.
 *
 * - Redis: lightsched's RedisContainer and BullMQ 6 (a `Worker`), on one redis-server started here; beside them two
 *   floors, not peers: the same hops with raw ioredis and no scheduler (a script push + PUBLISH to a subscriber that
 *   pops with a script, as every claim-on-wake design does; an LPUSH to a waiting BLPOP, one hop), which show what
 *   this machine allows at all (an idle virtual CPU takes a while to wake for each hop).
 * - PostgreSQL: lightsched's SqlContainer (LISTEN/NOTIFY wake-up, its default), graphile-worker (its defaults:
 *   LISTEN/NOTIFY, 2 s safety poll) and pg-boss (16 `work()` workers, batchSize 250, at the shortest polling
 *   interval its docs allow, 0.5 s, as in bench:sql; pg-boss has no push wake-up), on one PostgreSQL server
 *   started here.
 * - SQLite across processes: lightsched's SqlContainer on one WAL file, the task added by this process and run by
 *   another (the worker's scheduler at the default `pollIntervalMs`, 1 s, and at 20 ms; since 4 Dec 2026 the container
 *   wakes it through its watch on the write-ahead log, so the interval only matters if that channel is down).
 *
 * Each engine's worker runs in a child process (`bench/latency-worker.ts`) at concurrency 16, idle; this process
 * adds one task per call at RATE tasks per second on a timer (no busy loop), reading `process.hrtime.bigint()`
 * just before the add call; the worker reads the same clock (CLOCK_MONOTONIC, shared by every process of the
 * machine) first thing in its handler. Each round starts a fresh worker process and a fresh queue (database,
 * file); WARMUP tasks run first and are not counted. Printed: p50/p90/p99/max in µs, the medians of ROUNDS rounds
 * (each quantile's median), beside the goal, and each peer's quantile over lightsched's on the same server.
 *
 * Both servers are durable (PostgreSQL `fsync` and `full_page_writes` on, redis-server AOF `appendfsync everysec`, as
 * the peers advise for production; bench/durable-servers.ts): a task's add and its claim then wait for a commit's
 * fsync on PostgreSQL, and on Redis for the server's write of the AOF buffer before it replies (the fsync itself
 * runs once a second on a thread of its own). `DURABLE=0`: the test harness's servers (no fsync, no AOF),
 * the setting of every report before 7 Dec 2026 (afternoon).
 *
 *   npm run bench:latency    (RATE=200 SAMPLES=1000 WARMUP=100 ROUNDS=3 CONCURRENCY=16 ONLY=<part of a name>
 *                             DURABLE=0)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Logger, makeWorkerUtils } from 'graphile-worker';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { SERVERS, startBenchPostgres, startBenchRedis } from './durable-servers.js';
import { FLOOR_PUSH } from './latency-floor.js';
import type { Engine, LatencyWorkerConfig } from './latency-worker.js';
import { median, quantile } from './stats.js';

const RATE = Number(process.env.RATE ?? 200);
const SAMPLES = Number(process.env.SAMPLES ?? 1_000);
const WARMUP = Number(process.env.WARMUP ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const ONLY = process.env.ONLY ?? '';
/** pg-boss's `work()` workers and options: its documented way, at the shortest polling interval it accepts (as in bench:sql). */
const PG_BOSS_WORK = { workers: 16, batchSize: 250, pollingIntervalSeconds: 0.5 } as const;
/** How long to wait for the last task to start after the last add. */
const DRAIN_MS = 10_000;
const WORKER = fileURLToPath(new URL('./latency-worker.ts', import.meta.url));

interface Producer {
	add(n: number): Promise<unknown>;
	close(): Promise<void>;
}

interface Goal {
	readonly p50?: number;
	readonly p99?: number;
}

interface EngineSpec {
	readonly label: string;
	readonly group: 'Redis' | 'PostgreSQL' | 'SQLite across processes';
	readonly engine: Engine;
	readonly lightsched: boolean;
	/** Not a peer: the same hops with raw ioredis and no scheduler, what this machine allows at all. */
	readonly floor?: boolean;
	readonly goal?: Goal;
}

const REDIS_GOAL: Goal = { p50: 1_000, p99: 3_000 };
const PG_GOAL: Goal = { p50: 5_000, p99: 20_000 };
const SQLITE_GOAL: Goal = { p50: 20_000 };

const SPECS: readonly EngineSpec[] = [
	{
		label: 'lightsched RedisContainer (default: handOff)',
		group: 'Redis',
		engine: 'lightsched-redis-handoff',
		lightsched: true,
		goal: REDIS_GOAL,
	},
	{
		label: 'lightsched RedisContainer, handOff: false',
		group: 'Redis',
		engine: 'lightsched-redis',
		lightsched: true,
		goal: REDIS_GOAL,
	},
	{ label: 'BullMQ 6 Worker', group: 'Redis', engine: 'bullmq', lightsched: false },
	{
		label: 'floor: raw script push + PUBLISH, subscriber pops',
		group: 'Redis',
		engine: 'redis-floor-pubsub',
		lightsched: false,
		floor: true,
	},
	{
		label: 'floor: raw LPUSH to a waiting BLPOP',
		group: 'Redis',
		engine: 'redis-floor-blpop',
		lightsched: false,
		floor: true,
	},
	{
		label: 'lightsched SqlContainer (LISTEN/NOTIFY)',
		group: 'PostgreSQL',
		engine: 'lightsched-pg',
		lightsched: true,
		goal: PG_GOAL,
	},
	{
		label: 'graphile-worker 0.17 (LISTEN/NOTIFY, defaults)',
		group: 'PostgreSQL',
		engine: 'graphile',
		lightsched: false,
	},
	{
		label: `pg-boss 10, ${PG_BOSS_WORK.workers} work() × batchSize ${PG_BOSS_WORK.batchSize}, polling ${PG_BOSS_WORK.pollingIntervalSeconds} s`,
		group: 'PostgreSQL',
		engine: 'pgboss',
		lightsched: false,
	},
	{
		label: 'lightsched SqlContainer, pollIntervalMs 1000 (default; file-watch wake-up)',
		group: 'SQLite across processes',
		engine: 'lightsched-sqlite',
		lightsched: true,
		goal: SQLITE_GOAL,
	},
	{
		label: 'lightsched SqlContainer, pollIntervalMs 20 (file-watch wake-up)',
		group: 'SQLite across processes',
		engine: 'lightsched-sqlite-poll20',
		lightsched: true,
		goal: SQLITE_GOAL,
	},
];

interface Quantiles {
	readonly p50: number;
	readonly p90: number;
	readonly p99: number;
	readonly max: number;
	readonly lost: number;
}

const loadAtStart = loadavg();
const redis = await startBenchRedis();
const postgres = await startBenchPostgres({ max_connections: '300' });
const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-latency-'));
let runId = 0;

async function producer(spec: EngineSpec, name: string, target: Target): Promise<Producer> {
	switch (spec.engine) {
		case 'lightsched-redis':
		case 'lightsched-redis-handoff':
		case 'lightsched-pg':
		case 'lightsched-sqlite':
		case 'lightsched-sqlite-poll20': {
			const container =
				spec.engine === 'lightsched-redis' || spec.engine === 'lightsched-redis-handoff'
					? new RedisContainer({ redis: { host: '127.0.0.1', port: redis.port }, name, log: false })
					: spec.engine === 'lightsched-pg'
						? new SqlContainer({
								knex: { client: 'pg', connection: target.pgUrl, pool: { min: 2, max: 10 } },
							})
						: new SqlContainer({
								knex: {
									client: 'sqlite3',
									connection: { filename: target.sqliteFile },
									useNullAsDefault: true,
								},
							});
			if (container instanceof SqlContainer) await container.migrate();
			const scheduler = new Scheduler<number, void>({
				container,
				actuator: new FunctionActuator(() => undefined),
				autoStart: false,
			});
			return { add: (n) => scheduler.add({ item: n }), close: () => scheduler.close() };
		}
		case 'redis-floor-pubsub':
		case 'redis-floor-blpop': {
			const client = new Redis({ host: '127.0.0.1', port: redis.port });
			const pubsub = spec.engine === 'redis-floor-pubsub';
			return {
				add: (n) =>
					pubsub
						? client.eval(FLOOR_PUSH, 2, `${name}:q`, `${name}:ch`, String(n))
						: client.lpush(`${name}:q`, String(n)),
				close: async () => {
					client.disconnect();
				},
			};
		}
		case 'bullmq': {
			const queue = new Queue(name, {
				connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
			});
			await queue.waitUntilReady();
			return { add: (n) => queue.add('noop', { n }), close: () => queue.close() };
		}
		case 'graphile': {
			const utils = await makeWorkerUtils({
				connectionString: target.pgUrl,
				logger: new Logger(() => () => undefined),
			});
			await utils.migrate();
			return {
				add: (n) => utils.addJob('noop', { n }),
				close: async () => {
					await utils.release();
				},
			};
		}
		case 'pgboss': {
			const boss = new PgBoss({ connectionString: target.pgUrl, supervise: false, schedule: false });
			boss.on('error', (error: Error) => console.error('pg-boss error:', error.message));
			await boss.start();
			await boss.createQueue(name);
			return {
				add: (n) => boss.send(name, { n }),
				close: () => boss.stop({ graceful: false, wait: true }),
			};
		}
	}
}

interface Target {
	readonly pgUrl: string;
	readonly sqliteFile: string;
}

interface WorkerProcess {
	readonly ready: Promise<void>;
	onStarted(listener: (n: number, ns: bigint) => void): void;
	close(): Promise<void>;
}

function startWorker(config: LatencyWorkerConfig): WorkerProcess {
	const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
		env: { ...process.env, LATENCY_WORKER: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	let listener: (n: number, ns: bigint) => void = () => undefined;
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`${config.engine} worker exited with ${String(code)}`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve();
			else if (line.startsWith('s ')) {
				const [, n = '', ns = '0'] = line.split(' ');
				listener(Number(n), BigInt(ns));
			}
		});
	});
	return {
		ready,
		onStarted: (l) => (listener = l),
		async close() {
			child.stdin?.end();
			await exited;
		},
	};
}

/**
 * Add `count` tasks numbered from `first` at RATE per second (a timer per add, no busy loop) and wait until each
 * has started (at most DRAIN_MS after the last add). Returns each task's latency in µs (NaN: never started).
 */
async function steady(p: Producer, w: WorkerProcess, first: number, count: number): Promise<number[]> {
	const sentAt = new Map<number, bigint>();
	const latency = new Array<number>(count).fill(Number.NaN);
	let startedCount = 0;
	let allStarted: () => void = () => undefined;
	const all = new Promise<void>((resolve) => (allStarted = resolve));
	w.onStarted((n, ns) => {
		const at = sentAt.get(n);
		if (at === undefined || n < first || n >= first + count) return;
		latency[n - first] = Number(ns - at) / 1_000;
		if (++startedCount === count) allStarted();
	});
	const intervalMs = 1_000 / RATE;
	const begin = performance.now();
	const adds: Promise<unknown>[] = [];
	for (let i = 0; i < count; i++) {
		const wait = begin + i * intervalMs - performance.now();
		if (wait > 0) await sleep(wait);
		sentAt.set(first + i, process.hrtime.bigint());
		adds.push(p.add(first + i));
	}
	await Promise.all(adds);
	let timer: ReturnType<typeof setTimeout> | undefined;
	await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
	clearTimeout(timer);
	return latency;
}

function quantiles(samples: readonly number[]): Quantiles {
	const done = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
	const q = (f: number): number => quantile(done, f);
	return {
		p50: q(0.5),
		p90: q(0.9),
		p99: q(0.99),
		max: done.at(-1) ?? Number.NaN,
		lost: samples.length - done.length,
	};
}

async function measure(spec: EngineSpec): Promise<Quantiles> {
	const name = `latency_${++runId}`;
	const target: Target = {
		pgUrl: `postgres://${postgres.user}@${postgres.host}:${postgres.port}/${name}`,
		sqliteFile: join(dir, `${name}.db`),
	};
	if (spec.group === 'PostgreSQL') await postgres.createDatabase(name);
	const p = await producer(spec, name, target);
	const w = startWorker({
		engine: spec.engine,
		name,
		concurrency: CONCURRENCY,
		redisPort: redis.port,
		pgUrl: target.pgUrl,
		sqliteFile: target.sqliteFile,
		pgBoss: PG_BOSS_WORK,
	});
	try {
		await w.ready;
		await steady(p, w, 0, WARMUP);
		return quantiles(await steady(p, w, WARMUP, SAMPLES));
	} finally {
		await w.close();
		await p.close();
	}
}

const us = (x: number): string => (Number.isNaN(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const goalText = (goal: Goal | undefined): string =>
	goal === undefined
		? ''
		: [goal.p50 && `p50 < ${us(goal.p50)}`, goal.p99 && `p99 < ${us(goal.p99)}`].filter(Boolean).join(', ');
const met = (goal: Goal | undefined, q: Quantiles): string => {
	if (goal === undefined) return '';
	const ok = (goal.p50 === undefined || q.p50 < goal.p50) && (goal.p99 === undefined || q.p99 < goal.p99);
	return ok ? 'met' : 'MISSED';
};

async function versions(): Promise<string> {
	const admin = new Redis({ host: '127.0.0.1', port: redis.port });
	const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
	admin.disconnect();
	const client = new pg.Client(postgres.url);
	await client.connect();
	const { rows } = await client.query<{ server_version: string }>('show server_version');
	await client.end();
	return `redis-server ${redisVersion}, PostgreSQL ${rows[0]?.server_version ?? '?'}`;
}

async function main(): Promise<void> {
	const specs = SPECS.filter((s) => s.label.includes(ONLY) || s.group.includes(ONLY));
	console.log(
		`${new Date().toISOString()}  Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${await versions()}, ${SERVERS}; load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`,
	);
	console.log(
		`add-to-start latency (µs): ${SAMPLES} tasks at ${RATE}/s into an idle worker process (concurrency ${CONCURRENCY}), after ${WARMUP} uncounted; medians of ${ROUNDS} rounds\n`,
	);
	const results = new Map<EngineSpec, Quantiles[]>();
	for (let round = 0; round < ROUNDS; round++) {
		// Rotate the order each round so a machine getting busier or quieter does not favour one engine.
		const order = specs.map((_, i) => specs[(i + round) % specs.length] as EngineSpec);
		for (const spec of order) {
			const q = await measure(spec);
			(results.get(spec) ?? results.set(spec, []).get(spec))?.push(q);
			console.log(
				`  round ${round + 1}  ${spec.group.padEnd(24)} ${spec.label.padEnd(52)} p50 ${us(q.p50).padStart(8)}  p90 ${us(q.p90).padStart(8)}  p99 ${us(q.p99).padStart(8)}  max ${us(q.max).padStart(9)}${q.lost ? `  (${q.lost} never started)` : ''}`,
			);
		}
	}
	const med = (spec: EngineSpec): Quantiles => {
		const runs = results.get(spec) ?? [];
		const m = (key: keyof Quantiles): number => median(runs.map((r) => r[key]));
		return { p50: m('p50'), p90: m('p90'), p99: m('p99'), max: m('max'), lost: m('lost') };
	};
	console.log('\n| server | engine | p50 µs | p90 µs | p99 µs | max µs | goal (µs) | |');
	console.log('|---|---|---:|---:|---:|---:|---|---|');
	for (const spec of specs) {
		const q = med(spec);
		console.log(
			`| ${spec.group} | ${spec.label} | ${us(q.p50)} | ${us(q.p90)} | ${us(q.p99)} | ${us(q.max)} | ${goalText(spec.goal)} | ${met(spec.goal, q)} |`,
		);
	}
	console.log(
		'\nPeer ÷ lightsched, same server, same run (median of the per-round ratios; above 1: lightsched is faster):',
	);
	for (const spec of specs.filter((s) => !s.lightsched && s.floor !== true)) {
		const ours = specs.find((s) => s.lightsched && s.group === spec.group);
		if (ours === undefined) continue;
		const peer = results.get(spec) ?? [];
		const mine = results.get(ours) ?? [];
		const ratio = (key: 'p50' | 'p99'): string =>
			median(peer.map((r, i) => r[key] / (mine[i]?.[key] ?? Number.NaN))).toFixed(2);
		console.log(`  ${spec.label} ÷ ${ours.label}: p50 ${ratio('p50')}x, p99 ${ratio('p99')}x`);
	}
	console.log(
		`\nload average at the end ${loadavg()
			.map((x) => x.toFixed(2))
			.join(' ')}`,
	);
}

try {
	await main();
} finally {
	await redis.close();
	await postgres.stop();
	rmSync(dir, { recursive: true, force: true });
}
