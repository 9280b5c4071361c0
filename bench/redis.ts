/**
 * Redis throughput: lightsched's RedisContainer beside BullMQ on the same redis-server (started here, on a random
 * loopback port), in the same run. No-op tasks; worker processes (1 or 4) each run one scheduler or one BullMQ
 * Worker at concurrency 1 or 100. BullMQ runs in two configurations, labelled:
 *
 * - like-for-like: every completed job kept, as lightsched keeps every record;
 * - recommended: its Worker `concurrency` (BullMQ's throughput setting; batches are a Pro feature) with
 *   `removeOnComplete: { count: 1000 }`, the auto-removal its docs advise for production.
 *
 * - add throughput: the tasks added from this process in batches of 1,000 (`Scheduler.add` / `Queue.addBulk`)
 * - processing throughput: from `go` (workers already connected, tasks all waiting) until all are finished
 *
 * Ratios are medians of the per-round ratios (each round runs the three back to back). lightsched runs from its
 * build (`npm run bench:redis` builds it first), BullMQ from its package. Add-to-start latency is measured by
 * `npm run bench:latency` (bench/latency.ts).
 *
 * The redis-server is durable: its append-only file on, synced every second (`--appendonly yes --appendfsync
 * everysec`), as BullMQ's "Going to production" advises (bench/durable-servers.ts); both BullMQ set-ups and
 * lightsched run on it. `DURABLE=0`: the test harness's server (`--save ''`, no AOF: nothing on disk), the setting
 * of every report before 7 Dec 2026 (afternoon).
 *
 *   npm run bench:redis     (defaults ROUNDS=3 SMALL=10000 LARGE=20000 SERIAL=2000; the full sizes are
 *                            LARGE=100000 SERIAL=10000, which take about five times as long;
 *                            CASES=10000:100:4,... to run only some tasks:concurrency:processes cases;
 *                            LIBS=lightsched,bullmq to run only some libraries; COMMANDSTATS=1 prints the
 *                            Redis commands and script calls per processed task of each run; DURABLE=0: no AOF)
 *
 * SERIAL caps the task count of the concurrency-1 cases (which are latency-bound and slow for both libraries).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { DURABLE, SERVERS, startBenchRedis } from './durable-servers.js';
import { median } from './stats.js';
import { redisCpuUs } from './redis-cpu.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SMALL = Number(process.env.SMALL ?? 10_000);
// The full sizes are LARGE=100000 SERIAL=10000; the defaults keep the whole run near six minutes on two cores.
const LARGE = Number(process.env.LARGE ?? 20_000);
const SERIAL = Number(process.env.SERIAL ?? 2_000);
// Tasks each worker process runs on a queue of its own before the measured ones (0: time cold processes).
const WARMUP = Number(process.env.WARMUP ?? 0);
const BATCH = 1000;
const WORKER = fileURLToPath(new URL('./redis-worker.ts', import.meta.url));
const ALL_LIBS = ['lightsched', 'bullmq', 'bullmq-recommended'] as const;
type Lib = (typeof ALL_LIBS)[number];
// LIBS=lightsched (comma-separated) runs only those; the ratio columns then read NaN.
const LIBS = ALL_LIBS.filter((lib) => process.env.LIBS === undefined || process.env.LIBS.split(',').includes(lib));
// COMMANDSTATS=1 prints, per run, the Redis commands and script calls per processed task.
const COMMANDSTATS = process.env.COMMANDSTATS === '1';

interface Case {
	readonly tasks: number;
	readonly concurrency: number;
	readonly processes: number;
}

interface Worker {
	readonly child: ChildProcess;
	readonly ready: Promise<void>;
	onStarted(listener: (id: string, at: number) => void): void;
	go(): void;
	/** The process's CPU time since `go`, in µs. */
	cpu(): Promise<number>;
	close(): Promise<void>;
}

const server = await startBenchRedis();
const admin = new Redis({ host: '127.0.0.1', port: server.port });
let runId = 0;

