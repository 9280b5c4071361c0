/**
 * Workflows under the faults a real deployment has, on Redis and PostgreSQL: two schedulers, each with its own
 * `Workflows` and its own connections, share a container and its run store while
 * - every connection of theirs is cut every 400 ms by a TCP proxy (calls applied whose replies never come back,
 *   which ioredis sends again and the SQL pool reports as failed), or
 * - the server is stopped and started again in the middle of the work (Redis with its AOF, PostgreSQL `-m fast`).
 * The runs are started through the faults as a user would start them: with their own ids, each start tried again
 * until it resolves or reports the run exists. Every run must succeed with every step succeeded (generation 1),
 * every step's action must have run, and a step may run again only after its lease was found expired (at least
 * once, as documented); a step never starts again once it finished.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import {
	DuplicateRunError,
	parseStepTaskId,
	Workflows,
	workflowActions,
	type WorkflowStore,
} from 'lightsched/workflows';
import { startCuttingProxy, startRedis, type CuttingProxy, type RedisServer } from '../support/redis.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { BACK_WITHIN_MS as BOUND_MS } from '../../containers/redis/connection.js';
import { CRASH_DAG } from './crash-dag.js';

/** Runs a case: PostgreSQL under cuts goes at tens of steps a second (each cut costs its transactions and a reconnect). */
const RUNS = { Redis: 200, PostgreSQL: 100 } as const;
const STEPS = CRASH_DAG.steps.length;
/**
 * How often the proxy cuts. On PostgreSQL a connection cut every 150 ms spends most of its life connecting (and a
 * transaction of several round trips rarely completes): the runs still finish, at a few steps a second.
 */
const CUT_MS = { Redis: 150, PostgreSQL: 400 } as const;

let redis: RedisServer;
let postgres: PostgresServer;

beforeAll(async () => {
	[redis, postgres] = await Promise.all([
		startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] }),
		startPostgres(),
	]);
}, 120_000);
afterAll(async () => {
	await redis?.close();
	await postgres?.stop();
});

type Backend = 'Redis' | 'PostgreSQL';

/** What happened to each step (`<run>:<step>`): its starts, its ends, and when its lease was found expired. */
interface Journal {
	readonly starts: Map<string, number[]>;
	readonly ends: Map<string, number[]>;
	readonly lapsed: Map<string, number[]>;
	readonly errors: string[];
}

function note(map: Map<string, number[]>, key: string): void {
	map.set(key, [...(map.get(key) ?? []), Date.now()]);
}

interface Node {
	readonly flows: Workflows;
	close(): Promise<void>;
}

/** A scheduler with its container, store and Workflows, on `port` (the server's, or a proxy's). */
function node(backend: Backend, name: string, port: number, journal: Journal): Node {
	let container: TaskContainer;
	let store: WorkflowStore;
	if (backend === 'Redis') {
		const redisContainer = new RedisContainer({
			redis: `redis://127.0.0.1:${port}`,
			name,
			log: false,
			connectTimeoutMs: 2000,
		});
		container = redisContainer;
		store = new RedisWorkflowStore({ container: redisContainer });
	} else {
		const sql = new SqlContainer({ knex: pgConfig(name, port) });
		container = sql;
		store = new SqlWorkflowStore({ container: sql });
	}
	const actions = workflowActions({
		work: async (_params, ctx) => {
			note(journal.starts, `${ctx.runId}:${ctx.stepId}`);
			await sleep(5 + Math.random() * 20);
			note(journal.ends, `${ctx.runId}:${ctx.stepId}`);
			return ctx.stepId;
		},
	});
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(actions),
		concurrency: 8,
		leaseMs: 3000,
		pollIntervalMs: 200,
		backoff: { type: 'fixed', delayMs: 100 },
	});
	scheduler.on('task:lease-expired', ({ task }) => {
		const step = parseStepTaskId(task.id);
		if (step !== null) note(journal.lapsed, `${step.runId}:${step.stepId}`);
	});
	scheduler.on('error', (error) => journal.errors.push(String(error)));
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 300, dispatchGraceMs: 1500 });
	flows.define(CRASH_DAG);
	flows.on('error', (error) => journal.errors.push(String(error)));
	return {
		flows,
		close: async () => {
			await flows.close();
			await scheduler.close();
			await store.close();
		},
	};
}

