/**
 * SQL throughput: 10,000 no-op tasks added first, then timed from the start of processing until all have
 * finished. lightsched's SqlContainer on SQLite (a WAL file) and on PostgreSQL (1 process, and 4 processes
 * sharing the tables), beside graphile-worker and pg-boss on the SAME PostgreSQL server in the same run, each peer
 * in two configurations, labelled:
 *
 * - like-for-like: as lightsched runs here, 16 jobs in flight per process, each fetched and completed on its own
 *   (graphile-worker without its local queue or batched completions; pg-boss through 16 `fetch`/`complete` loops,
 *   stopped after 15 s and rated on what it finished by then);
 *   lightsched runs twice there: in its default (`preparedStatements: false`, safe behind a pooler in transaction
 *   mode) and with `preparedStatements: true`, as graphile-worker runs by default (both on a direct connection);
 * - recommended: as the peer's docs advise for throughput (graphile-worker with its performance page's settings:
 *   `concurrentJobs: 24, maxPoolSize: 25`, `localQueue: { size: 500 }`, completions batched with delay 0; pg-boss through `work()`
 *   with a batch size at the shortest polling interval it accepts, 0.5 s: 16 workers × 250 jobs, the best of the
 *   shapes tried, see docs/benchmarks.md).
 *
 * Each engine gets a fresh database per round, after an untimed warm-up round of 1,000 tasks each; the engines run
 * back to back in an order rotated each round; the figures printed are medians of the rounds, and the ratios
 * medians of the per-round ratios.
 *
 * The PostgreSQL server is durable (`fsync` and `full_page_writes` on, as a peer's recommended set-up runs it in
 * production; bench/durable-servers.ts), both the like-for-like and the recommended cases on it; `DURABLE=0` runs
 * the test harness's server (`fsync=off`, `full_page_writes=off`), the setting of every report before 7 Dec 2026
 * (afternoon). The SQLite cases run as the container sets the file (WAL, `synchronous = NORMAL`) either way.
 *
 *   npm run bench:sql   (ROUNDS=3 TASKS=10000 CONCURRENCY=16 PROCESSES=4 ONLY=<name part>[|<name part>…]
 *                        PG_BOSS_WORKERS=16 PG_BOSS_BATCH=250 DURABLE=0 to change it)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { Scheduler } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, type SqlContainerOptions } from 'lightsched/containers/sql';
import type { PostgresServer } from '../test/support/postgres.js';
import { DURABLE, SERVERS, startBenchPostgres } from './durable-servers.js';
import { serverTicks, ticks } from './process-ticks.js';
import { median } from './stats.js';

const TASKS = Number(process.env.TASKS ?? 10_000);
/** Tasks per engine in the untimed warm-up round (a fresh server and a cold process favour nobody). */
const WARMUP = 1_000;
/** pg-boss is far slower; it stops after this long and its rate is what it finished in that time. */
const PG_BOSS_LIMIT_MS = 15_000;
/** Called when a run's clock starts and stops (the CPU figures, see CPU). */
const clock = {
	/** The child worker processes of the run, whose CPU counts with this process's (PROCESSES runs). */
	children: [] as number[],
	start: (): void => undefined,
	stop: (): void => undefined,
	/** The tasks the run finished while its clock ran, when not all of them (pg-boss stopped at its time limit). */
	finished: undefined as number | undefined,
};
/** Tasks in the current run (the warm-up uses fewer). */
let count = TASKS;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const PROCESSES = Number(process.env.PROCESSES ?? 4);
/**
 * Run only the engines whose name contains one of these texts, separated by `|` (e.g. ONLY=PostgreSQL, or
 * ONLY='PostgreSQL, 1|graphile-worker 0.17, 1 process').
 */
