/**
 * Where a task's time goes on PostgreSQL: pg_stat_statements (planning tracked) over one drain of TASKS no-op tasks
 * (default 10,000) by one scheduler at CONCURRENCY (default 16), after an untimed first drain. Prints the rate, the
 * Node CPU per task, the statements' total calls, planning and execution time, and the 12 dearest statements.
 * GENERIC=1 runs the server with `plan_cache_mode = force_generic_plan`; NOTRIG=1 drops the change-log trigger;
 * DUMP=<file> writes the full text of the 3 dearest statements there; PROF=<file.cpuprofile> writes a CPU profile of
 * the measured drain alone (for bench/workflows-profile-summary.ts). Wall-clock figures swing with the load; the
 * planning and execution times per call much less.
 *
 *   node --import tsx --conditions=lightsched:source bench/sql-statements.ts
 */
import { Scheduler } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import pg from 'pg';
import { startPostgres } from '../test/support/postgres.js';

const post = (session: inspector.Session, method: string): Promise<unknown> =>
	new Promise((resolve, reject) =>
		session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
	);

const N = Number(process.env.TASKS ?? 10000);
const server = await startPostgres({
	settings: {
		shared_preload_libraries: 'pg_stat_statements',
		'pg_stat_statements.track_planning': 'on',
		'pg_stat_statements.track': 'all',
		...(process.env.GENERIC === '1' ? { plan_cache_mode: 'force_generic_plan' } : {}),
	},
});
try {
	const conn = await server.createDatabase('d');
	const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${server.port}/d` });
	await admin.connect();
	await admin.query('CREATE EXTENSION pg_stat_statements');
	for (const round of [0, 1]) {
		const container = new SqlContainer({ knex: { client: 'pg', connection: conn, pool: { min: 2, max: 10 } } });
		const now = Date.now();
		for (let i = 0; i < N; i += 1000)
			await container.add(
				Array.from({ length: 1000 }, (_, j) =>
					createTaskRecord({ item: i + j }, 'task', { maxAttempts: 1 }, now),
				),
			);
		if (process.env.NOTRIG === '1') {
			await admin.query('DROP TRIGGER IF EXISTS lightsched_changes_changed ON lightsched_tasks');
		}
		await admin.query('SELECT pg_stat_statements_reset()');
		let done = 0;
		let finish = (): void => undefined;
		const finished = new Promise<void>((r) => (finish = r));
		const s = new Scheduler({
			container,
			actuator: new FunctionActuator(async () => {}),
			concurrency: Number(process.env.CONCURRENCY ?? 16),
			autoStart: false,
		});
		s.on('task:succeeded', () => {
			if (++done === N) finish();
		});
		const profiler = process.env.PROF !== undefined && round === 1 ? new inspector.Session() : null;
		if (profiler !== null) {
			profiler.connect();
			await post(profiler, 'Profiler.enable');
			await post(profiler, 'Profiler.start');
		}
		const t0 = performance.now();
		const c0 = process.cpuUsage();
		s.resume();
		await finished;
		const ms = performance.now() - t0;
		const c = process.cpuUsage(c0);
		if (profiler !== null) {
			const { profile } = (await post(profiler, 'Profiler.stop')) as { profile: unknown };
			writeFileSync(process.env.PROF as string, JSON.stringify(profile));
			profiler.disconnect();
		}
		console.log(
			`round ${round}: ${Math.round((N / ms) * 1000)}/s, node cpu ${Math.round((c.user + c.system) / N)} µs/task`,
		);
		await s.close();
		if (round === 1) {
			const tot = await admin.query(
				`SELECT sum(calls) c, round(sum(total_plan_time)::numeric,1) p, round(sum(total_exec_time)::numeric,1) e FROM pg_stat_statements`,
			);
			console.log('total', tot.rows[0]);
			const { rows } = await admin.query(
				`SELECT calls, rows, round(total_plan_time::numeric,1) AS plan_ms, round(total_exec_time::numeric,1) AS exec_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS q FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT 12`,
			);
			for (const r of rows) console.log(r.calls, r.rows, r.plan_ms, r.exec_ms, r.q);
			if (process.env.DUMP) {
				const top = await admin.query(
					`SELECT query FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT 3`,
				);
				writeFileSync(process.env.DUMP, top.rows.map((r) => r.query).join('\n;;;;\n'));
			}
		}
		await admin.query(`DELETE FROM lightsched_tasks`);
	}
	await admin.end();
} finally {
	await server.stop();
}
