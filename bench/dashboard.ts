/**
 * The dashboard's list API over a big container: TASKS tasks (default 1,000,000, all waiting) in SQLite (a temp
 * file) and Redis (a redis-server started here), then the time of `GET api/tasks` for the first page newest first,
 * the first page oldest first, a page at offset TASKS/2 and the last page (deep OFFSETs), a status filter that
 * matches everything (`waiting`) and one that matches nothing (`failed`), a search by id, and `GET api/stats`: the
 * median of ROUNDS (default 9) calls each, as the page makes them (over HTTP on loopback). Then, on the container
 * itself (no HTTP): `counts()` (what the dashboard's sampler reads every sample), `list` of 50 with the exact total
 * and with `exactTotal: false`, and the sampler's queue-latency read (two small lists). Also the size of what the
 * page loads (each asset, and gzip sizes). Measures only; asserts nothing.
 *
 * SQLite is filled with one `INSERT … SELECT` from a recursive CTE (a few seconds for a million rows): one task is
 * added through the container (so the schema and the row's every column are the container's own), then copied
 * TASKS - 1 times with ids `t-1`, `t-2`, … (`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE
 * i < ?) INSERT INTO lightsched_tasks (id, <every other column but seq>) SELECT 't-' || i, <those columns> FROM n,
 * lightsched_tasks AS one WHERE one.id = 't-0'`). `FILL=add` adds them through `Scheduler.add` instead (batches of
 * 10,000; about 95 s), as Redis always is (about 170 s for a million).
 *
 *   npx tsx --conditions=lightsched:source bench/dashboard.ts          (TASKS=100000 ROUNDS=5 for a quick run)
 *   BACKENDS=sqlite (or redis) measures one backend only.
 *
 * Run the same file against another checkout's code by copying it into that checkout's bench/ (the imports resolve
 * to the package the file sits in); a container there that ignores `exactTotal` counts for both `list` rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Scheduler, type TaskContainer, type TaskQuery } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startDashboard } from 'lightsched/dashboard';
import { startRedis } from '../test/support/redis.js';
import { median } from './stats.js';

const TASKS = Number(process.env.TASKS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const BACKENDS = (process.env.BACKENDS ?? 'sqlite,redis').split(',');
const FILL = process.env.FILL ?? 'insert';
const BATCH = 10_000;

function load(): string {
	return loadavg()
		.map((l) => l.toFixed(1))
		.join(' ');
}

/** Add the tasks; the scheduler stays open (closing it would close the container) until the measures are done. */
async function fillContainer(container: TaskContainer): Promise<{ seconds: number; close: () => Promise<void> }> {
	const scheduler = new Scheduler({ container, autoStart: false, actuator: new FunctionActuator(() => 0) });
	const started = performance.now();
	if (container instanceof SqlContainer && FILL === 'insert') {
		await scheduler.add({ id: 't-0', item: { n: 0, name: 'a task' } });
		await insertSelect(container, TASKS - 1);
	} else {
		for (let i = 0; i < TASKS; i += BATCH) {
			const n = Math.min(BATCH, TASKS - i);
			await scheduler.add(
				Array.from({ length: n }, (_, j) => ({ id: `t-${i + j}`, item: { n: i + j, name: 'a task' } })),
			);
			if ((i / BATCH) % 10 === 0) process.stderr.write(`\r  added ${i + n}`);
		}
		process.stderr.write('\n');
	}
	const seconds = (performance.now() - started) / 1000;
	return { seconds, close: () => scheduler.close() };
}

