/**
 * Workflow throughput (issue 13 item 13, first part): RUNS runs of a 10-step chain and of a 10-step fan-out/join
 * DAG (1 -> 8 -> 1), no-op steps, in one process, against plain tasks on the same container (the overhead per
 * step). Containers: memory (QueueContainer + MemoryWorkflowStore), SQLite (`sqlite`: the sqlite3 driver;
 * `sqlite-better`: better-sqlite3, the driver docs/containers/sql.md advises for throughput) and PostgreSQL (SqlContainer +
 * SqlWorkflowStore sharing its connection) and Redis (RedisContainer + RedisWorkflowStore on its connection), beside BullMQ flows on the
 * same redis-server and DBOS Transact on the same PostgreSQL (bench/workflows-peers.ts), in the same run: ROUNDS
 * rounds (default 3), medians. On Redis it also prints the CPU time each case cost per step, this process's and the
 * redis-server's (INFO cpu), which a loaded machine disturbs far less than the wall-clock rates; on every container
 * this process's CPU time per step (on PostgreSQL the DBOS case is left out of it: it runs outside `measure`).
 *
 *   npm run build && npx tsx bench/workflows.ts [runs] [memory,sqlite,sqlite-better,pg,redis]
 *   (env: ROUNDS, default 3; WARMUP, default 1; PEERS=0 leaves the peers out; SHAPES=chain or fan-out/join: one shape;
 *   DURABLE=0: servers without fsync nor AOF, as the test harness starts them; durable by default, see
 *   bench/durable-servers.ts)
 *
 * `npm run bench:workflows` and the report (`npm run bench`) run lightsched from its build (`dist/`, what a user
 * runs), as the Redis, memory and latency benches do. From its sources (`--conditions=lightsched:source`, for a
 * profile) tsx's transform keeps every function's name by wrapping each closure made at run time (`__name`, an
 * `Object.defineProperty` each): this process's CPU a step is then 5-15 % higher on Redis (7 Dec 2026).
 *
 * Every case, the peers' included, first runs WARMUP rounds that are not counted: the engine's code is only
 * compiled by V8 after some thousands of steps (a chain's first 10,000 steps on Redis cost 1.8-2.7x the CPU of
 * its fifth 10,000), and a scheduler in service runs warm. Each case is still built anew in every round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import {
	MemoryWorkflowStore,
	Workflows,
	workflowActions,
	type StepDefinition,
	type WorkflowStore,
} from 'lightsched/workflows';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import type { RedisServer } from '../test/support/redis.js';
import { bullmqFlows, bullmqJobs, dbosWorkflows, launchDbos, shutdownDbos } from './workflows-peers.js';
import type { PostgresServer } from '../test/support/postgres.js';
import { DURABLE, SERVERS, startBenchPostgres, startBenchRedis } from './durable-servers.js';
import { median } from './stats.js';
import { redisCpuUs } from './redis-cpu.js';
import { CHAIN as chain, FAN_OUT_JOIN as dag } from './workflow-shapes.js';

const RUNS = Number(process.argv[2] ?? 1000);
const KINDS = (process.argv[3] ?? 'memory,sqlite,sqlite-better,pg,redis').split(',');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WARMUP = Number(process.env.WARMUP ?? 1);
/** `PEERS=0`: leave BullMQ and DBOS out (for a profile of lightsched alone). */
const PEERS = process.env.PEERS !== '0';
const CONCURRENCY = 32;

interface Setup {
	readonly container: TaskContainer;
	readonly store: WorkflowStore;
}

/** A scheduler of no-op plain tasks on a new setup's container (its store closed: plain tasks do not use it). */
async function plainScheduler(make: () => Promise<Setup>): Promise<Scheduler<unknown, null>> {
	const { container, store } = await make();
	// The store may hold a connection of its own (Redis): an open one keeps the process alive.
	await store.close();
	return new Scheduler({ container, actuator: new FunctionActuator(() => null), concurrency: CONCURRENCY });
}

async function plainTasks(make: () => Promise<Setup>, tasks: number): Promise<number> {
	const scheduler = await plainScheduler(make);
	const started = performance.now();
	let done = 0;
	const finished = new Promise<void>((resolve) =>
		scheduler.on('task:succeeded', () => ++done === tasks && resolve()),
	);
	for (let i = 0; i < tasks; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, tasks - i) }, () => ({ item: null })));
	await finished;
	const ms = performance.now() - started;
	await scheduler.close();
	return ms;
}

/**
 * The chain's work as plain tasks chained by hand: RUNS chains of 10, each task added from the `task:succeeded` of
 * the one before it, one add a task, the first tasks added as the runs are started (what a user without workflows
 * would write; it keeps no step state and has no crash guarantee: a crash between a task's success and the next add
 * ends that chain). A chain step's task, too, is added only once the step before it ended, one add a step, where
 * the `plain` case adds 500 tasks a call: this is the like-for-like baseline of a chain step, `plain` the cheapest.
 */