const ONLY = (process.env.ONLY ?? '').split('|');
/** pg-boss `work()` workers and their batch size (its documented, recommended way; see pgBossWork). */
const PG_BOSS_WORKERS = Number(process.env.PG_BOSS_WORKERS ?? 16);
const PG_BOSS_BATCH = Number(process.env.PG_BOSS_BATCH ?? 250);
/**
 * CPU=1: also print, per timed run, the CPU time per task of the Node processes (this one and its child workers)
 * and of the PostgreSQL server (its postmaster and every backend, read from /proc), and the server's transactions
 * per task (pg_stat_database): figures that depend less on the machine's load than the rate does.
 */
const CPU = process.env.CPU === '1';
/** PREPARED=1: lightsched on PostgreSQL with `preparedStatements: true` (a direct connection, no pooler). */
const PREPARED = process.env.PREPARED === '1';
/** graphile-worker's performance page runs `concurrentJobs: 24, maxPoolSize: 25` with its batching options. */
const GRAPHILE_RECOMMENDED_CONCURRENCY = 24;

type Connection = Awaited<ReturnType<PostgresServer['createDatabase']>>;
const urlOf = (c: Connection): string => `postgres://${c.user}@${c.host}:${c.port}/${c.database}`;
const noop = async (): Promise<void> => {};

/** One lightsched scheduler draining the container; resolves with nothing once `onDone` says all finished. */
function lightschedWorker(container: SqlContainer, onSucceeded: () => void): Scheduler<unknown, void> {
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(noop),
		concurrency: CONCURRENCY,
		autoStart: false,
	});
	scheduler.on('task:succeeded', onSucceeded);
	scheduler.on('error', (error) => console.error('scheduler error:', error.message));
	return scheduler;
}

/** Add `count` tasks, 1,000 per call, as `Scheduler.add` would. */
async function addAll(container: SqlContainer): Promise<void> {
	const now = Date.now();
	for (let i = 0; i < count; i += 1_000) {
		const batch = Array.from({ length: Math.min(1_000, count - i) }, (_, j) =>
			createTaskRecord({ item: i + j }, 'task', { maxAttempts: 1 }, now),
		);
		await container.add(batch);
	}
}

/** lightsched in this process: add all, then time the drain. Returns milliseconds. */
async function lightsched(knex: SqlContainerOptions['knex'], prepared = PREPARED): Promise<number> {
	const pg = typeof knex === 'object' && (knex as { client?: unknown }).client === 'pg';
	const container = new SqlContainer({ knex, preparedStatements: prepared && pg });
	await addAll(container);
	let done = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const scheduler = lightschedWorker(container, () => {
		if (++done === count) finish();
	});
	const started = performance.now();
	clock.start();
	scheduler.resume();
	await finished;
	const ms = performance.now() - started;
	clock.stop();
	await scheduler.close();
	return ms;
}

type Kind = 'lightsched' | 'graphile' | 'graphile-batched';
const SQLITE = 'lightsched SQLite, 1 process';
const SQLITE_BETTER = 'lightsched SQLite (better-sqlite3), 1 process';
const PG1 = 'lightsched PostgreSQL, 1 process';
/**
 * lightsched with `preparedStatements: true` on its direct connection, as graphile-worker runs by default (its
 * `preparedStatements` option defaults to true): the like-for-like case for that comparison. PG1 is lightsched's own
 * default (unprepared, safe behind a pooler in transaction mode).
 */
