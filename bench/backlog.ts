/**
 * Throughput against backlog (issue 15 item 6): does the cost of running due tasks grow with what else is stored?
 *
 * For every container (QueueContainer, OrderedMapContainer, SqlContainer on SQLite and on PostgreSQL,
 * RedisContainer), one store per case is seeded with a backlog, then ROUNDS rounds each add TASKS due no-op tasks
 * (1,000 per `container.add`, untimed) and time one scheduler (concurrency CONCURRENCY) from `resume()` until all
 * have succeeded, after an untimed round of WARMUP (1,000) tasks. Cases: DELAYED tasks waiting with `runAt` a day ahead (default 0, 100,000 and 1,000,000) and
 * FINISHED succeeded tasks (default 0 and 1,000,000). Printed: tasks/s (median of the rounds) and the ratio to the
 * empty case of the same container (above 1: slower than empty is below 1).
 *
 * How the backlog is seeded (the bench measures the claim, not the seeding):
 * - memory containers: `container.add` in batches of 10,000 (delayed); finished tasks are run through the same
 *   scheduler first (`keepFinished: Infinity` in every case, so they stay stored);
 * - SQLite and PostgreSQL: one server-side `INSERT … SELECT` (a recursive CTE on SQLite, `generate_series` on
 *   PostgreSQL) of rows shaped as `add` stores them, before the due tasks, so they sit ahead of them in `seq` order;
 *   PostgreSQL then runs `ANALYZE` (as autovacuum or the container's own ANALYZE would soon after);
 * - Redis: a Lua script per 10,000 tasks writing the hashes and index entries `add` writes (`all`, `s:<status>`,
 *   and `delayed` for the delayed ones).
 *
 * Then the stall: the longest gap another client sees while one `add()` of STALL tasks (default 100,000) runs on
 * Redis (PING on another connection), SQLite (a one-row UPDATE on another connection: a reader is never blocked in
 * WAL mode, a writer waits for the lock) and PostgreSQL (SELECT 1 on another connection), each issued every 1 ms.
 *
 * The redis-server and the PostgreSQL server are durable (redis-server AOF `appendfsync everysec`, PostgreSQL `fsync`
 * and `full_page_writes` on; bench/durable-servers.ts), as they run in production: a large `add()` then also writes
 * the AOF, and the seeding of a backlog may set off an AOF rewrite. `DURABLE=0`: the test harness's servers (no fsync,
 * no AOF), the setting of every report before 7 Dec 2026 (afternoon).
 *
 * The last line is `RESULT {json}` for bench/run-all.ts.
 *
 *   npx tsx --conditions=lightsched:source bench/backlog.ts
 *     (TASKS=10000 CONCURRENCY=16 ROUNDS=3 DELAYED=0,100000,1000000 FINISHED=0,1000000 STALL=100000
 *      ONLY=queue,ordered-map,sqlite,pg,redis DURABLE=0)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { Scheduler, type TaskContainer } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { ADD_FIELDS, encodeForAdd } from '../containers/redis/codec.js';
import { DURABLE, SERVERS, startBenchPostgres, startBenchRedis } from './durable-servers.js';
import { median } from './stats.js';

const TASKS = Number(process.env.TASKS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** Due tasks run untimed in each case before its rounds. */
const WARMUP = Number(process.env.WARMUP ?? 1_000);
const list = (text: string): number[] => text.split(',').map(Number);
const DELAYED = list(process.env.DELAYED ?? '0,100000,1000000');
const FINISHED = list(process.env.FINISHED ?? '0,1000000');
const STALL = Number(process.env.STALL ?? 100_000);
const KINDS = ['queue', 'ordered-map', 'sqlite', 'pg', 'redis'] as const;
type Kind = (typeof KINDS)[number];
const ONLY = (process.env.ONLY ?? KINDS.join(',')).split(',');
const DAY = 86_400_000;
const TABLE = '"lightsched_tasks"';

const LABELS: Record<Kind, string> = {
	queue: 'QueueContainer',
	'ordered-map': 'OrderedMapContainer',
	sqlite: 'SqlContainer, SQLite',
	pg: 'SqlContainer, PostgreSQL',
	redis: 'RedisContainer',
};

