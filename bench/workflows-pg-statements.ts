/**
 * Where a workflow step's time goes on PostgreSQL (issue 13): pg_stat_statements over RUNS runs (default 200) of a
 * 10-step chain (SHAPE=dag: the 1 -> 8 -> 1 fan-out/join) against RUNS x 10 plain tasks, each after an untimed
 * warm-up, on one SqlContainer + SqlWorkflowStore sharing its connection. Prints per case the rate, this process's
 * CPU per step, the statements' calls per step and their server time per step (top-level statements: a statement
 * function's call includes the statements it runs), the server's CPU per step (the postmaster and its backends, from
 * /proc: the statements' time without waiting for a processor), and the dearest statements (with those inside
 * functions).
 *
 * PROF=<file.cpuprofile> writes a CPU profile of the measured workflow runs alone (bench/workflows-profile-summary.ts).
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-pg-statements.ts [runs]
 */
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type StepDefinition } from 'lightsched/workflows';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startPostgres } from '../test/support/postgres.js';
import { startProfile } from './cpu-profile.js';
import { serverTicks, TICKS_PER_SECOND } from './process-ticks.js';

const RUNS = Number(process.argv[2] ?? 200);
const CONCURRENCY = 32;
const steps: StepDefinition[] =
	process.env.SHAPE === 'dag'
		? [
				{ id: 'root', action: 'noop' },
				...Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, action: 'noop', dependsOn: ['root'] })),
				{ id: 'join', action: 'noop', dependsOn: Array.from({ length: 8 }, (_, i) => `b${i}`) },
			]
		: Array.from({ length: 10 }, (_, i) => ({
				id: `s${i}`,
				action: 'noop',
				...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
			}));

const server = await startPostgres({
	settings: {
		shared_preload_libraries: 'pg_stat_statements',
		'pg_stat_statements.track_planning': 'on',
		'pg_stat_statements.track': 'all',
	},
});
let db = 0;
const admin = async (): Promise<pg.Client> => {
	const conn = await server.createDatabase(`s${++db}`);
	const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${server.port}/s${db}` });
	await client.connect();
	await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
	(client as unknown as { conn: unknown }).conn = conn;
	return client;
};

async function plain(conn: unknown, n: number): Promise<number> {
	const container = new SqlContainer({
		knex: { client: 'pg', connection: conn as string, pool: { min: 0, max: 8 } },
	});
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(() => null),
		concurrency: CONCURRENCY,
	});
	const t0 = performance.now();
	let done = 0;
	const finished = new Promise<void>((resolve) => scheduler.on('task:succeeded', () => ++done === n && resolve()));
	for (let i = 0; i < n; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, n - i) }, () => ({ item: null })));
	await finished;
	const ms = performance.now() - t0;
	await scheduler.close();
	return ms;
}

async function runs(conn: unknown, n: number): Promise<number> {
	const container = new SqlContainer({
		knex: { client: 'pg', connection: conn as string, pool: { min: 0, max: 8 } },
	});
	const store = new SqlWorkflowStore({ container });
	const actions = workflowActions({ noop: () => null });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: CONCURRENCY });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps });
	const t0 = performance.now();
	const ids: string[] = [];
	for (let i = 0; i < n; i += 100)
		ids.push(
			...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => flows.start('bench')))).map(
				(r) => r.id,
			),
		);
	for (const id of ids) await flows.wait(id);
	const ms = performance.now() - t0;
	await flows.close();
	await scheduler.close();
	await store.close();
	return ms;
}

/** The postmaster: the parent of any backend. */
const postmaster = await (async (): Promise<number> => {
	const client = new pg.Client({ connectionString: server.url });
	await client.connect();
	const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
	// Read while the backend lives.
	const stat = readFileSync(`/proc/${String(rows[0].pid)}/stat`, 'utf8');
	await client.end();
	return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
})();

try {
	for (const [name, run] of [
		['plain', plain],
		['workflow', runs],
	] as const) {
		const client = await admin();
		const conn = (client as unknown as { conn: unknown }).conn;
		await run(conn, name === 'plain' ? 500 : 50);
		await client.query('SELECT pg_stat_statements_reset()');
		const stopProfile =
			process.env.PROF !== undefined && name === 'workflow' ? await startProfile(process.env.PROF) : null;
		const s0 = serverTicks(postmaster);
		const c0 = process.cpuUsage();
		const ms = await run(conn, name === 'plain' ? RUNS * 10 : RUNS);
		const c = process.cpuUsage(c0);
		const serverCpu = ((serverTicks(postmaster) - s0) * (1e6 / TICKS_PER_SECOND)) / (RUNS * 10);
		await stopProfile?.();
		const n = RUNS * 10;
		const { rows: total } = await client.query(
			`SELECT sum(calls)::int c, sum(total_plan_time + total_exec_time) t FROM pg_stat_statements WHERE toplevel AND query NOT LIKE '%pg_stat_statements%'`,
		);
		console.log(
			`${name}: ${Math.round((n / ms) * 1000)}/s, node cpu ${Math.round((c.user + c.system) / n)} µs a step (sys ${Math.round(c.system / n)}), ` +
				`statements ${(Number(total[0].c) / n).toFixed(2)} a step, server ${((Number(total[0].t) * 1000) / n).toFixed(0)} µs a step ` +
				`(statements' time), server cpu ${Math.round(serverCpu)} µs a step`,
		);
		const { rows } = await client.query(
			`SELECT sum(calls)::int AS calls, sum(rows)::int AS rows, round(sum(total_plan_time)::numeric, 1) AS plan, round(sum(total_exec_time)::numeric, 1) AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' GROUP BY 5 ORDER BY 4 DESC LIMIT 14`,
		);
		for (const r of rows) console.log(`  ${r.calls}\t${r.rows}\tplan ${r.plan} exec ${r.ms} ms\t${r.q}`);
		const { rows: tables } = await client.query(
			`SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname LIKE 'lightsched_%' AND n_tup_upd + n_tup_ins > 0`,
		);
		for (const t of tables)
			console.log(
				`  table ${t.relname}: inserts ${t.n_tup_ins}, updates ${t.n_tup_upd}, of which HOT ${t.n_tup_hot_upd}`,
			);
		await client.end();
	}
} finally {
	await server.stop();
}
