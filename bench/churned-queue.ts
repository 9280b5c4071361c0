/**
 * A busy PostgreSQL queue table (issue 15 item 6): does the claim's cost grow with the tasks that went THROUGH the
 * queue before (not with tasks stored finished, as bench/backlog.ts seeds them)?
 *
 * Per run: a fresh database, one SqlContainer and one scheduler (concurrency CONCURRENCY, no-op tasks). CHURNED tasks
 * (default 100,000) are first run through the queue (added 1,000 per `add`, drained 10,000 at a time), then TASKS
 * (default 10,000) are added and timed from `resume()` until all have succeeded. Printed per run:
 * - tasks/s (wall clock: swings with the machine's load), Node CPU µs per task and the PostgreSQL server's CPU µs per
 *   task (the postmaster and all its processes, from /proc: backends, autovacuum, the container's own VACUUMs);
 * - from pg_stat_statements over the timed drain: the statements that claim (their text has `SKIP LOCKED`) with
 *   their calls, shared buffers per call and execution ms per call, and the shared buffers of all statements per
 *   task (buffers do not depend on the load);
 * - the claim index's size and the table's dead rows and (auto)vacuum counts before the timed drain, and an
 *   `EXPLAIN (ANALYZE, BUFFERS)` of the claim's pick (in a transaction rolled back) at that point.
 * STORED=<n> first stores n finished tasks (one `INSERT … SELECT generate_series`, then ANALYZE, as bench/backlog.ts
 * seeds them): a large table, whose every VACUUM reads bigger indexes. At the end of a run, one more VACUUM as the
 * container runs it, timed (`vacuum ms`: what each of the container's own VACUUMs costs on that table).
 * VACUUM=1 runs `VACUUM` on the table after the churn (the probe's "after a vacuum"). RUNS=<n> repeats the run
 * (a fresh database each time). SETTINGS='{"autovacuum_naptime":"10s"}' passes server settings. AB=1 alternates runs
 * without and with the container's own VACUUM (containers/sql/auto-vacuum.ts, patched out in this process for the
 * "off" runs), starting with "off": pairs of the same code but for that, under the same load.
 * TOP=1 also prints the 8 statements with the most execution time in the timed drain.
 * The last line is `RESULT {json}`.
 *
 *   npx tsx --conditions=lightsched:source bench/churned-queue.ts
 *     (CHURNED=100000 TASKS=10000 CONCURRENCY=16 RUNS=1 VACUUM=0 EXPLAIN=1)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Scheduler } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres } from '../test/support/postgres.js';
import { serverTicks, TICKS_PER_SECOND } from './process-ticks.js';

const CHURNED = Number(process.env.CHURNED ?? 100_000);
const TASKS = Number(process.env.TASKS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const RUNS = Number(process.env.RUNS ?? 1);
const VACUUM = process.env.VACUUM === '1';
const EXPLAIN = process.env.EXPLAIN !== '0';
const AB = process.env.AB === '1';
const STORED = Number(process.env.STORED ?? 0);
const SETTINGS = JSON.parse(process.env.SETTINGS ?? '{}') as Record<string, string>;
const TABLE = 'lightsched_tasks';

const load = (): string =>
	loadavg()
		.map((x) => x.toFixed(2))
		.join(' ');

const server = await startPostgres({
	settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', ...SETTINGS },
});

const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const TICK_US = 1_000_000 / TICKS_PER_SECOND;

interface TableState {
	readonly claimIndexPages: number;
	readonly deadRows: number;
	readonly liveRows: number;
	readonly autovacuums: number;
	readonly vacuums: number;
}

async function tableState(admin: pg.Client): Promise<TableState> {
	const { rows } = await admin.query(
		`SELECT pg_relation_size('${TABLE}_claim') / current_setting('block_size')::int AS pages,
			n_dead_tup, n_live_tup, autovacuum_count, vacuum_count FROM pg_stat_user_tables WHERE relname = '${TABLE}'`,
	);
	const r = rows[0] as Record<string, string>;
	return {
		claimIndexPages: Number(r['pages']),
		deadRows: Number(r['n_dead_tup']),
		liveRows: Number(r['n_live_tup']),
		autovacuums: Number(r['autovacuum_count']),
		vacuums: Number(r['vacuum_count']),
	};
}

/** EXPLAIN (ANALYZE, BUFFERS) of the claim's pick of 16, in a transaction rolled back: its buffers and plan. */
async function explainPick(admin: pg.Client): Promise<{ buffers: number; ms: number; plan: string }> {
	await admin.query('BEGIN');
	try {
		const { rows } = await admin.query(
			`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT seq FROM ${TABLE} WHERE status = 'waiting' AND delayed = 0
			AND run_at <= (FLOOR(EXTRACT(EPOCH FROM now()) * 1000))::bigint
			AND NOT EXISTS (SELECT 1 FROM lightsched_settings WHERE name = 'paused')
			ORDER BY priority DESC, seq LIMIT 16 FOR UPDATE SKIP LOCKED`,
		);
		const top = (rows[0] as { 'QUERY PLAN': Record<string, unknown>[] })['QUERY PLAN'][0] as Record<
			string,
			unknown
		>;
		const plan = top['Plan'] as Record<string, unknown>;
		const nodes: string[] = [];
		const walk = (node: Record<string, unknown>, depth: number): void => {
			nodes.push(
				`${'  '.repeat(depth)}${String(node['Node Type'])}${node['Index Name'] ? ` on ${String(node['Index Name'])}` : ''} rows ${String(node['Actual Rows'])} buffers ${Number(node['Shared Hit Blocks']) + Number(node['Shared Read Blocks'])}`,
			);
			for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child, depth + 1);
		};
		walk(plan, 0);
		return {
			buffers: Number(plan['Shared Hit Blocks']) + Number(plan['Shared Read Blocks']),
			ms: Number(top['Execution Time']),
			plan: nodes.join('\n'),
		};
	} finally {
		await admin.query('ROLLBACK');
	}
}