interface Case {
	readonly delayed: number;
	readonly finished: number;
}
const CASES: Case[] = [
	...DELAYED.map((delayed) => ({ delayed, finished: 0 })),
	...FINISHED.filter((f) => f > 0).map((finished) => ({ delayed: 0, finished })),
];
// The empty case runs again last (a fresh store): the first case of a container also pays for warming up, so the
// baseline is the median of both empty runs' rounds.
if (CASES.some((c) => c.delayed > 0 || c.finished > 0)) CASES.push({ delayed: 0, finished: 0 });

const loadAtStart = loadavg();
const load = (): string =>
	loadavg()
		.map((x) => x.toFixed(2))
		.join(' ');
const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-backlog-'));
const redis = ONLY.includes('redis') ? await startBenchRedis() : undefined;
const postgres = ONLY.includes('pg') ? await startBenchPostgres() : undefined;
let storeId = 0;

/** One store: the container, and how to seed its backlog in bulk. */
interface Store {
	readonly container: TaskContainer;
	seedDelayed(n: number, runAt: number): Promise<void>;
	/** Bulk-seeds finished tasks; undefined: run them through the scheduler instead (memory containers). */
	readonly seedFinished?: (n: number) => Promise<void>;
	cleanup(): Promise<void>;
}

const records = (n: number, first: number, runAt?: number): ReturnType<typeof createTaskRecord>[] => {
	const now = Date.now();
	return Array.from({ length: n }, (_, j) =>
		createTaskRecord(
			{ item: first + j, ...(runAt === undefined ? {} : { runAt }) },
			'task',
			{ maxAttempts: 1 },
			now,
		),
	);
};

async function addInBatches(container: TaskContainer, n: number, batch: number, runAt?: number): Promise<void> {
	for (let i = 0; i < n; i += batch) await container.add(records(Math.min(batch, n - i), i, runAt));
}

/** SQL rows as `add` stores them, `n` of them, `status` waiting (delayed, run_at given) or succeeded. */
function sqlSeed(dialect: 'sqlite' | 'pg', n: number, status: 'waiting' | 'succeeded', runAt: number): string {
	const now = Date.now();
	const finished = status === 'succeeded' ? now : 'NULL';
	const started = status === 'succeeded' ? now : 'NULL';
	const attempts = status === 'succeeded' ? 1 : 0;
	const select = (x: string): string =>
		`SELECT '${status}-' || ${x}, '${status}', 0, ${attempts}, 1, ${now}, ${now}, ${started}, ${finished}, ${runAt}, '0', ${status === 'waiting' ? 1 : 0}`;
	// `delayed` (schema 5): a waiting task not yet due, as `add` marks one.
	const columns = `(id, status, priority, attempts, max_attempts, created_at, updated_at, started_at, finished_at, run_at, item, delayed)`;
	return dialect === 'pg'
		? `INSERT INTO ${TABLE} ${columns} ${select('g')} FROM generate_series(1, ${n}) AS g`
		: `INSERT INTO ${TABLE} ${columns} WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) ${select('x')} FROM c`;
}

async function sqlStore(kind: 'sqlite' | 'pg'): Promise<Store> {
	const id = ++storeId;
	let config: Knex.Config;
	if (kind === 'sqlite') {
		config = {
			client: 'sqlite3',
			connection: { filename: join(dir, `backlog_${id}.db`) },
			useNullAsDefault: true,
		};
	} else {
		const connection = await (postgres as NonNullable<typeof postgres>).createDatabase(`backlog_${id}`);
		config = { client: 'pg', connection, pool: { min: 2, max: 10 } };
	}
	const container = new SqlContainer({ knex: config });
	await container.migrate();
	const seed = async (sql: string): Promise<void> => {
		const knex = knexFactory(config);
		try {
			await knex.raw(sql);
			if (kind === 'pg') await knex.raw(`ANALYZE ${TABLE}`);
		} finally {
			await knex.destroy();
		}
	};
	return {
		container,
		seedDelayed: (n, runAt) => seed(sqlSeed(kind, n, 'waiting', runAt)),
		seedFinished: (n) => seed(sqlSeed(kind, n, 'succeeded', 0)),
		cleanup: async () => undefined,
	};
}