const PG1_PREPARED = 'lightsched PostgreSQL, prepared statements, 1 process';
const PG4 = `lightsched PostgreSQL, ${PROCESSES} processes`;
const GRAPHILE1 = `graphile-worker 0.17, 1 process, like-for-like (concurrency ${CONCURRENCY}, no batching)`;
/** graphile-worker with `noPreparedStatements` (as behind a pooler in transaction mode): like-for-like with PG1. */
const GRAPHILE1_UNPREPARED = `graphile-worker 0.17, 1 process, like-for-like, noPreparedStatements (concurrency ${CONCURRENCY}, no batching)`;
const GRAPHILE1_BATCHED = `graphile-worker 0.17, 1 process, recommended (concurrency ${GRAPHILE_RECOMMENDED_CONCURRENCY}, localQueue 500, batched completions)`;
const GRAPHILE4 = `graphile-worker 0.17, ${PROCESSES} processes, like-for-like (concurrency ${CONCURRENCY} each, no batching)`;
const GRAPHILE4_BATCHED = `graphile-worker 0.17, ${PROCESSES} processes, recommended (concurrency ${GRAPHILE_RECOMMENDED_CONCURRENCY} each, localQueue 500, batched completions)`;
const PG_BOSS_LOOPS = `pg-boss 10, like-for-like (${CONCURRENCY} fetch/complete loops of one job)`;
const PG_BOSS_WORK = `pg-boss 10, recommended (${PG_BOSS_WORKERS} work() × batchSize ${PG_BOSS_BATCH}, polling 0.5 s)`;

const quietLogger = new Logger(() => () => undefined);

/** Add `count` graphile-worker jobs (after its migration). */
async function addGraphileJobs(connectionString: string): Promise<void> {
	const utils = await makeWorkerUtils({ connectionString, logger: quietLogger });
	await utils.migrate();
	for (let i = 0; i < count; i += 1_000) {
		await utils.addJobs(
			Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({
				identifier: 'noop',
				payload: { i: i + j },
			})),
		);
	}
	await utils.release();
}

/**
 * graphile-worker's batching, as its performance page and `perfTest` set it: a local queue of 500 jobs locked per
 * fetch, completions batched (delay 0). Without it, one job per fetch and one statement per completion.
 */
const GRAPHILE_BATCHING = { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } as const;

/** Start a graphile-worker runner; `onSuccess` hears every finished job. */
function startGraphile(
	connectionString: string,
	onSuccess: () => void,
	batched = false,
	unprepared = false,
): ReturnType<typeof runGraphile> {
	return runGraphile({
		connectionString,
		...(unprepared ? { noPreparedStatements: true } : {}),
		logger: quietLogger,
		concurrency: batched ? GRAPHILE_RECOMMENDED_CONCURRENCY : CONCURRENCY,
		maxPoolSize: batched ? GRAPHILE_RECOMMENDED_CONCURRENCY + 1 : CONCURRENCY + 2,
		noHandleSignals: true,
		pollInterval: 1_000,
		taskList: { noop },
		...(batched ? { preset: { worker: GRAPHILE_BATCHING } } : {}),
	}).then((runner) => {
		runner.events.on('job:success', onSuccess);
		return runner;
	});
}

/** `kind` in PROCESSES child processes sharing one PostgreSQL database; timed from "go" to the last success. */
async function processes(kind: Kind, connection: Connection): Promise<number> {
	if (kind === 'lightsched') {
		const container = new SqlContainer({ knex: { client: 'pg', connection }, preparedStatements: PREPARED });
		await addAll(container);
		await container.close();
	} else await addGraphileJobs(urlOf(connection));
	const children = Array.from({ length: PROCESSES }, () =>
		fork(fileURLToPath(import.meta.url), ['--worker', kind, JSON.stringify(connection)], {
			execArgv: process.execArgv,
		}),
	);
	let done = 0;
	let ready = 0;
	let started = 0;
	const result = await new Promise<number>((resolve, reject) => {
		for (const child of children) {
			child.on('error', reject);
			child.on('exit', (code) => {
				if (code !== 0 && done < count) reject(new Error(`worker exited with ${String(code)}`));
			});
			child.on('message', (message: { ready?: true; done?: number }) => {
				if (message.ready && ++ready === PROCESSES) {
					started = performance.now();
					clock.children = children.map((c) => c.pid ?? 0);
					clock.start();
					for (const c of children) c.send('go');
				}
				if (message.done !== undefined && (done += message.done) === count) {
					resolve(performance.now() - started);
					clock.stop();
					clock.children = [];
				}
			});
		}
	});
	for (const child of children) child.send('stop');
	await Promise.all(
		children.map(
			(child) =>
				new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
		),
	);
	return result;
}

