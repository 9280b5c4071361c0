/**
 * SQL throughput: 10,000 no-op tasks added first, then timed from the start of processing until all have
 * finished. lightsched's SqlContainer on SQLite (a WAL file) and on PostgreSQL (1 process, and 4 processes
 * sharing the tables), beside graphile-worker and pg-boss on the SAME PostgreSQL server in the same run.
 * Every engine runs 16 jobs at a time per process, one job per fetch (no batching, no local queue).
 * Each engine gets a fresh database per round; the figure printed is the median of the rounds.
 *
 *   npm run bench:sql            (ROUNDS=3 TASKS=10000 CONCURRENCY=16 to change the sizes)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { createTaskRecord, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, type SqlContainerOptions } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../test/support/postgres.js';

const TASKS = Number(process.env.TASKS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const PROCESSES = 4;

type Connection = Awaited<ReturnType<PostgresServer['createDatabase']>>;
const urlOf = (c: Connection): string => `postgres://${c.user}@${c.host}:${c.port}/${c.database}`;
const noop = async (): Promise<void> => {};

/** One lightsched scheduler draining the container; resolves with nothing once `onDone` says all finished. */
function lightschedWorker(container: SqlContainer, onSucceeded: () => void): Scheduler<unknown, void> {
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(noop), concurrency: CONCURRENCY, autoStart: false });
	scheduler.on('task:succeeded', onSucceeded);
	scheduler.on('error', (error) => console.error('scheduler error:', error.message));
	return scheduler;
}

/** Add TASKS tasks, 1,000 per call, as `Scheduler.add` would. */
async function addAll(container: SqlContainer): Promise<void> {
	const now = Date.now();
	for (let i = 0; i < TASKS; i += 1_000) {
		const batch = Array.from({ length: Math.min(1_000, TASKS - i) }, (_, j) => createTaskRecord({ item: i + j }, 'task', { maxAttempts: 1 }, now));
		await container.add(batch);
	}
}

/** lightsched in this process: add all, then time the drain. Returns milliseconds. */
async function lightsched(knex: SqlContainerOptions['knex']): Promise<number> {
	const container = new SqlContainer({ knex });
	await addAll(container);
	let done = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const scheduler = lightschedWorker(container, () => {
		if (++done === TASKS) finish();
	});
	const started = performance.now();
	scheduler.resume();
	await finished;
	const ms = performance.now() - started;
	await scheduler.close();
	return ms;
}

/** lightsched in PROCESSES child processes sharing one PostgreSQL database. */
async function lightschedProcesses(connection: Connection): Promise<number> {
	const container = new SqlContainer({ knex: { client: 'pg', connection } });
	await addAll(container);
	await container.close();
	const children = Array.from({ length: PROCESSES }, () =>
		fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(connection)], { execArgv: process.execArgv }),
	);
	let done = 0;
	let ready = 0;
	let started = 0;
	const result = await new Promise<number>((resolve, reject) => {
		for (const child of children) {
			child.on('error', reject);
			child.on('exit', (code) => {
				if (code !== 0 && done < TASKS) reject(new Error(`worker exited with ${String(code)}`));
			});
			child.on('message', (message: { ready?: true; done?: number }) => {
				if (message.ready && ++ready === PROCESSES) {
					started = performance.now();
					for (const c of children) c.send('go');
				}
				if (message.done !== undefined && (done += message.done) === TASKS) resolve(performance.now() - started);
			});
		}
	});
	for (const child of children) child.send('stop');
	await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))));
	return result;
}

/** A child process of `lightschedProcesses`. */
async function worker(connection: Connection): Promise<void> {
	const container = new SqlContainer({ knex: { client: 'pg', connection, pool: { min: 2, max: 10 } } });
	await container.migrate();
	let pending = 0;
	let flushing = false;
	const scheduler = lightschedWorker(container, () => {
		pending++;
		if (flushing) return;
		flushing = true;
		setImmediate(() => {
			flushing = false;
			process.send?.({ done: pending });
			pending = 0;
		});
	});
	process.on('message', (message) => {
		if (message === 'go') scheduler.resume();
		if (message === 'stop') void scheduler.close().then(() => process.exit(0));
	});
	process.send?.({ ready: true });
}