async function plainChains(make: () => Promise<Setup>, chains: number): Promise<number> {
	const scheduler = await plainScheduler(make);
	const tasks = chains * 10;
	let done = 0;
	let failure: unknown;
	const finished = new Promise<void>((resolve, reject) =>
		scheduler.on('task:succeeded', ({ task }) => {
			const left = (task.item as { left: number }).left;
			if (left > 0) scheduler.add({ item: { left: left - 1 } }).catch(reject);
			if (++done === tasks) resolve();
		}),
	).catch((error: unknown) => (failure = error));
	const started = performance.now();
	for (let i = 0; i < chains; i += 100)
		await Promise.all(
			Array.from({ length: Math.min(100, chains - i) }, () => scheduler.add({ item: { left: 9 } })),
		);
	await finished;
	if (failure !== undefined) throw failure as Error;
	const ms = performance.now() - started;
	await scheduler.close();
	return ms;
}

async function workflowRuns(make: () => Promise<Setup>, steps: StepDefinition[]): Promise<number> {
	const { container, store } = await make();
	const actions = workflowActions({ noop: () => null });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: CONCURRENCY });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps });
	// The runs' ends are counted from `run:finished`, as the plain tasks' from `task:succeeded` and BullMQ's flows' from
	// the worker's `completed`: a `wait` per run would add a read of each run to what is measured.
	let finished = 0;
	let failed = 0;
	let resolve!: () => void;
	const done = new Promise<void>((r) => (resolve = r));
	flows.on('run:finished', ({ run }) => {
		if (run.status !== 'succeeded') failed++;
		if (++finished === RUNS) resolve();
	});
	const started = performance.now();
	for (let i = 0; i < RUNS; i += 100)
		await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('bench')));
	await done;
	const ms = performance.now() - started;
	if (failed > 0) throw new Error(`${failed} of ${RUNS} bench runs did not succeed`);
	await flows.close();
	await scheduler.close();
	await store.close();
	return ms;
}

const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-wf-'));
let pg: PostgresServer | undefined;
let redis: RedisServer | undefined;
let n = 0;
const sql = (knex: () => Promise<Knex.Config>) => async (): Promise<Setup> => {
	const container = new SqlContainer({ knex: await knex() });
	return { container, store: new SqlWorkflowStore({ container }) };
};
const makers: Record<string, () => Promise<Setup>> = {
	memory: async () => ({ container: new QueueContainer(), store: new MemoryWorkflowStore() }),
	sqlite: sql(async () => ({
		client: 'sqlite3',
		connection: { filename: join(dir, `b${++n}.sqlite`) },
		useNullAsDefault: true,
	})),
	// The driver docs/containers/sql.md advises for throughput (synchronous, no thread hops); `sqlite` is `sqlite3`'s.
	'sqlite-better': sql(async () => ({
		client: 'better-sqlite3',
		connection: { filename: join(dir, `b${++n}.sqlite`) },
		useNullAsDefault: true,
	})),
	pg: sql(async () => {
		pg ??= await startBenchPostgres();
		return { client: 'pg', connection: await pg.createDatabase(`wfbench${++n}`), pool: { min: 0, max: 8 } };
	}),
	redis: async () => {
		redis ??= await startBenchRedis();
		const name = `wfbench${++n}`;
		const connection = { host: '127.0.0.1', port: redis.port };
		const container = new RedisContainer({ redis: connection, name, log: false });
		await container.ready();
		// On the container's connection: a step end writes its run and adds the next step's task in one script.
		return { container, store: new RedisWorkflowStore({ container }) };
	},
};