/** A child process of `processes`: reports finished tasks to the parent once per event-loop turn. */
async function worker(kind: Kind, connection: Connection): Promise<void> {
	let pending = 0;
	let flushing = false;
	const succeeded = (): void => {
		pending++;
		if (flushing) return;
		flushing = true;
		setImmediate(() => {
			flushing = false;
			process.send?.({ done: pending });
			pending = 0;
		});
	};
	let stop: () => Promise<void>;
	let go: () => void;
	if (kind === 'lightsched') {
		const container = new SqlContainer({
			knex: { client: 'pg', connection, pool: { min: 2, max: 10 } },
			preparedStatements: PREPARED,
		});
		await container.migrate();
		const scheduler = lightschedWorker(container, succeeded);
		go = () => scheduler.resume();
		stop = () => scheduler.close();
	} else {
		let runner: Awaited<ReturnType<typeof runGraphile>> | undefined;
		let starting: Promise<unknown> = Promise.resolve();
		go = () => {
			starting = startGraphile(urlOf(connection), succeeded, kind === 'graphile-batched').then(
				(r) => (runner = r),
			);
		};
		stop = async () => {
			await starting;
			await runner?.stop();
		};
	}
	process.on('message', (message) => {
		if (message === 'go') go();
		if (message === 'stop') void stop().then(() => process.exit(0));
	});
	process.send?.({ ready: true });
}

async function graphileWorker(connection: Connection, batched = false, unprepared = false): Promise<number> {
	const connectionString = urlOf(connection);
	await addGraphileJobs(connectionString);
	let done = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const started = performance.now();
	clock.start();
	const runner = await startGraphile(
		connectionString,
		() => {
			if (++done === count) finish();
		},
		batched,
		unprepared,
	);
	await finished;
	const ms = performance.now() - started;
	clock.stop();
	await runner.stop();
	return ms;
}

/** pg-boss's own fetch/complete, CONCURRENCY loops of one job each (its `work()` sleeps ≥ 0.5 s between fetches). */
async function pgBoss(connection: Connection): Promise<number> {
	const boss = new PgBoss({
		connectionString: urlOf(connection),
		max: CONCURRENCY + 2,
		supervise: false,
		schedule: false,
	});
	boss.on('error', (error: Error) => console.error('pg-boss error:', error.message));
	await boss.start();
	await boss.createQueue('noop');
	for (let i = 0; i < count; i += 1_000) {
		await boss.insert(
			Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })),
		);
	}
	let done = 0;
	const started = performance.now();
	clock.start();
	const loop = async (): Promise<void> => {
		while (performance.now() - started < PG_BOSS_LIMIT_MS) {
			const [job] = await boss.fetch('noop');
			if (job === undefined) return;
			await noop();
			await boss.complete('noop', job.id);
			done++;
		}
	};
	await Promise.all(Array.from({ length: CONCURRENCY }, loop));
	const elapsed = performance.now() - started;
	clock.stop();
	clock.finished = done;
	if (done !== count && elapsed < PG_BOSS_LIMIT_MS) throw new Error(`pg-boss finished ${done} of ${count}`);
	// As if it had run all `count` tasks at the rate it showed.
	const ms = (elapsed / done) * count;
	await boss.stop({ graceful: false, wait: true });
	return ms;
}

/**
 * pg-boss in its documented way: `work()` with a batch size and the shortest polling interval it accepts (0.5 s;
 * the default is 2 s), PG_BOSS_WORKERS workers (each `work()` call adds one). A worker fetches up to `batchSize`
 * jobs, runs the handler on the batch (here the no-op on each job of it, together), completes the batch without
 * waiting for the answer and sleeps out the rest of the polling interval before fetching again. The clock stops
 * once every job is stored as completed.
 */