/** Writes `ARGV[1]` tasks per call: hash, `all`, `s:<status>` and, for waiting ones, `delayed` (score runAt). */
const REDIS_SEED = `
local P = KEYS[1]
local n, first, status, runAt = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local idAt = 0
for i = 1, #fields, 2 do if fields[i] == 'id' then idAt = i + 1 end end
for i = first, first + n - 1 do
	local id = status .. '-' .. i
	local seq = redis.call('INCR', P .. 'seq')
	fields[idAt] = id
	redis.call('HSET', P .. 't:' .. id, 'status', status, 'v', '0', 'seq', seq, 'lastTransition', '', unpack(fields))
	redis.call('ZADD', P .. 'all', seq, id)
	redis.call('ZADD', P .. 's:' .. status, seq, id)
	if status == 'waiting' then redis.call('ZADD', P .. 'delayed', runAt, id) end
end
return n
`;

async function redisStore(): Promise<Store> {
	const name = `backlog${++storeId}`;
	const port = (redis as NonNullable<typeof redis>).port;
	const container = new RedisContainer({ redis: { host: '127.0.0.1', port }, name, log: false });
	await container.ready();
	const prefix = `lightsched:{${name}}:`;
	const seed = async (n: number, status: 'waiting' | 'succeeded', runAt: number): Promise<void> => {
		const client = new Redis({ host: '127.0.0.1', port });
		const now = Date.now();
		const [template] = records(1, 0, status === 'waiting' ? runAt : undefined);
		const stored = {
			...(template as NonNullable<typeof template>),
			...(status === 'succeeded' ? { attempts: 1, startedAt: now, finishedAt: now } : {}),
		};
		const values = encodeForAdd(stored);
		const fields = ADD_FIELDS.flatMap((field, i) => [field, values[i] as string]);
		try {
			for (let i = 0; i < n; i += 10_000)
				await client.eval(REDIS_SEED, 1, prefix, Math.min(10_000, n - i), i + 1, status, runAt, ...fields);
		} finally {
			client.disconnect();
		}
	};
	return {
		container,
		seedDelayed: (n, runAt) => seed(n, 'waiting', runAt),
		seedFinished: (n) => seed(n, 'succeeded', 0),
		cleanup: async () => {
			const client = new Redis({ host: '127.0.0.1', port });
			await client.flushall();
			client.disconnect();
		},
	};
}

async function makeStore(kind: Kind): Promise<Store> {
	switch (kind) {
		case 'queue':
		case 'ordered-map': {
			const container =
				kind === 'queue'
					? new QueueContainer({ keepFinished: Infinity })
					: new OrderedMapContainer({ keepFinished: Infinity });
			return {
				container,
				seedDelayed: (n, runAt) => addInBatches(container, n, 10_000, runAt),
				cleanup: async () => undefined,
			};
		}
		case 'sqlite':
		case 'pg':
			return sqlStore(kind);
		case 'redis':
			return redisStore();
	}
}

/** Tasks per second of each round for one container and case (the backlog seeded once, before the rounds). */
async function runCase(kind: Kind, c: Case): Promise<{ rates: number[]; seedMs: number }> {
	const store = await makeStore(kind);
	let done = 0;
	let target = 0;
	let reached: () => void = () => undefined;
	const scheduler = new Scheduler({
		container: store.container,
		actuator: new FunctionActuator(async () => undefined),
		concurrency: CONCURRENCY,
		autoStart: false,
	});
	scheduler.on('task:succeeded', () => {
		if (++done === target) reached();
	});
	scheduler.on('error', (error) => console.error('scheduler error:', error.message));
	/** Resume until `n` more tasks have succeeded; milliseconds. */
	const drain = async (n: number): Promise<number> => {
		target = done + n;
		const finished = new Promise<void>((resolve) => (reached = resolve));
		const started = performance.now();
		scheduler.resume();
		await finished;
		const ms = performance.now() - started;
		scheduler.pause();
		return ms;
	};
	try {
		const seedStarted = performance.now();
		if (c.delayed > 0) await store.seedDelayed(c.delayed, Date.now() + DAY);
		if (c.finished > 0) {
			if (store.seedFinished) await store.seedFinished(c.finished);
			else {
				await addInBatches(store.container, c.finished, 10_000);
				await drain(c.finished);
			}
		}
		const seedMs = performance.now() - seedStarted;
		// An untimed round first (the JIT, the pools, the first claims of a freshly filled store).
		await addInBatches(store.container, WARMUP, 1_000);
		await drain(WARMUP);
		const rates: number[] = [];
		for (let round = 0; round < ROUNDS; round++) {
			await addInBatches(store.container, TASKS, 1_000);
			rates.push((TASKS / (await drain(TASKS))) * 1000);
		}
		return { rates, seedMs };
	} finally {
		await scheduler.close();
		await store.cleanup();
	}
}