function startWorker(
	lib: Lib,
	name: string,
	concurrency: number,
	autoStart: boolean,
	report: boolean,
	warmup = 0,
): Worker {
	const extra = process.env.WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
	// lightsched from its build (dist/), as users run it and as BullMQ runs from its own: the TypeScript sources
	// through tsx carry esbuild's helpers (a `__name` call per closure made), worth several µs per task.
	const child = spawn(process.execPath, [...extra, '--import', 'tsx', WORKER], {
		env: {
			...process.env,
			BENCH_WORKER: JSON.stringify({ lib, port: server.port, name, concurrency, autoStart, report, warmup }),
		},
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const listeners: ((id: string, at: number) => void)[] = [];
	const cpuWaiters: ((us: number) => void)[] = [];
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`${lib} worker exited with ${String(code)}`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve();
			else if (line.startsWith('cpu ')) cpuWaiters.shift()?.(Number(line.slice(4)));
			else if (line.startsWith('started ')) {
				const [, id = '', at = '0'] = line.split(' ');
				for (const listener of listeners) listener(id, Number(at));
			}
		});
	});
	return {
		child,
		ready,
		onStarted: (listener) => listeners.push(listener),
		go: () => child.stdin?.write('go\n'),
		cpu: () =>
			new Promise<number>((resolve) => {
				cpuWaiters.push(resolve);
				child.stdin?.write('cpu\n');
			}),
		async close() {
			child.stdin?.end();
			await exited;
		},
	};
}

/** Something that adds tasks and counts finished ones, for one library. */
interface Producer {
	add(ids: readonly string[]): Promise<void>;
	finished(): Promise<number>;
	close(): Promise<void>;
}

function producer(lib: Lib, name: string): Producer {
	if (lib === 'lightsched') {
		const container = new RedisContainer({ redis: { host: '127.0.0.1', port: server.port }, name, log: false });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => {}), autoStart: false });
		return {
			add: async (ids) => {
				await scheduler.add(ids.map((id) => ({ id, item: null })));
			},
			finished: async () => (await container.counts()).succeeded,
			close: () => scheduler.close(),
		};
	}
	const queue = new Queue(name, { connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null } });
	let added = 0;
	return {
		add: async (ids) => {
			await queue.addBulk(ids.map((id) => ({ name: 'noop', data: null, opts: { jobId: id } })));
			added += ids.length;
		},
		finished: async () => {
			if (lib === 'bullmq') return (await queue.getJobCounts('completed')).completed ?? 0;
			// Completed jobs are trimmed to the last 1,000: count what is not finished instead.
			const left = await queue.getJobCounts('wait', 'active', 'prioritized', 'delayed');
			return added - Object.values(left).reduce((a, b) => a + (b ?? 0), 0);
		},
		close: () => queue.close(),
	};
}

interface Throughput {
	readonly addPerSec: number;
	readonly processPerSec: number;
	/** CPU per processed task (µs): redis-server's, and the worker processes' together. */
	readonly redisUs: number;
	readonly workerUs: number;
}

const redisCpu = (): Promise<number> => redisCpuUs(admin);

/** Calls per processed task by command since the last RESETSTAT (the bench's own polls included). */
async function commandsPerTask(tasks: number): Promise<string> {
	const info = await admin.info('commandstats');
	return [...info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)]
		.map(
			([, name, calls, usec]) =>
				`${name} ${(Number(calls) / tasks).toFixed(3)} (${(Number(usec) / tasks).toFixed(1)} µs)`,
		)
		.join(', ');
}