async function pgBossWork(connection: Connection): Promise<number> {
	const boss = new PgBoss({ connectionString: urlOf(connection), supervise: false, schedule: false });
	boss.on('error', (error: Error) => console.error('pg-boss error:', error.message));
	await boss.start();
	await boss.createQueue('noop');
	for (let i = 0; i < count; i += 1_000) {
		await boss.insert(
			Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })),
		);
	}
	const client = new pg.Client(urlOf(connection));
	await client.connect();
	let handled = 0;
	let allHandled: () => void = () => undefined;
	const handledAll = new Promise<void>((resolve) => (allHandled = resolve));
	const started = performance.now();
	clock.start();
	for (let w = 0; w < PG_BOSS_WORKERS; w++) {
		await boss.work('noop', { batchSize: PG_BOSS_BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
			await Promise.all(jobs.map(noop));
			if ((handled += jobs.length) >= count) allHandled();
		});
	}
	await handledAll;
	// Its completions are not awaited by work(): wait for the last ones to be stored (a few ms).
	const completed = async (): Promise<number> =>
		(
			await client.query<{ n: number }>(
				"select count(*)::int as n from pgboss.job where name = 'noop' and state = 'completed'",
			)
		).rows[0]?.n ?? 0;
	while ((await completed()) < count) await sleep(5);
	const ms = performance.now() - started;
	clock.stop();
	await client.end();
	await boss.stop({ graceful: false, wait: true });
	return ms;
}

