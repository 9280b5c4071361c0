/**
 * The dashboard's list API over a big container: TASKS tasks (default 1,000,000, all waiting: added in batches of
 * 10,000) in SQLite (a temp file) and Redis (a redis-server started here), then the time of `GET api/tasks` for the
 * first page newest first, the first page oldest first, a page at offset TASKS/2, a status filter that matches
 * nothing (`failed`), a search by id, and `GET api/stats`: the median of ROUNDS (default 7) calls each, as the
 * page makes them (over HTTP on loopback). Also the size of what the page loads (each asset, and gzip sizes).
 * Measures only; asserts nothing.
 *
 *   npx tsx --conditions=lightsched:source bench/dashboard.ts          (TASKS=100000 ROUNDS=5 for a quick run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startDashboard } from 'lightsched/dashboard';
import { startRedis } from '../test/support/redis.js';

const TASKS = Number(process.env.TASKS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const BATCH = 10_000;

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Add the tasks; the scheduler stays open (closing it would close the container) until the measures are done. */
async function fillContainer(container: TaskContainer): Promise<{ seconds: number; close: () => Promise<void> }> {
	const scheduler = new Scheduler({ container, autoStart: false, actuator: new FunctionActuator(() => 0) });
	const started = performance.now();
	for (let i = 0; i < TASKS; i += BATCH) {
		const n = Math.min(BATCH, TASKS - i);
		await scheduler.add(
			Array.from({ length: n }, (_, j) => ({ id: `t-${i + j}`, item: { n: i + j, name: 'a task' } })),
		);
		if ((i / BATCH) % 10 === 0) process.stderr.write(`\r  added ${i + n}`);
	}
	process.stderr.write('\n');
	const seconds = (performance.now() - started) / 1000;
	return { seconds, close: () => scheduler.close() };
}

async function measure(name: string, container: TaskContainer): Promise<void> {
	console.log(`\n${name}: adding ${TASKS} tasks…`);
	const filled = await fillContainer(container);
	console.log(`  added in ${filled.seconds.toFixed(1)} s`);
	const dashboard = await startDashboard({ container, port: 0 });
	const cases: [string, string][] = [
		['first page, newest first (limit 50)', 'api/tasks?limit=50&order=desc'],
		['first page, oldest first (limit 50)', 'api/tasks?limit=50&order=asc'],
		[`page at offset ${TASKS / 2}`, `api/tasks?limit=50&offset=${TASKS / 2}`],
		['status filter waiting (limit 50)', 'api/tasks?limit=50&status=waiting'],
		['status filter failed (none match)', 'api/tasks?limit=50&status=failed'],
		['search by id', `api/tasks?q=t-${TASKS - 7}`],
		['stats (counts, latency, pause flag)', 'api/stats'],
	];
	for (const [label, path] of cases) {
		const times: number[] = [];
		for (let round = 0; round < ROUNDS; round++) {
			const started = performance.now();
			const response = await fetch(dashboard.url + path);
			await response.arrayBuffer();
			if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
			times.push(performance.now() - started);
		}
		console.log(
			`  ${label.padEnd(40)} median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`,
		);
	}
	await dashboard.close();
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

console.log(
	`dashboard list API, ${TASKS} tasks, ${ROUNDS} rounds; load ${loadavg()
		.map((l) => l.toFixed(1))
		.join(' ')}`,
);
await assetSizes();
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
const redis = await startRedis();
try {
	const container = new RedisContainer({ redis: redis.url, name: 'bench', log: false });
	await measure('Redis', container);
	await container.close();
} finally {
	await redis.close();
}
console.log(
	`load after: ${loadavg()
		.map((l) => l.toFixed(1))
		.join(' ')}`,
);