function pgConfig(database: string, port: number): Knex.Config {
	return {
		client: 'pg',
		connection: { ...postgres.connection, port, database },
		pool: { min: 0, max: 4 },
		acquireConnectionTimeout: 5000,
	};
}

/** Start run `id` until it resolves or reports that it exists (an earlier try of it was stored). */
async function startSurely(flows: Workflows, id: string): Promise<void> {
	const until = Date.now() + 60_000;
	for (;;) {
		try {
			await flows.start('crash-dag', { id });
			return;
		} catch (error) {
			if (error instanceof DuplicateRunError) return;
			if (Date.now() > until) throw error;
			await sleep(50);
		}
	}
}

/** A store reached directly (not through a proxy), to watch the runs. */
function watcher(backend: Backend, name: string): WorkflowStore {
	return backend === 'Redis'
		? new RedisWorkflowStore({ redis: redis.url, name })
		: new SqlWorkflowStore({ knex: pgConfig(name, postgres.port) });
}

async function everyRunFinished(store: WorkflowStore, runs: number, ms: number): Promise<void> {
	const end = Date.now() + ms;
	for (;;) {
		const open = await store.list({ status: ['waiting', 'running', 'paused', 'blocked'], limit: 5 });
		const all = await store.list({ limit: 0 });
		if (all.total === runs && open.total === 0) return;
		if (Date.now() > end)
			throw new Error(
				`${all.total} runs stored, ${open.total} still open: ${JSON.stringify(open.runs.map((r) => [r.id, r.status, r.steps]))}`,
			);
		await sleep(200);
	}
}

/** `error` with the redis-server's last output lines appended: whether it exited, and why. */
function withServerLog(error: unknown): Error {
	const message = error instanceof Error ? error.message : String(error);
	return new Error(`${message}\nredis-server's last output:\n${redis.log()}`, { cause: error });
}

/**
 * How long after the restarted server is ready the watcher, idle through the outage, may take to reach it: the
 * documented bound (containers/redis/connection.ts), and room for a loaded machine. The watcher's first call after
 * the restart used to wait for a connection as long as ioredis's defaults made it (a reconnection pause of up to
 * 5.2 s, a loading estimate of up to 10 s) and failed once on CI at its 5 s bound, the server up all along.
 */
const BACK_WITHIN_MS = BOUND_MS + 600;

/** Every run succeeded, every step ran, and a step ran again only after its lease was found expired. */
async function check(store: WorkflowStore, journal: Journal, count: number): Promise<void> {
	const { runs } = await store.list({ limit: count + 10 });
	expect(runs).toHaveLength(count);
	for (const run of runs) {
		expect(run.status, `run ${run.id}: ${JSON.stringify(run.error)}`).toBe('succeeded');
		for (const [stepId, step] of Object.entries(run.steps)) {
			expect(step.status, `${run.id}:${stepId}`).toBe('succeeded');
			expect(step.generation, `${run.id}:${stepId}`).toBe(1);
		}
	}
	expect(journal.starts.size).toBe(count * STEPS);
	const again: string[] = [];
	for (const [key, starts] of journal.starts) {
		const lapsed = journal.lapsed.get(key) ?? [];
		for (let i = 1; i < starts.length; i++)
			if (!lapsed.some((at) => at >= (starts[i - 1] as number))) again.push(key);
	}
	expect(again, 'steps run again without their lease found expired').toEqual([]);
}