async function main(): Promise<void> {
	const server = await startBenchPostgres({ max_connections: '300' });
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-sql-'));
	const engines: Record<string, (round: number) => Promise<number>> = {
		[SQLITE]: (round) =>
			lightsched({
				client: 'sqlite3',
				connection: { filename: join(dir, `r${round}.db`) },
				useNullAsDefault: true,
			}),
		[SQLITE_BETTER]: (round) =>
			lightsched({
				client: 'better-sqlite3',
				connection: { filename: join(dir, `b${round}.db`) },
				useNullAsDefault: true,
			}),
		[PG1]: async (round) =>
			lightsched({
				client: 'pg',
				connection: await server.createDatabase(`ours_${round}`),
				pool: { min: 2, max: 10 },
			}),
		[PG1_PREPARED]: async (round) =>
			lightsched(
				{ client: 'pg', connection: await server.createDatabase(`oursp_${round}`), pool: { min: 2, max: 10 } },
				true,
			),
		[PG4]: async (round) => processes('lightsched', await server.createDatabase(`ours4_${round}`)),
		[GRAPHILE1]: async (round) => graphileWorker(await server.createDatabase(`graphile_${round}`)),
		[GRAPHILE1_UNPREPARED]: async (round) =>
			graphileWorker(await server.createDatabase(`graphileu_${round}`), false, true),
		[GRAPHILE1_BATCHED]: async (round) => graphileWorker(await server.createDatabase(`graphileb_${round}`), true),
		[GRAPHILE4]: async (round) => processes('graphile', await server.createDatabase(`graphile4_${round}`)),
		[GRAPHILE4_BATCHED]: async (round) =>
			processes('graphile-batched', await server.createDatabase(`graphile4b_${round}`)),
		[PG_BOSS_LOOPS]: async (round) => pgBoss(await server.createDatabase(`pgboss_${round}`)),
		[PG_BOSS_WORK]: async (round) => pgBossWork(await server.createDatabase(`pgbosswork_${round}`)),
	};
	const names = Object.keys(engines).filter((name) => ONLY.some((part) => name.includes(part)));
	const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
	let cpuAt = { node: 0, server: 0 };
	let cpuUsed = { node: 0, server: 0 };
	if (CPU) {
		// This process and the run's live child workers (read before they exit).
		const nodeTicks = (): number =>
			clock.children.reduce((sum, pid) => sum + ticks(pid, false), ticks(process.pid, false));
		clock.start = () => {
			cpuAt = { node: nodeTicks(), server: serverTicks(postmaster) };
		};
		clock.stop = () => {
			cpuUsed = { node: nodeTicks() - cpuAt.node, server: serverTicks(postmaster) - cpuAt.server };
		};
	}
	const allCommits = async (): Promise<number> => {
		const client = new pg.Client({ connectionString: server.url });
		await client.connect();
		try {
			const { rows } = await client.query<{ n: string }>('SELECT SUM(xact_commit) AS n FROM pg_stat_database');
			return Number(rows[0]?.n ?? 0);
		} finally {
			await client.end();
		}
	};
	const rates: Record<string, number[]> = {};
	console.log(
		`${TASKS} no-op tasks, ${CONCURRENCY} at a time per process, ${ROUNDS} rounds (tasks per second); servers ${SERVERS}`,
	);
	const started = performance.now();
	try {
		count = WARMUP;
		for (const name of names) await (engines[name] as (round: number) => Promise<number>)(0);
		count = TASKS;
		for (let round = 1; round <= ROUNDS; round++) {
			// Rotate the order each round so a machine getting busier or quieter does not favour one engine.
			const order = names.map((_, i) => names[(i + round - 1) % names.length] as string);
			for (const name of order) {
				const before = CPU ? await allCommits() : 0;
				clock.finished = undefined;
				const ms = await (engines[name] as (round: number) => Promise<number>)(round);
				(rates[name] ??= []).push((TASKS / ms) * 1000);
				console.log(
					`  round ${round}  ${name.padEnd(48)} ${Math.round((TASKS / ms) * 1000)
						.toString()
						.padStart(7)} tasks/s  (${Math.round(ms)} ms)`,
				);
				if (CPU) {
					// Backends flush their statistics when idle (at most once a second) or on exit.
					await sleep(1_100);
					const xacts = (await allCommits()) - before;
					// Per task finished while the clock ran (pg-boss's loops stop at their time limit).
					const finished = clock.finished ?? TASKS;
					const us = (t: number): number => Math.round((t * 10_000) / finished);
					console.log(
						`           CPU µs/task: Node ${us(cpuUsed.node)}, PostgreSQL ${us(cpuUsed.server)} (${finished} finished); transactions/task ${(xacts / TASKS).toFixed(3)} (incl. the adds)`,
					);
				}
			}
		}
	} finally {
		await server.stop();
		rmSync(dir, { recursive: true, force: true });
	}
	const rate = (name: string): number => median(rates[name] ?? [Number.NaN]);
	/** The median of the per-round ratios: each round's engines ran back to back under the same load. */
	const ratio = (ours: string, peer: string): string =>
		median((rates[ours] ?? []).map((value, i) => value / (rates[peer]?.[i] ?? Number.NaN))).toFixed(2);
	console.log(`\nMedians of ${ROUNDS} rounds (${Math.round((performance.now() - started) / 1000)} s in all):`);
	for (const name of names)
		console.log(`  ${name.padEnd(48)} ${Math.round(rate(name)).toString().padStart(7)} tasks/s`);
	console.log(
		'\nRatios, lightsched ÷ peer (median of the per-round ratios). "like-for-like": the peer as lightsched runs here,' +
			'\n16 jobs in flight per process, each fetched and completed on its own; "recommended": the peer as its docs' +
			'\nadvise for throughput (graphile-worker: localQueue + batched completions; pg-boss: work() with a batch size):',
	);
	const line = (label: string, ours: string, peer: string): void => {
		if (names.includes(ours) && names.includes(peer)) console.log(`  ${label.padEnd(72)} ${ratio(ours, peer)}`);
	};
	line('PostgreSQL, 1 process ÷ graphile-worker, like-for-like', PG1, GRAPHILE1);
	line('PostgreSQL, 1 process ÷ graphile-worker, recommended (batching)', PG1, GRAPHILE1_BATCHED);
	line('PostgreSQL prepared, 1 process ÷ graphile-worker, like-for-like (both prepared)', PG1_PREPARED, GRAPHILE1);
	line('PostgreSQL, 1 process ÷ graphile-worker, like-for-like (neither prepared)', PG1, GRAPHILE1_UNPREPARED);
	line(`PostgreSQL, ${PROCESSES} processes ÷ graphile-worker, like-for-like`, PG4, GRAPHILE4);
	line(`PostgreSQL, ${PROCESSES} processes ÷ graphile-worker, recommended (batching)`, PG4, GRAPHILE4_BATCHED);
	line('PostgreSQL, 1 process ÷ pg-boss, like-for-like (fetch/complete loops)', PG1, PG_BOSS_LOOPS);
	line('PostgreSQL, 1 process ÷ pg-boss, recommended (work() batches)', PG1, PG_BOSS_WORK);
	line('SQLite, 1 process ÷ graphile-worker, like-for-like', SQLITE, GRAPHILE1);
	line('SQLite (better-sqlite3) ÷ SQLite (sqlite3), 1 process each', SQLITE_BETTER, SQLITE);
	const pairs: [string, string, string][] = [
		['PostgreSQL, 1 process', PG1, GRAPHILE1],
		['PostgreSQL, 1 process', PG1, GRAPHILE1_BATCHED],
		['PostgreSQL, prepared statements (as graphile-worker by default), 1 process', PG1_PREPARED, GRAPHILE1],
		['PostgreSQL, 1 process (neither prepared)', PG1, GRAPHILE1_UNPREPARED],
		[`PostgreSQL, ${PROCESSES} processes`, PG4, GRAPHILE4],
		[`PostgreSQL, ${PROCESSES} processes`, PG4, GRAPHILE4_BATCHED],
		['PostgreSQL, 1 process', PG1, PG_BOSS_LOOPS],
		['PostgreSQL, 1 process', PG1, PG_BOSS_WORK],
		['SQLite, 1 process', SQLITE, GRAPHILE1],
	].filter(([, ours, peer]) => names.includes(ours as string) && names.includes(peer as string)) as [
		string,
		string,
		string,
	][];
	console.log(`\nTasks per second, ${TASKS} no-op tasks, medians of ${ROUNDS} rounds; servers ${SERVERS}:`);
	console.log(`| engine | tasks/s (median of ${ROUNDS}) | rounds |`);
	console.log('|---|---:|---|');
	for (const name of names)
		console.log(
			`| ${name} | ${Math.round(rate(name)).toLocaleString('en-US')} | ${(rates[name] ?? []).map((r) => Math.round(r)).join(', ')} |`,
		);
	console.log('\nlightsched ÷ peer, same server, same run:');
	console.log('| lightsched | ÷ peer | ratio (median of the per-round ratios) |');
	console.log('|---|---|---:|');
	for (const [label, ours, peer] of pairs) console.log(`| ${label} | ${peer} | ${ratio(ours, peer)} |`);
	console.log(
		`RESULT ${JSON.stringify({
			bench: 'sql',
			tasks: TASKS,
			concurrency: CONCURRENCY,
			processes: PROCESSES,
			rounds: ROUNDS,
			durable: DURABLE,
			rates: Object.fromEntries(names.map((name) => [name, { median: rate(name), rounds: rates[name] ?? [] }])),
			ratios: pairs.map(([label, ours, peer]) => ({ ours, peer, label, ratio: Number(ratio(ours, peer)) })),
		})}`,
	);
}

const workerIndex = process.argv.indexOf('--worker');
if (workerIndex >= 0)
	await worker(
		process.argv[workerIndex + 1] as Kind,
		JSON.parse(process.argv[workerIndex + 2] ?? '{}') as Connection,
	);
else await main();
