/**
 * The batched run write of `SqlWorkflowStore` alone (containers/sql/run-writes.ts), on PostgreSQL (KIND=sqlite:
 * SQLite): ROUNDS rounds, each BATCH compare-and-set writes of 10-step chain runs (bodies of about 2.3 KB, as the
 * workflow bench's) submitted at once, so that they go in one statement. Variants run in turn, round by round, each
 * on a table of its own: `this` (this tree's RunWriteBatcher) and, given BASE=<another tree's run-writes.ts>, `base`;
 * FILLFACTOR=<n> adds `this` on a table with that fillfactor, RELOPTS=<storage parameters> (e.g. `toast_tuple_target =
 * 8160`) on a table with those (NOTHIS=1 leaves the plain `this` out). Prints per
 * variant the median ms a round, this process's CPU µs a write, and (PostgreSQL) the statements' server time a write
 * from pg_stat_statements (which, on PostgreSQL 18, counts statements that differ only in their table as one:
 * variants with the same statement text share that figure; compare them by ms and CPU, or run one a process).
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-run-writes.ts [batch] [rounds]
 */
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { RunWriteValues } from '../containers/sql/run-update.js';
import { RunWriteBatcher } from '../containers/sql/run-writes.js';
import { directPg } from '../containers/sql/direct-pg.js';
import { SqlWorkflowStore } from '../containers/sql/workflow-store.js';
import { startPostgres } from '../test/support/postgres.js';
import { median } from './stats.js';

const BATCH = Number(process.argv[2] ?? 60);
const ROUNDS = Number(process.argv[3] ?? 40);
const pgKind = process.env.KIND !== 'sqlite';

const step = (i: number) => ({
	status: i < 3 ? 'succeeded' : i === 3 ? 'running' : 'waiting',
	generation: 1,
	attempts: i <= 3 ? 1 : 0,
	output: null,
	error: null,
	checkpoint: null,
	trace: [],
	startedAt: i <= 3 ? 1796501687449 + i : null,
	finishedAt: i < 3 ? 1796501687460 + i : null,
	continued: false,
	handBack: false,
});
const body = (id: string, rev: number): string =>
	JSON.stringify({
		id,
		definition: 'bench',
		version: 1,
		vars: {},
		key: null,
		uniqueKey: false,
		status: 'running',
		shared: {},
		steps: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`s${i}`, step(i)])),
		createdAt: 1796501687447,
		updatedAt: 1796501687447 + rev,
		finishedAt: null,
		deadlineAt: null,
		error: null,
		open: true,
		notified: null,
		rev,
	});
const values = (id: string, rev: number): RunWriteValues => ({
	definition: 'bench',
	version: 1,
	run_key: null,
	active_key: null,
	status: 'running',
	open: true,
	updated_at: 1796501687447 + rev,
	rev,
	body: body(id, rev),
});

interface Batcher {
	submit(id: string, rev: number, values: RunWriteValues): Promise<unknown>;
}
type BatcherClass = new (options: {
	dialect: 'pg' | 'sqlite';
	table: string;
	knex: Knex;
	insert: null;
	direct?: unknown;
}) => Batcher;

const server = pgKind
	? await startPostgres({
			settings: {
				shared_preload_libraries: 'pg_stat_statements',
				'pg_stat_statements.track': 'all',
				'pg_stat_statements.track_planning': 'on',
			},
		})
	: null;