/** Copy the row of task `t-0` `count` times (ids `t-1` to `t-<count>`) in one statement. */
async function insertSelect(container: SqlContainer, count: number): Promise<void> {
	const table = 'lightsched_tasks';
	const columns = ((await container.knex.raw(`PRAGMA table_info(${table})`)) as { name: string }[])
		.map((c) => c.name)
		.filter((name) => name !== 'seq' && name !== 'id');
	const list = columns.join(', ');
	await container.knex.raw(
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO ${table} (id, ${list}) SELECT 't-' || i, ${columns.map((c) => `one.${c}`).join(', ')}
		FROM n, ${table} AS one WHERE one.id = 't-0'`,
		[count],
	);
	await container.knex.raw('ANALYZE');
}

async function time(label: string, call: () => Promise<void>): Promise<void> {
	const times: number[] = [];
	for (let round = 0; round < ROUNDS; round++) {
		const started = performance.now();
		await call();
		times.push(performance.now() - started);
	}
	console.log(
		`  ${label.padEnd(44)} median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`,
	);
}

async function measure(name: string, container: TaskContainer): Promise<void> {
	console.log(`\n${name}: adding ${TASKS} tasks…`);
	const filled = await fillContainer(container);
	console.log(`  added in ${filled.seconds.toFixed(1)} s; load ${load()}`);
	const dashboard = await startDashboard({ container, port: 0 });
	const cases: [string, string][] = [
		['first page, newest first (limit 50)', 'api/tasks?limit=50&order=desc'],
		['first page, oldest first (limit 50)', 'api/tasks?limit=50&order=asc'],
		[`page at offset ${TASKS / 2}`, `api/tasks?limit=50&offset=${TASKS / 2}`],
		[`last page (offset ${TASKS - 50})`, `api/tasks?limit=50&offset=${TASKS - 50}`],
		['status filter waiting (limit 50)', 'api/tasks?limit=50&status=waiting'],
		['status filter failed (none match)', 'api/tasks?limit=50&status=failed'],
		['search by id', `api/tasks?q=t-${TASKS - 7}`],
		['stats (counts, latency, pause flag)', 'api/stats'],
	];
	for (const [label, path] of cases)
		await time(label, async () => {
			const response = await fetch(dashboard.url + path);
			await response.arrayBuffer();
			if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
		});
	await dashboard.close();
	console.log('  on the container (no HTTP, no dashboard):');
	const list = (query: TaskQuery) => async () => void (await container.list(query));
	await time('counts() (the sampler, every sample)', async () => void (await container.counts()));
	await time('list limit 50, exact total', list({ limit: 50, order: 'desc' }));
	await time('list limit 50, exactTotal: false', list({ limit: 50, order: 'desc', exactTotal: false }));
	await time('latency read (waiting 1 + running 20)', async () => {
		await Promise.all([
			container.list({ status: 'waiting', order: 'asc', limit: 1, exactTotal: false }),
			container.list({ status: 'running', order: 'desc', limit: 20, exactTotal: false }),
		]);
	});
	await filled.close();
}

async function assetSizes(): Promise<void> {
	const container = new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true },
	});
	const dashboard = await startDashboard({ container, port: 0 });
	const names = [
		'',
		'assets/style.css',
		'assets/uplot.css',
		'assets/uplot.js',
		'assets/dagre.js',
		'assets/app.js',
		'assets/dom.js',
		'assets/overview.js',
		'assets/tasks.js',
		'assets/runs.js',
		'assets/graph.js',
	];
	let raw = 0;
	let gz = 0;
	console.log('\nWhat the page loads:');
	for (const name of names) {
		const body = Buffer.from(await (await fetch(dashboard.url + name)).arrayBuffer());
		const zipped = gzipSync(body).length;
		raw += body.length;
		gz += zipped;
		console.log(
			`  ${(name || 'index.html').padEnd(20)} ${String(body.length).padStart(7)} B  gzip ${String(zipped).padStart(6)} B`,
		);
	}
	console.log(`  ${'total'.padEnd(20)} ${String(raw).padStart(7)} B  gzip ${String(gz).padStart(6)} B`);
	await dashboard.close();
	await container.close();
}

console.log(`dashboard list API, ${TASKS} tasks, ${ROUNDS} rounds, Node ${process.version}; load ${load()}`);
if (BACKENDS.includes('sqlite')) await assetSizes();
if (BACKENDS.includes('sqlite')) {
	const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-dashboard-'));
	try {
		const sqlite = new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename: join(dir, 'tasks.db') }, useNullAsDefault: true },
		});
		await measure('SQLite', sqlite);
		await sqlite.close();
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
if (BACKENDS.includes('redis')) {
	const redis = await startRedis();
	try {
		const container = new RedisContainer({ redis: redis.url, name: 'bench', log: false });
		await measure('Redis', container);
		await container.close();
	} finally {
		await redis.close();
	}
}
console.log(`load after: ${load()}`);