interface RunResult {
	readonly ownVacuum: boolean;
	readonly rate: number;
	readonly cpuUsPerTask: number;
	readonly serverCpuUsPerTask: number;
	readonly claimCalls: number;
	readonly claimBuffersPerCall: number;
	readonly claimMsPerCall: number;
	/** The claim statements alone (not the transition statements a claim ahead rides in). */
	readonly claimAloneBuffersPerCall: number;
	readonly buffersPerTask: number;
	/** The container's own VACUUMs during the timed drain: how many, their ms and buffers in all. */
	readonly ownVacuums: { calls: number; ms: number; buffers: number };
	readonly before: TableState;
	readonly pick: { buffers: number; ms: number } | null;
	readonly after: TableState;
	/** One VACUUM as the container runs it, at the end. */
	readonly vacuumMs: number;
	readonly load: string;
}

async function run(index: number, own: boolean): Promise<RunResult> {
	const connection = await server.createDatabase(`churned_${index}`);
	const admin = new pg.Client(connection);
	await admin.connect();
	await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
	const container = new SqlContainer({ knex: { client: 'pg', connection, pool: { min: 2, max: 10 } }, vacuum: own });
	let done = 0;
	let target = 0;
	let reached: () => void = () => undefined;
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(async () => undefined),
		concurrency: CONCURRENCY,
		autoStart: false,
	});
	scheduler.on('task:succeeded', () => {
		if (++done === target) reached();
	});
	scheduler.on('error', (error) => console.error('scheduler error:', error.message));
	const add = async (n: number): Promise<void> => {
		const now = Date.now();
		for (let i = 0; i < n; i += 1_000)
			await container.add(
				Array.from({ length: Math.min(1_000, n - i) }, (_, j) =>
					createTaskRecord({ item: i + j }, 'task', { maxAttempts: 1 }, now),
				),
			);
	};
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
		if (STORED > 0) {
			await container.migrate();
			const now = Date.now();
			await admin.query(
				`INSERT INTO ${TABLE} (id, status, priority, attempts, max_attempts, created_at, updated_at, started_at, finished_at, run_at, item, delayed)
				SELECT 'stored-' || g, 'succeeded', 0, 1, 1, ${now}, ${now}, ${now}, ${now}, 0, '0', 0 FROM generate_series(1, ${STORED}) AS g`,
			);
			await admin.query(`VACUUM ANALYZE ${TABLE}`);
		}
		for (let i = 0; i < CHURNED; i += 10_000) {
			const n = Math.min(10_000, CHURNED - i);
			await add(n);
			await drain(n);
		}
		if (VACUUM) await admin.query(`VACUUM ${TABLE}`);
		await add(TASKS);
		const before = await tableState(admin);
		const pick = EXPLAIN ? await explainPick(admin) : null;
		if (pick !== null) console.log(`  pick before the timed drain:\n${pick.plan.replace(/^/gm, '    ')}`);
		await admin.query('SELECT pg_stat_statements_reset()');
		const cpu = process.cpuUsage();
		const server0 = serverTicks(postmaster);
		const ms = await drain(TASKS);
		const used = process.cpuUsage(cpu);
		const serverUsed = serverTicks(postmaster) - server0;
		const { rows } = await admin.query(
			`SELECT sum(calls) FILTER (WHERE query LIKE '%SKIP LOCKED%') AS claim_calls,
				sum(shared_blks_hit + shared_blks_read) FILTER (WHERE query LIKE '%SKIP LOCKED%') AS claim_buffers,
				sum(total_exec_time) FILTER (WHERE query LIKE '%SKIP LOCKED%') AS claim_ms,
				sum(calls) FILTER (WHERE query LIKE '%SKIP LOCKED%' AND query NOT LIKE 'WITH v %') AS alone_calls,
				sum(shared_blks_hit + shared_blks_read) FILTER (WHERE query LIKE '%SKIP LOCKED%' AND query NOT LIKE 'WITH v %') AS alone_buffers,
				sum(calls) FILTER (WHERE query LIKE 'VACUUM%') AS vacuum_calls,
				sum(total_exec_time) FILTER (WHERE query LIKE 'VACUUM%') AS vacuum_ms,
				sum(shared_blks_hit + shared_blks_read) FILTER (WHERE query LIKE 'VACUUM%') AS vacuum_buffers,
				sum(shared_blks_hit + shared_blks_read) FILTER (WHERE query NOT LIKE '%pg_stat_statements%') AS buffers
			FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		);
		const r = rows[0] as Record<string, string | null>;
		if (process.env.TOP === '1') {
			const top = await admin.query(
				`SELECT calls, rows, round((total_exec_time / calls)::numeric, 3) AS ms, round((shared_blks_hit + shared_blks_read)::numeric / calls, 1) AS buffers,
					left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS q FROM pg_stat_statements
				WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 8`,
			);
			for (const t of top.rows as Record<string, unknown>[])
				console.log(
					`    ${String(t['calls'])} calls, ${String(t['rows'])} rows, ${String(t['ms'])} ms, ${String(t['buffers'])} buffers per call: ${String(t['q'])}`,
				);
		}
		const calls = Number(r['claim_calls'] ?? 0);
		// The statistics of the last statements reach pg_stat_user_tables within a second.
		await new Promise((resolve) => setTimeout(resolve, 1_100));
		const after = await tableState(admin);
		// A VACUUM of the container's may still run: let it end, then time one.
		while (Number((await admin.query('SELECT count(*) AS n FROM pg_stat_progress_vacuum')).rows[0]?.n) > 0)
			await new Promise((resolve) => setTimeout(resolve, 20));
		const vacuumStarted = performance.now();
		await admin.query(`VACUUM (INDEX_CLEANUP TRUE, TRUNCATE FALSE) ${TABLE}`);
		const vacuumMs = performance.now() - vacuumStarted;
		return {
			ownVacuum: own,
			rate: (TASKS / ms) * 1000,
			cpuUsPerTask: (used.user + used.system) / TASKS,
			serverCpuUsPerTask: (serverUsed * TICK_US) / TASKS,
			claimCalls: calls,
			claimBuffersPerCall: Number(r['claim_buffers'] ?? 0) / calls,
			claimMsPerCall: Number(r['claim_ms'] ?? 0) / calls,
			claimAloneBuffersPerCall: Number(r['alone_buffers'] ?? 0) / Number(r['alone_calls'] ?? 1),
			buffersPerTask: Number(r['buffers'] ?? 0) / TASKS,
			ownVacuums: {
				calls: Number(r['vacuum_calls'] ?? 0),
				ms: Number(r['vacuum_ms'] ?? 0),
				buffers: Number(r['vacuum_buffers'] ?? 0),
			},
			before,
			pick: pick === null ? null : { buffers: pick.buffers, ms: pick.ms },
			after,
			vacuumMs,
			load: load(),
		};
	} finally {
		await scheduler.close();
		await admin.end();
	}
}

const fmt = (x: number, digits = 0): string =>
	x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
	console.log(
		`${new Date().toISOString()}  ${STORED > 0 ? `${fmt(STORED)} finished tasks stored, ` : ''}${fmt(CHURNED)} tasks run through the queue first, then ${fmt(TASKS)} timed at concurrency ${CONCURRENCY}${VACUUM ? ', VACUUM after the churn' : ''}; load ${load()}`,
	);
	const results: RunResult[] = [];
	for (let i = 0; i < RUNS; i++) {
		const r = await run(i, !AB || i % 2 === 1);
		results.push(r);
		console.log(
			`  run ${i + 1} (own VACUUM ${r.ownVacuum ? 'on' : 'off'}): ${fmt(r.rate)} tasks/s, CPU µs/task Node ${fmt(r.cpuUsPerTask)}, PostgreSQL ${fmt(r.serverCpuUsPerTask)}; statements with a claim ${fmt(r.claimCalls)}, ${fmt(r.claimBuffersPerCall, 1)} buffers and ${fmt(r.claimMsPerCall, 2)} ms per call (claims alone ${fmt(r.claimAloneBuffersPerCall, 1)} buffers per call); all statements ${fmt(r.buffersPerTask, 1)} buffers per task, of which the container's ${r.ownVacuums.calls} VACUUMs ${fmt(r.ownVacuums.buffers / TASKS, 1)} (${fmt(r.ownVacuums.ms)} ms in all)` +
				`\n         before: claim index ${fmt(r.before.claimIndexPages)} pages, ${fmt(r.before.deadRows)} dead rows (${fmt(r.before.liveRows)} live), autovacuums ${r.before.autovacuums}, vacuums ${r.before.vacuums}` +
				(r.pick === null ? '' : `; pick of 16: ${fmt(r.pick.buffers)} buffers, ${fmt(r.pick.ms, 2)} ms`) +
				`\n         after: claim index ${fmt(r.after.claimIndexPages)} pages, ${fmt(r.after.deadRows)} dead rows, autovacuums ${r.after.autovacuums}, vacuums ${r.after.vacuums}; one more VACUUM ${fmt(r.vacuumMs)} ms; load ${r.load}`,
		);
	}
	console.log(
		`RESULT ${JSON.stringify({ bench: 'churned-queue', churned: CHURNED, stored: STORED, tasks: TASKS, concurrency: CONCURRENCY, vacuum: VACUUM, settings: SETTINGS, results })}`,
	);
}

try {
	await main();
} finally {
	await server.stop();
}
