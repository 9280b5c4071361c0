/**
 * In-memory throughput: 100,000 no-op tasks at concurrency 1, 100 and 1,000 through lightsched
 * (QueueContainer + FunctionActuator, every record kept, events on), p-queue and fastq, in the same
 * run; then heap bytes per waiting task with 1,000,000 queued.
 *
 *   npm run bench:memory            (ROUNDS=5 TASKS=100000 QUEUED=1000000 to change the sizes;
 *                                    MODE=bulk adds in batches through each library's batch API;
 *                                    SHARED=1 runs every library in this one process, interleaved)
 *
 * By default each round runs each library in a process of its own (a warm-up, then PER_PROCESS timed runs, default
 * 3), the libraries in turn and their order rotated each round, as a program uses one of them: in one shared process
 * each library runs on a heap the others left and on code they share (p-queue and lightsched both use eventemitter3),
 * and the ratio moved between 1.0 and 1.5 from one run to the next on this machine (see docs/benchmarks.md).
 *
 * Besides tasks per second of wall time it prints tasks per second of the process's processor time (user + system,
 * garbage collector threads included): on a shared machine, wall time counts the time other jobs held the cores,
 * processor time much less so.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fastq from 'fastq';
import PQueue from 'p-queue';
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { median } from './stats.js';

const TASKS = Number(process.env.TASKS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const QUEUED = Number(process.env.QUEUED ?? 1_000_000);
const CONCURRENCIES = [1, 100, 1000];

const noop = async (): Promise<void> => {};

type Runner = (concurrency: number) => Promise<number>;

/** `one`: every task added by its own call; `bulk`: each library's batch API (1,000 at a time). */
const MODE = process.env.MODE === 'bulk' ? 'bulk' : 'one';
const BATCH = 1_000;

const SHARED = process.env.SHARED === '1';
/** Set in a child process of an isolated run: `<library>:<concurrency>`. */
const CHILD = process.env.MEMORY_CHILD;
const PER_PROCESS = Number(process.env.PER_PROCESS ?? 3);

const runners: Record<string, Runner> = {
	async lightsched(concurrency) {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(noop),
			concurrency,
		});
		let succeeded = 0;
		scheduler.on('task:succeeded', () => succeeded++);
		const started = performance.now();
		if (MODE === 'bulk') {
			for (let i = 0; i < TASKS; i += BATCH)
				void scheduler.add(Array.from({ length: Math.min(BATCH, TASKS - i) }, (_, j) => ({ item: i + j })));
		} else {
			for (let i = 0; i < TASKS; i++) void scheduler.add({ item: i });
		}
		await scheduler.onIdle();
		const ms = performance.now() - started;
		if (succeeded !== TASKS) throw new Error(`lightsched finished ${succeeded} of ${TASKS}`);
		await scheduler.close();
		return ms;
	},
	async 'p-queue'(concurrency) {
		const queue = new PQueue({ concurrency });
		let done = 0;
		queue.on('completed', () => done++);
		const started = performance.now();
		if (MODE === 'bulk') {
			for (let i = 0; i < TASKS; i += BATCH)
				void queue.addAll(Array.from({ length: Math.min(BATCH, TASKS - i) }, () => noop));
		} else {
			for (let i = 0; i < TASKS; i++) void queue.add(noop);
		}
		await queue.onIdle();
		const ms = performance.now() - started;
		if (done !== TASKS) throw new Error(`p-queue finished ${done} of ${TASKS}`);
		return ms;
	},
	async 'fastq (promise)'(concurrency) {
		const queue = fastq.promise(noop, concurrency);
		const started = performance.now();
		const all: Promise<void>[] = [];
		for (let i = 0; i < TASKS; i++) all.push(queue.push(i));
		await Promise.all(all);
		return performance.now() - started;
	},
};

const rate = (ms: number): number => Math.round((TASKS / ms) * 1000);

/** One library's timed runs at one concurrency (after a warm-up): wall and processor ms of each. */
async function timedRuns(name: string, concurrency: number, count: number): Promise<{ wall: number[]; cpu: number[] }> {
	const run = runners[name];
	if (run === undefined) throw new Error(`No library ${name}`);
	await run(concurrency); // warm-up
	const wall: number[] = [];
	const cpu: number[] = [];
	for (let i = 0; i < count; i++) {
		global.gc?.();
		const cpuBefore = process.cpuUsage();
		wall.push(await run(concurrency));
		const used = process.cpuUsage(cpuBefore);
		cpu.push((used.user + used.system) / 1000);
	}
	return { wall, cpu };
}

/** An isolated run's child: `<library>:<concurrency>`'s timed runs, printed as one JSON line. */
async function child(spec: string): Promise<void> {
	const [name = '', concurrency = ''] = spec.split(':');
	console.log(`RUNS ${JSON.stringify(await timedRuns(name, Number(concurrency), PER_PROCESS))}`);
}