async function runThrough(
	backend: Backend,
	name: string,
	port: () => number,
	fault: (started: () => number, watch: WorkflowStore) => Promise<void>,
	paceMs = 0,
): Promise<Journal> {
	if (backend === 'PostgreSQL') await postgres.createDatabase(name);
	const journal: Journal = { starts: new Map(), ends: new Map(), lapsed: new Map(), errors: [] };
	const nodes = [node(backend, name, port(), journal), node(backend, name, port(), journal)];
	const store = watcher(backend, name);
	try {
		const runs = RUNS[backend];
		const ids = Array.from({ length: runs }, (_, i) => `${name}-run-${i}`);
		const starting = (async () => {
			for (let i = 0; i < runs; i += 10) {
				if (i > 0 && paceMs > 0) await sleep(paceMs);
				await Promise.all(ids.slice(i, i + 10).map((id) => startSurely((nodes[0] as Node).flows, id)));
			}
		})();
		await fault(() => [...journal.starts.values()].reduce((n, s) => n + s.length, 0), store);
		await starting;
		try {
			await everyRunFinished(store, runs, 120_000);
		} catch (error) {
			throw backend === 'Redis' ? withServerLog(error) : error;
		}
		await check(store, journal, runs);
		return journal;
	} finally {
		for (const n of nodes) await n.close();
		await store.close();
	}
}

/** The errors reported, by their first 90 characters with numbers and ids masked, and how often. */
function kinds(journal: Journal): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const error of journal.errors) {
		const kind = error.replace(/[0-9a-f-]{8,}|\d+/g, '#').slice(0, 90);
		counts[kind] = (counts[kind] ?? 0) + 1;
	}
	return counts;
}

describe.each(['Redis', 'PostgreSQL'] as const)('Workflows on %s under faults', (backend) => {
	it(
		`${RUNS[backend]} runs of a ${STEPS}-step DAG, every connection cut every ${CUT_MS[backend]} ms: every run succeeds, no step lost or run again`,
		{ timeout: 180_000 },
		async () => {
			const target = backend === 'Redis' ? redis.port : postgres.port;
			let proxy: CuttingProxy | undefined;
			try {
				proxy = await startCuttingProxy(target, CUT_MS[backend]);
				const through = proxy;
				const journal = await runThrough(
					backend,
					`cuts_${backend.toLowerCase()}`,
					() => through.port,
					async () => {},
					// The starts spread over several cut periods, so the work meets cuts however fast it goes (unpaced,
					// PostgreSQL's 100 runs once finished within three cuts of 400 ms, and the test proved little).
					CUT_MS[backend],
				);
				console.log(
					`${backend}, cuts: ${through.cuts} cuts, ${journal.errors.length} errors reported`,
					kinds(journal),
				);
				expect(through.cuts).toBeGreaterThan(3);
			} finally {
				await proxy?.close();
			}
		},
	);

	it(
		`${RUNS[backend]} runs of a ${STEPS}-step DAG, the server stopped for 2 s and started again mid-way: every run succeeds, no step lost or run again`,
		{ timeout: 180_000 },
		async () => {
			const target = backend === 'Redis' ? redis.port : postgres.port;
			const journal = await runThrough(
				backend,
				`restart_${backend.toLowerCase()}`,
				() => target,
				async (started, watch) => {
					const until = Date.now() + 60_000;
					while (started() < (RUNS[backend] * STEPS) / 3 && Date.now() < until) await sleep(20);
					if (backend === 'Redis') {
						await redis.stop();
						await sleep(2000);
						await redis.restart();
						// The watcher, idle through the outage, finds the server within the documented bound.
						const back = performance.now();
						await watch.list({ limit: 1 }).catch((error: unknown) => {
							throw withServerLog(error);
						});
						const ms = performance.now() - back;
						console.log(`Redis, restart: the watcher's first call after it took ${ms.toFixed(0)} ms`);
						expect(ms, redis.log()).toBeLessThan(BACK_WITHIN_MS);
					} else {
						await postgres.halt();
						await sleep(2000);
						await postgres.restart();
					}
				},
			);
			console.log(`${backend}, restart: ${journal.errors.length} errors reported`, kinds(journal));
			expect(journal.errors.length).toBeGreaterThan(0);
		},
	);
});