/**
 * The probe runs in a child process (its own event loop: this process's synchronous work of building the add must not
 * count as the server's stall): it issues one request, waits for the reply, sleeps 1 ms, and so on; when its stdin
 * closes it prints the longest gap between two replies and how many it got.
 */
const PROBE = `
const { setTimeout: sleep } = require('node:timers/promises');
const [kind, target] = [process.argv[1], JSON.parse(process.argv[2])];
let probe, close, busy = 0;
if (kind === 'redis') {
	const { Redis } = require('ioredis');
	const r = new Redis(target);
	// Past its script time limit Redis answers BUSY to everyone: not an answer, so the gap goes on.
	probe = async () => {
		for (;;) {
			try {
				return await r.ping();
			} catch (error) {
				if (!String(error.message).startsWith('BUSY')) throw error;
				busy++;
				await sleep(1);
			}
		}
	};
	close = () => r.disconnect();
} else if (kind === 'pg') {
	const pg = require('pg');
	const c = new pg.Client(target);
	const connected = c.connect();
	probe = async () => { await connected; await c.query('SELECT 1'); };
	close = () => c.end();
} else {
	const sqlite3 = require('sqlite3');
	const db = new sqlite3.Database(target.filename);
	db.configure('busyTimeout', 60000);
	probe = () => new Promise((resolve, reject) => db.run('UPDATE bench_probe SET n = n + 1', (e) => (e ? reject(e) : resolve())));
	close = () => db.close();
}
let running = true, maxGap = 0, probes = 0;
process.stdin.on('end', () => (running = false)).resume();
(async () => {
	await probe();
	process.stdout.write('ready\\n');
	let last = performance.now();
	while (running) {
		await probe();
		const now = performance.now();
		maxGap = Math.max(maxGap, now - last);
		last = now;
		probes++;
		await sleep(1);
	}
	await close();
	process.stdout.write(JSON.stringify({ maxGapMs: maxGap, probes, busy }) + '\\n');
})();
`;

interface Stall {
	readonly maxGapMs: number;
	readonly addMs: number;
	readonly probes: number;
	/** Redis: BUSY replies (the add's script ran past Redis's script time limit). */
	readonly busy: number;
}

/** Runs `work` while a probe child process of `kind` hits `target` every 1 ms; its longest gap between replies. */
async function stall(work: () => Promise<unknown>, kind: 'redis' | 'pg' | 'sqlite', target: unknown): Promise<Stall> {
	const child = spawn(process.execPath, ['-e', PROBE, kind, JSON.stringify(target)], {
		cwd: fileURLToPath(new URL('..', import.meta.url)),
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
	if ((await lines.next()).value !== 'ready') throw new Error(`the ${kind} probe did not start`);
	await sleep(200);
	const started = performance.now();
	await work();
	const addMs = performance.now() - started;
	await sleep(50);
	child.stdin.end();
	const result = JSON.parse(String((await lines.next()).value)) as { maxGapMs: number; probes: number; busy: number };
	return { ...result, addMs };
}

async function stalls(): Promise<Record<string, Stall>> {
	const out: Record<string, Stall> = {};
	if (ONLY.includes('redis')) {
		const store = await redisStore();
		const batch = records(STALL, 0);
		out['redis'] = await stall(() => store.container.add(batch), 'redis', {
			host: '127.0.0.1',
			port: (redis as NonNullable<typeof redis>).port,
		});
		await store.container.close();
		await store.cleanup();
	}
	if (ONLY.includes('sqlite')) {
		const filename = join(dir, `stall_${++storeId}.db`);
		const container = new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename }, useNullAsDefault: true },
		});
		await container.migrate();
		const setup = knexFactory({ client: 'sqlite3', connection: { filename }, useNullAsDefault: true });
		await setup.raw('CREATE TABLE bench_probe (n INTEGER)');
		await setup.raw('INSERT INTO bench_probe VALUES (0)');
		await setup.destroy();
		const batch = records(STALL, 0);
		out['sqlite'] = await stall(() => container.add(batch), 'sqlite', { filename });
		await container.close();
	}
	if (ONLY.includes('pg')) {
		const connection = await (postgres as NonNullable<typeof postgres>).createDatabase(`stall_${++storeId}`);
		const container = new SqlContainer({ knex: { client: 'pg', connection, pool: { min: 2, max: 10 } } });
		await container.migrate();
		const batch = records(STALL, 0);
		out['pg'] = await stall(() => container.add(batch), 'pg', connection);
		await container.close();
	}
	return out;
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const caseName = (c: Case): string =>
	c.finished > 0 ? `${fmt(c.finished)} finished` : c.delayed > 0 ? `${fmt(c.delayed)} delayed` : 'empty';