/** Runs `<library>:<concurrency>` in a new process of this script (same Node options) and returns its timings. */
function inChild(name: string, concurrency: number): { wall: number[]; cpu: number[] } {
	const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
		env: { ...process.env, MEMORY_CHILD: `${name}:${concurrency}` },
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const line = out.split('\n').find((l) => l.startsWith('RUNS '));
	if (line === undefined) throw new Error(`${name} at ${concurrency}: the child printed no result`);
	return JSON.parse(line.slice('RUNS '.length)) as { wall: number[]; cpu: number[] };
}

async function throughput(): Promise<void> {
	console.log(
		`# In-memory throughput: ${TASKS.toLocaleString('en')} no-op tasks added ${MODE === 'bulk' ? `in batches of ${BATCH} (lightsched add([...]), p-queue addAll)` : 'one call per task'}, median of ${SHARED ? `${ROUNDS} rounds, every library in this one process, interleaved` : `${ROUNDS} rounds × ${PER_PROCESS} runs, each library in a process of its own each round`} (tasks/s)`,
	);
	console.log(`node ${process.version}, ${new Date().toISOString()}`);
	console.log('| concurrency | lightsched | p-queue | fastq (promise) | lightsched / p-queue | lightsched / fastq |');
	console.log('|---:|---:|---:|---:|---:|---:|');
	const cpuRows: string[] = [];
	const names = Object.keys(runners);
	for (const concurrency of CONCURRENCIES) {
		const times: Record<string, number[]> = {};
		const cpuTimes: Record<string, number[]> = {};
		if (SHARED) for (const name of names) await runners[name]?.(concurrency); // warm-up
		for (let round = 0; round < ROUNDS; round++) {
			// Interleave the libraries so a noisy moment hits all of them alike (isolated: in a rotated order).
			const order = SHARED
				? names
				: [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
			for (const name of order) {
				const got = SHARED ? await timedRuns(name, concurrency, 1) : inChild(name, concurrency);
				(times[name] ??= []).push(...got.wall);
				(cpuTimes[name] ??= []).push(...got.cpu);
			}
		}
		const row = (of: Record<string, number[]>): string => {
			const ours = rate(median(of.lightsched ?? []));
			const pq = rate(median(of['p-queue'] ?? []));
			const fq = rate(median(of['fastq (promise)'] ?? []));
			return `| ${concurrency} | ${ours.toLocaleString('en')} | ${pq.toLocaleString('en')} | ${fq.toLocaleString('en')} | ${(ours / pq).toFixed(2)} | ${(ours / fq).toFixed(2)} |`;
		};
		console.log(row(times));
		cpuRows.push(row(cpuTimes));
	}
	console.log('\n# The same rounds, tasks per second of processor time (user + system)');
	console.log('| concurrency | lightsched | p-queue | fastq (promise) | lightsched / p-queue | lightsched / fastq |');
	console.log('|---:|---:|---:|---:|---:|---:|');
	for (const line of cpuRows) console.log(line);
}

async function heapPerTask(name: string, fill: () => Promise<() => Promise<void>>): Promise<string> {
	global.gc?.();
	global.gc?.();
	const before = process.memoryUsage().heapUsed;
	const release = await fill();
	global.gc?.();
	global.gc?.();
	const bytes = (process.memoryUsage().heapUsed - before) / QUEUED;
	await release();
	return `| ${name} | ${Math.round(bytes)} |`;
}

if (CHILD !== undefined) {
	await child(CHILD);
} else {
	await throughput();
	await heapSection();
}

async function heapSection(): Promise<void> {
	if (typeof global.gc !== 'function') {
		console.log('\n(heap per waiting task skipped: run with node --expose-gc, as `npm run bench:memory` does)');
	} else {
		console.log(`\n# Heap bytes per waiting task, ${QUEUED.toLocaleString('en')} queued`);
		console.log('| library | bytes per waiting task |');
		console.log('|---|---:|');
		console.log(
			await heapPerTask('lightsched (QueueContainer, full task records)', async () => {
				const scheduler = new Scheduler({
					container: new QueueContainer(),
					actuator: new FunctionActuator(noop),
					autoStart: false,
				});
				const batch = 10_000;
				for (let i = 0; i < QUEUED; i += batch) {
					await scheduler.add(
						Array.from({ length: Math.min(batch, QUEUED - i) }, (_, j) => ({ item: i + j })),
					);
				}
				return () => scheduler.close();
			}),
		);
		console.log(
			await heapPerTask('p-queue', async () => {
				const queue = new PQueue({ concurrency: 1, autoStart: false });
				for (let i = 0; i < QUEUED; i++) void queue.add(noop);
				return async () => queue.clear();
			}),
		);
		console.log(
			await heapPerTask('fastq (promise)', async () => {
				const queue = fastq.promise(noop, 1);
				queue.pause();
				for (let i = 0; i < QUEUED; i++) void queue.push(i);
				return async () => queue.kill();
			}),
		);
	}
}