async function throughput(lib: Lib, c: Case): Promise<Throughput> {
	await admin.flushall();
	const name = `bench-${++runId}`;
	const workers = Array.from({ length: c.processes }, () =>
		startWorker(lib, name, c.concurrency, false, false, WARMUP),
	);
	const p = producer(lib, name);
	try {
		await Promise.all(workers.map((w) => w.ready));
		const ids = Array.from({ length: c.tasks }, (_, i) => `t${i}`);
		const addStart = performance.now();
		for (let i = 0; i < ids.length; i += BATCH) await p.add(ids.slice(i, i + BATCH));
		const addMs = performance.now() - addStart;
		if (COMMANDSTATS) await admin.config('RESETSTAT');
		const redisBefore = await redisCpu();
		const start = performance.now();
		for (const w of workers) w.go();
		while ((await p.finished()) < c.tasks) await sleep(10);
		const ms = performance.now() - start;
		const redisUs = (await redisCpu()) - redisBefore;
		const workerUs = (await Promise.all(workers.map((w) => w.cpu()))).reduce((a, b) => a + b, 0);
		if (COMMANDSTATS) console.log(`  ${lib}: ${await commandsPerTask(c.tasks)}`);
		return {
			addPerSec: (c.tasks / addMs) * 1000,
			processPerSec: (c.tasks / ms) * 1000,
			redisUs: redisUs / c.tasks,
			workerUs: workerUs / c.tasks,
		};
	} finally {
		await p.close();
		await Promise.all(workers.map((w) => w.close()));
	}
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const cases: Case[] = [];
for (const tasks of [SMALL, LARGE]) {
	for (const concurrency of [1, 100]) {
		for (const processes of [1, 4]) {
			cases.push({ tasks: concurrency === 1 ? Math.min(tasks, SERIAL) : tasks, concurrency, processes });
		}
	}
}
const only = process.env.CASES?.split(',').map((spec) => spec.split(':').map(Number));
const unique = cases
	.filter(
		(c, i) =>
			cases.findIndex(
				(d) => d.tasks === c.tasks && d.concurrency === c.concurrency && d.processes === c.processes,
			) === i,
	)
	.filter(
		(c) =>
			only === undefined || only.some(([t, cc, p]) => t === c.tasks && cc === c.concurrency && p === c.processes),
	);

const version = (await admin.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?';
console.log(
	`redis-server ${version} on 127.0.0.1:${server.port}, ${SERVERS}; ${ROUNDS} rounds per case, medians; no-op tasks, records kept`,
);
console.log(
	`sizes: SMALL=${SMALL} LARGE=${LARGE} SERIAL=${SERIAL} (concurrency-1 cases capped at SERIAL tasks; full sizes: LARGE=100000 SERIAL=10000); WARMUP=${WARMUP} tasks per worker process first\n`,
);
console.log(
	'| tasks | concurrency | processes | lightsched add/s | BullMQ add/s | ratio | lightsched done/s | BullMQ done/s, like-for-like | ratio | BullMQ done/s, recommended | ratio | CPU µs/task: Redis, workers (lightsched; BullMQ like-for-like) |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
const began = Date.now();
for (const c of unique) {
	const results: Record<Lib, Throughput[]> = { lightsched: [], bullmq: [], 'bullmq-recommended': [] };
	for (let round = 0; round < ROUNDS; round++) {
		for (const lib of LIBS) results[lib].push(await throughput(lib, c));
	}
	const m = (lib: Lib, key: keyof Throughput): number => median(results[lib].map((r) => r[key]));
	/** The median of the per-round ratios (each round ran the libraries back to back under the same load). */
	const ratio = (peer: Lib, key: keyof Throughput): string =>
		median(results.lightsched.map((r, i) => r[key] / (results[peer][i]?.[key] ?? Number.NaN))).toFixed(2) + 'x';
	const cpu = (lib: Lib): string => `${m(lib, 'redisUs').toFixed(0)}, ${m(lib, 'workerUs').toFixed(0)}`;
	console.log(
		`| ${fmt(c.tasks)} | ${c.concurrency} | ${c.processes} | ${fmt(m('lightsched', 'addPerSec'))} | ${fmt(m('bullmq', 'addPerSec'))} | ${ratio('bullmq', 'addPerSec')} | ${fmt(m('lightsched', 'processPerSec'))} | ${fmt(m('bullmq', 'processPerSec'))} | ${ratio('bullmq', 'processPerSec')} | ${fmt(m('bullmq-recommended', 'processPerSec'))} | ${ratio('bullmq-recommended', 'processPerSec')} | ${cpu('lightsched')}; ${cpu('bullmq')} |`,
	);
}
console.log(`\ntotal ${((Date.now() - began) / 1000).toFixed(0)} s`);
if (DURABLE) {
	// A rewrite forks the server and writes the whole data set again (at each doubling of the file past 64 MB, the
	// default): on two cores it slows whichever run it falls in.
	const rewrites = /aof_rewrites:(\d+)/.exec(await admin.info('persistence'))?.[1] ?? '?';
	console.log(`AOF rewrites during the run: ${rewrites}`);
}
admin.disconnect();
await server.close();