/** `SHAPES=chain` or `SHAPES=fan-out/join`: one shape only (for a profile of it). */
const SHAPES = (
	[
		['chain', chain],
		['fan-out/join', dag],
	] as const
).filter(([shape]) => (process.env.SHAPES ?? 'chain,fan-out/join').split(',').includes(shape));
/** Steps per second by case, one value per round. */
const rates = new Map<string, number[]>();
const record = (name: string, ms: number): void => {
	const list = rates.get(name) ?? [];
	list.push((RUNS * 10_000) / ms);
	rates.set(name, list);
};
const fmt = (value: number): string => (Number.isNaN(value) ? 'n/a' : value.toFixed(0));
/** CPU microseconds per step by case and side (`node`: this process, `server`: redis-server), one value per round. */
const cpu = new Map<string, number[]>();
let admin: Redis | undefined;
const serverCpuUs = (): Promise<number> => redisCpuUs(admin as Redis);
/** Bytes redis-server appended to its AOF per step, by case, one value per round (`NaN`: a rewrite came in between). */
const aof = new Map<string, number[]>();
/** The AOF's size and how many rewrites the server made, from `INFO persistence` (`NaN` without AOF). */
async function aofState(): Promise<{ size: number; rewrites: string }> {
	const info = await (admin as Redis).info('persistence');
	const size = Number(/aof_current_size:(\d+)/.exec(info)?.[1] ?? Number.NaN);
	return {
		size,
		rewrites: `${/aof_rewrites:(\d+)/.exec(info)?.[1]}/${/aof_rewrite_in_progress:(\d)/.exec(info)?.[1]}`,
	};
}
/** Run one case (RUNS x 10 steps), recording its rate, this process's CPU per step and, on Redis, the server's. */
async function measure(kind: string, name: string, run: () => Promise<number>): Promise<void> {
	const onRedis = kind === 'redis' && redis !== undefined;
	if (onRedis) admin ??= new Redis((redis as RedisServer).port);
	// Each case starts on an empty server, as each SQLite and PostgreSQL case starts on a new file or database: what
	// the earlier cases left (28 MB a 1,000-run chain case) made every later case's scripts slower (server CPU per
	// chain step 81 -> 123 µs over four rounds), whichever engine ran it.
	if (onRedis) await (admin as Redis).flushall();
	const appended = onRedis && DURABLE ? await aofState() : undefined;
	const node = process.cpuUsage();
	const server = onRedis ? await serverCpuUs() : 0;
	record(name, await run());
	const used = process.cpuUsage(node);
	const steps = RUNS * 10;
	if (appended !== undefined) {
		const after = await aofState();
		const list = aof.get(name) ?? [];
		list.push(after.rewrites === appended.rewrites ? (after.size - appended.size) / steps : Number.NaN);
		aof.set(name, list);
	}
	const sides: (readonly ['node' | 'server', number])[] = [['node', used.user + used.system]];
	if (onRedis) sides.push(['server', (await serverCpuUs()) - server]);
	for (const [side, us] of sides) {
		const list = cpu.get(`${name} ${side}`) ?? [];
		list.push(us / steps);
		cpu.set(`${name} ${side}`, list);
	}
}