async function main(): Promise<void> {
	console.log(
		`${new Date().toISOString()}  ${TASKS} due no-op tasks at concurrency ${CONCURRENCY}, ${ROUNDS} rounds per case; servers ${SERVERS}; load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`,
	);
	const rows: {
		readonly container: string;
		case: string;
		delayed: number;
		finished: number;
		rate: number;
		rates: number[];
		ratio: number;
		seedS: number;
		load: string;
	}[] = [];
	for (const kind of KINDS.filter((k) => ONLY.includes(k))) {
		const emptyRounds: number[] = [];
		const first = rows.length;
		for (const [i, c] of CASES.entries()) {
			const { rates, seedMs } = await runCase(kind, c);
			const rate = median(rates);
			if (c.delayed === 0 && c.finished === 0) emptyRounds.push(...rates);
			const row = {
				container: LABELS[kind],
				case: caseName(c) + (i > 0 && c.delayed === 0 && c.finished === 0 ? ', again' : ''),
				delayed: c.delayed,
				finished: c.finished,
				rate,
				rates,
				ratio: Number.NaN,
				seedS: seedMs / 1000,
				load: load(),
			};
			rows.push(row);
			console.log(
				`  ${row.container.padEnd(26)} ${row.case.padEnd(20)} ${fmt(rate).padStart(8)} tasks/s  (rounds ${rates.map(fmt).join(', ')}; seeded in ${row.seedS.toFixed(1)} s; load ${row.load})`,
			);
		}
		const empty = median(emptyRounds);
		for (const row of rows.slice(first)) row.ratio = row.rate / empty;
	}
	console.log(
		"\nTasks per second by stored backlog; ÷ empty: over the median of both empty runs' rounds (below 1: slower):",
	);
	console.log('| container | stored backlog | tasks/s (median) | ÷ empty | load after |');
	console.log('|---|---|---:|---:|---|');
	for (const r of rows)
		console.log(`| ${r.container} | ${r.case} | ${fmt(r.rate)} | ${r.ratio.toFixed(2)} | ${r.load} |`);
	const stallResults = STALL > 0 ? await stalls() : {};
	if (STALL > 0) {
		console.log(`\nLongest stall of another client during one add() of ${fmt(STALL)} tasks (probe every 1 ms):`);
		console.log('| store | probe | add() took ms | longest gap ms | probes answered | BUSY replies |');
		console.log('|---|---|---:|---:|---:|---:|');
		const probeName: Record<string, string> = {
			redis: 'PING',
			sqlite: 'UPDATE of a one-row table',
			pg: 'SELECT 1',
		};
		for (const [k, s] of Object.entries(stallResults))
			console.log(
				`| ${LABELS[k as Kind]} | ${probeName[k] ?? ''} | ${fmt(s.addMs)} | ${s.maxGapMs.toFixed(1)} | ${s.probes} | ${s.busy} |`,
			);
	}
	console.log(`\nload average at the end ${load()}`);
	console.log(
		`RESULT ${JSON.stringify({ bench: 'backlog', tasks: TASKS, concurrency: CONCURRENCY, rounds: ROUNDS, durable: DURABLE, loadAtStart, loadAtEnd: loadavg(), rows, stall: { tasks: STALL, ...stallResults } })}`,
	);
}

try {
	await main();
} finally {
	await redis?.close();
	await postgres?.stop();
	rmSync(dir, { recursive: true, force: true });
}