try {
	const knex = knexFactory(
		server !== null
			? { client: 'pg', connection: await server.createDatabase('w'), pool: { min: 1, max: 4 } }
			: {
					client: 'sqlite3',
					connection: { filename: `/tmp/wf-run-writes-${process.pid}.sqlite` },
					useNullAsDefault: true,
				},
	);
	if (server !== null) await knex.raw('CREATE EXTENSION pg_stat_statements');
	const variants: { name: string; table: string; batcher: Batcher }[] = [];
	const add = async (name: string, prefix: string, Batcher: BatcherClass, relopts?: string): Promise<void> => {
		const store = new SqlWorkflowStore({ knex, tablePrefix: prefix });
		await store.migrate();
		const table = `${prefix}wf_runs`;
		if (relopts !== undefined) await knex.raw(`ALTER TABLE ${table} SET (${relopts})`);
		const rows = Array.from({ length: BATCH }, (_, i) => ({
			id: `run-${i}`,
			created_at: i,
			...values(`run-${i}`, 1),
		}));
		await knex(table).insert(rows);
		const dialect = server !== null ? 'pg' : 'sqlite';
		variants.push({
			name,
			table,
			batcher: new Batcher({
				dialect,
				table,
				knex,
				insert: null,
				direct: server !== null ? directPg(knex) : null,
			}),
		});
	};
	if (process.env.NOTHIS !== '1') await add('this', 'a_', RunWriteBatcher as unknown as BatcherClass);
	if (process.env.BASE !== undefined) {
		const base = (await import(process.env.BASE)) as { RunWriteBatcher: BatcherClass };
		await add('base', 'b_', base.RunWriteBatcher);
	}
	if (process.env.FILLFACTOR !== undefined)
		await add(
			`this, fillfactor ${process.env.FILLFACTOR}`,
			'c_',
			RunWriteBatcher as unknown as BatcherClass,
			`fillfactor = ${Number(process.env.FILLFACTOR)}`,
		);
	if (process.env.RELOPTS !== undefined)
		await add(
			`this, ${process.env.RELOPTS}`,
			'd_',
			RunWriteBatcher as unknown as BatcherClass,
			process.env.RELOPTS,
		);
	const ms = new Map<string, number[]>();
	const cpu = new Map<string, number>();
	let rev = 1;
	if (server !== null) await knex.raw('SELECT pg_stat_statements_reset()');
	for (let round = 0; round < ROUNDS; round++) {
		for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
			const c0 = process.cpuUsage();
			const t0 = performance.now();
			const written = await Promise.all(
				Array.from({ length: BATCH }, (_, i) => v.batcher.submit(`run-${i}`, rev, values(`run-${i}`, rev + 1))),
			);
			const t = performance.now() - t0;
			const c = process.cpuUsage(c0);
			if (written.some((w) => w === null)) throw new Error(`${v.name}: a write was refused`);
			(ms.get(v.name) ?? ms.set(v.name, []).get(v.name))?.push(t);
			cpu.set(v.name, (cpu.get(v.name) ?? 0) + c.user + c.system);
		}
		rev++;
	}
	for (const v of variants) {
		let server_ = '';
		if (server !== null) {
			const { rows } = (await knex.raw(
				`SELECT sum(calls)::int AS calls, sum(total_plan_time) AS plan, sum(total_exec_time) AS exec FROM pg_stat_statements WHERE strpos(query, ?) > 0 AND query ILIKE 'WITH%'`,
				[` ${v.table} `],
			)) as { rows: { calls: number; plan: number; exec: number }[] };
			const per = (x: number | undefined): string => (((x ?? 0) * 1000) / (ROUNDS * BATCH)).toFixed(1);
			server_ = `, batched statements' server time ${per(rows[0]?.plan)} planning + ${per(rows[0]?.exec)} executing µs a write (${rows[0]?.calls} statements)`;
			// How the bodies are stored: their size on disk, how many compressed (pglz/lz4 past the TOAST threshold).
			const { rows: stored } = (await knex.raw(
				`SELECT round(avg(pg_column_size(body))) AS size, count(pg_column_compression(body))::int AS compressed, pg_total_relation_size(?) AS total FROM ${v.table}`,
				[v.table],
			)) as { rows: { size: string; compressed: number; total: string }[] };
			server_ += `; body ${stored[0]?.size} B stored, ${stored[0]?.compressed} of ${BATCH} compressed, table ${Math.round(Number(stored[0]?.total) / 1024)} KiB`;
		}
		console.log(
			`${v.name}: ${median(ms.get(v.name) ?? []).toFixed(2)} ms a round of ${BATCH}, cpu ${((cpu.get(v.name) ?? 0) / (ROUNDS * BATCH)).toFixed(1)} µs a write${server_}`,
		);
	}
	await knex.destroy();
} finally {
	await server?.stop();
}