try {
	for (const kind of KINDS)
		if (makers[kind] === undefined)
			throw new Error(`Unknown kind ${kind} (memory, sqlite, sqlite-better, pg, redis)`);
	let dbosReady = false;
	// Up front, so the first case's CPU is measured too.
	if (KINDS.includes('redis')) redis = await startBenchRedis();
	for (let round = 1 - WARMUP; round <= ROUNDS; round++) {
		if (round === 1) {
			// The warm-up rounds' figures are dropped (see the file's comment).
			rates.clear();
			cpu.clear();
		}
		for (const kind of KINDS) {
			const make = makers[kind] as () => Promise<Setup>;
			await measure(kind, `${kind} plain`, () => plainTasks(make, RUNS * 10));
			await measure(kind, `${kind} plain chained`, () => plainChains(make, RUNS));
			if (PEERS && kind === 'redis' && redis !== undefined) {
				const port = redis.port;
				await measure(kind, `${kind} plain peer`, () => bullmqJobs(port, RUNS * 10));
			}
			for (const [shape, steps] of SHAPES) {
				await measure(kind, `${kind} ${shape}`, () => workflowRuns(make, [...steps]));
				if (PEERS && kind === 'redis' && redis !== undefined) {
					const port = redis.port;
					await measure(kind, `${kind} ${shape} peer`, () => bullmqFlows(port, shape, RUNS));
				}
				if (PEERS && kind === 'pg' && pg !== undefined) {
					if (!dbosReady) {
						await pg.createDatabase('dbos_bench');
						await launchDbos(`postgres://postgres@127.0.0.1:${pg.port}/dbos_bench`);
						dbosReady = true;
					}
					record(`${kind} ${shape} peer`, await dbosWorkflows(shape, RUNS));
				}
			}
			console.log(
				`${round < 1 ? 'warm-up round' : `round ${round}`} ${kind}: plain ${fmt(median(rates.get(`${kind} plain`)?.slice(-1)))}/s, chained by hand ${fmt(median(rates.get(`${kind} plain chained`)?.slice(-1)))}/s, ${SHAPES.map(
					([shape]) =>
						`${shape} ${fmt(median(rates.get(`${kind} ${shape}`)?.slice(-1)))} steps/s (CPU µs a step: ${[
							'node',
							'server',
						]
							.flatMap(
								(side) =>
									cpu
										.get(`${kind} ${shape} ${side}`)
										?.slice(-1)
										.map((us) => `${side} ${fmt(us)}`) ?? [],
							)
							.join(', ')})`,
				).join(', ')}`,
			);
		}
	}
	if (dbosReady) await shutdownDbos();
	console.log(
		`\n${RUNS} runs x 10 no-op steps, concurrency ${CONCURRENCY}, medians of ${ROUNDS} rounds after ${WARMUP} warm-up round(s) (steps/s); servers ${SERVERS}`,
	);
	console.log(
		'| container | shape | lightsched | plain tasks | step cost vs a plain task | plain tasks chained by hand | step cost vs one chained by hand | peer | peer steps/s | lightsched / peer |',
	);
	console.log('|---|---|---|---|---|---|---|---|---|---|');
	for (const kind of KINDS) {
		const plain = median(rates.get(`${kind} plain`));
		const chained = median(rates.get(`${kind} plain chained`));
		for (const [shape] of SHAPES) {
			const ours = median(rates.get(`${kind} ${shape}`));
			const peer = median(rates.get(`${kind} ${shape} peer`));
			const peerName = kind === 'redis' ? 'BullMQ flows' : kind === 'pg' ? 'DBOS Transact' : '-';
			console.log(
				`| ${kind} | ${shape} | ${fmt(ours)} | ${fmt(plain)} | ${(plain / ours).toFixed(2)}x | ${fmt(chained)} | ${(chained / ours).toFixed(2)}x | ${peerName} | ${fmt(peer)} | ${Number.isNaN(peer) ? '-' : `${(ours / peer).toFixed(2)}x`} |`,
			);
		}
	}
	if (rates.has('redis plain peer')) {
		// The peer's own step against its own plain job: how much a flow adds to a job in BullMQ, beside the same for
		// lightsched (a plain task added 500 a call in both).
		const peerPlain = median(rates.get('redis plain peer'));
		const plain = median(rates.get('redis plain'));
		console.log(
			`\nRedis, each engine's step against its own plain task/job (both added 500 a call): BullMQ jobs ${fmt(peerPlain)}/s, lightsched plain tasks ${fmt(plain)}/s (${(plain / peerPlain).toFixed(2)}x)`,
		);
		console.log('| shape | lightsched: a step ÷ a plain task | BullMQ: a flow step ÷ a plain job |');
		console.log('|---|---|---|');
		for (const [shape] of SHAPES)
			console.log(
				`| ${shape} | ${(plain / median(rates.get(`redis ${shape}`))).toFixed(2)}x | ${(peerPlain / median(rates.get(`redis ${shape} peer`))).toFixed(2)}x |`,
			);
	}
	console.log('\nCPU per step of this process, medians (µs; the peers in it only on Redis)');
	console.log(
		'| container | plain task | plain task chained by hand | chain step | fan-out/join step | chain / plain | fan-out/join / plain | chain / chained by hand |',
	);
	console.log('|---|---|---|---|---|---|---|---|');
	for (const kind of KINDS) {
		const of = (name: string): number => median(cpu.get(`${kind} ${name} node`));
		console.log(
			`| ${kind} | ${fmt(of('plain'))} | ${fmt(of('plain chained'))} | ${fmt(of('chain'))} | ${fmt(of('fan-out/join'))} | ${(of('chain') / of('plain')).toFixed(2)}x | ${(of('fan-out/join') / of('plain')).toFixed(2)}x | ${(of('chain') / of('plain chained')).toFixed(2)}x |`,
		);
	}
	if (cpu.has('redis plain server')) {
		const us = (name: string): number => median(cpu.get(`${name} node`)) + median(cpu.get(`${name} server`));
		console.log('\nCPU per step on Redis, medians (µs: this process + redis-server)');
		console.log(
			'| case | node | redis-server | total | vs a plain task | BullMQ total (plain: a job; else its flows) | lightsched / BullMQ | AOF bytes a step: lightsched; BullMQ |',
		);
		console.log('|---|---|---|---|---|---|---|---|');
		// n/a: an AOF rewrite (at every doubling past 64 MB, redis-server's default) came in every round of the case.
		const bytes = (key: string): string =>
			aof.has(key) ? fmt(median((aof.get(key) as number[]).filter((b) => !Number.isNaN(b)))) : 'n/a';
		for (const name of ['plain', 'plain chained', ...SHAPES.map(([shape]) => shape)]) {
			const key = `redis ${name}`;
			const peer = name === 'plain chained' || !cpu.has(`${key} peer node`) ? NaN : us(`${key} peer`);
			console.log(
				`| ${name} | ${fmt(median(cpu.get(`${key} node`)))} | ${fmt(median(cpu.get(`${key} server`)))} | ${fmt(us(key))} | ${(us(key) / us('redis plain')).toFixed(2)}x | ${fmt(peer)} | ${Number.isNaN(peer) ? '-' : `${(peer / us(key)).toFixed(2)}x less`} | ${bytes(key)}; ${bytes(`${key} peer`)} |`,
			);
		}
	}
} finally {
	admin?.disconnect();
	await redis?.close();
	await pg?.stop();
	rmSync(dir, { recursive: true, force: true });
}