async function graphileWorker(connection: Connection): Promise<number> {
	const connectionString = urlOf(connection);
	const logger = new Logger(() => () => undefined);
	const utils = await makeWorkerUtils({ connectionString, logger });
	await utils.migrate();
	for (let i = 0; i < TASKS; i += 1_000) {
		await utils.addJobs(Array.from({ length: Math.min(1_000, TASKS - i) }, (_, j) => ({ identifier: 'noop', payload: { i: i + j } })));
	}
	await utils.release();
	let done = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const started = performance.now();
	const runner = await runGraphile({
		connectionString,
		logger,
		concurrency: CONCURRENCY,
		maxPoolSize: CONCURRENCY + 2,
		noHandleSignals: true,
		pollInterval: 1_000,
		taskList: { noop },
	});
	runner.events.on('job:success', () => {
		if (++done === TASKS) finish();
	});
	await finished;
	const ms = performance.now() - started;
	await runner.stop();
	return ms;
}

/** pg-boss's own fetch/complete, CONCURRENCY loops of one job each (its `work()` sleeps ≥ 0.5 s between fetches). */
async function pgBoss(connection: Connection): Promise<number> {
	const boss = new PgBoss({ connectionString: urlOf(connection), max: CONCURRENCY + 2, supervise: false, schedule: false });
	boss.on('error', (error: Error) => console.error('pg-boss error:', error.message));
	await boss.start();
	await boss.createQueue('noop');
	for (let i = 0; i < TASKS; i += 1_000) {
		await boss.insert(Array.from({ length: Math.min(1_000, TASKS - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
	}
	let done = 0;
	const started = performance.now();
	const loop = async (): Promise<void> => {
		for (;;) {
			const [job] = await boss.fetch('noop');
			if (job === undefined) return;
			await noop();
			await boss.complete('noop', job.id);
			done++;
		}
	};
	await Promise.all(Array.from({ length: CONCURRENCY }, loop));
	const ms = performance.now() - started;
	if (done !== TASKS) throw new Error(`pg-boss finished ${done} of ${TASKS}`);
	await boss.stop({ graceful: false, wait: true });
	return ms;
}

const median = (values: number[]): number => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] as number;
};

async function main(): Promise<void> {
	const server = await startPostgres({ settings: { max_connections: '300' } });
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-sql-'));
	const engines: Record<string, (round: number) => Promise<number>> = {
		'lightsched SQLite, 1 process': (round) =>
			lightsched({ client: 'sqlite3', connection: { filename: join(dir, `r${round}.db`) }, useNullAsDefault: true }),
		'lightsched PostgreSQL, 1 process': async (round) =>
			lightsched({ client: 'pg', connection: await server.createDatabase(`ours_${round}`), pool: { min: 2, max: 10 } }),
		[`lightsched PostgreSQL, ${PROCESSES} processes`]: async (round) => lightschedProcesses(await server.createDatabase(`ours4_${round}`)),
		'graphile-worker 0.17, 1 process': async (round) => graphileWorker(await server.createDatabase(`graphile_${round}`)),
		'pg-boss 10, 1 process': async (round) => pgBoss(await server.createDatabase(`pgboss_${round}`)),
	};
	const times: Record<string, number[]> = {};
	console.log(`${TASKS} no-op tasks, ${CONCURRENCY} at a time per process, ${ROUNDS} rounds (tasks per second; median last)`);
	try {
		for (let round = 1; round <= ROUNDS; round++) {
			for (const [name, engine] of Object.entries(engines)) {
				const ms = await engine(round);
				(times[name] ??= []).push(ms);
				console.log(`  round ${round}  ${name.padEnd(36)} ${Math.round((TASKS / ms) * 1000).toString().padStart(7)} tasks/s  (${Math.round(ms)} ms)`);
			}
		}
	} finally {
		await server.stop();
		rmSync(dir, { recursive: true, force: true });
	}
	const rate = (name: string): number => (TASKS / median(times[name] ?? [Number.NaN])) * 1000;
	console.log('\nMedians:');
	for (const name of Object.keys(engines)) console.log(`  ${name.padEnd(36)} ${Math.round(rate(name)).toString().padStart(7)} tasks/s`);
	const ours = rate('lightsched PostgreSQL, 1 process');
	console.log('\nRatios (lightsched PostgreSQL, 1 process ÷ peer):');
	console.log(`  vs graphile-worker  ${(ours / rate('graphile-worker 0.17, 1 process')).toFixed(2)}`);
	console.log(`  vs pg-boss          ${(ours / rate('pg-boss 10, 1 process')).toFixed(2)}`);
	console.log(`  ${PROCESSES} processes vs graphile-worker  ${(rate(`lightsched PostgreSQL, ${PROCESSES} processes`) / rate('graphile-worker 0.17, 1 process')).toFixed(2)}`);
}

const workerIndex = process.argv.indexOf('--worker');
if (workerIndex >= 0) await worker(JSON.parse(process.argv[workerIndex + 1] ?? '{}') as Connection);
else await main();
