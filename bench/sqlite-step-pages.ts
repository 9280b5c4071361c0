/**
 * Where a workflow step's SQLite time goes, statement by statement and page by page (issue 13: a step's cost against
 * a plain task's), on better-sqlite3 from the build. One case per argument, each run twice (a warm-up, then the
 * measured one, on a new file each):
 * - `plain`: RUNS × 10 no-op plain tasks added 500 a call;
 * - `chain`: RUNS runs of a 10-step chain; `dag`: RUNS runs of the 1 → 8 → 1 fan-out/join (bench/workflows.ts's).
 * Printed per step (or plain task): this process's CPU, each statement's time (better-sqlite3's `run`/`all`/`get`
 * wrapped) and calls, commits, and, with `WAL=1`, the WAL pages each kind of transaction writes (named by its first
 * statement): the file's automatic checkpoints are turned off for the measured case so that the WAL only grows,
 * and its size is read after every commit. A commit writes each page its transaction changed once, whole, so pages
 * changed by two commits are written twice: what this counts is what a commit and the checkpoints after it cost.
 *
 *   npm run build && npx tsx bench/sqlite-step-pages.ts [runs, default 1000] [cases, default plain,chain,dag]
 *   (env: WAL=1 counts pages, TOP=n statements, default 8)
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { CHAIN as chain, FAN_OUT_JOIN as dag } from './workflow-shapes.js';

const RUNS = Number(process.argv[2] ?? 1000);
const CASES = (process.argv[3] ?? 'plain,chain,dag').split(',');
const COUNT_PAGES = process.env.WAL === '1';
const TOP = Number(process.env.TOP ?? 8);
const STEPS = RUNS * 10;

/** What this bench touches of a better-sqlite3 statement and its connection (no types for it here). */
interface Connection {
	readonly name: string;
	pragma(text: string): unknown;
	prepare(sql: string): object;
}
interface Statement {
	readonly source: string;
	readonly database: Connection;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (filename: string) => Connection;
const statementProto = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as Record<
	string,
	(...args: unknown[]) => unknown
>;

let measuring = false;
const statements = new Map<string, { calls: number; ns: bigint }>();
/** WAL pages by kind of transaction (its first statement), while `COUNT_PAGES`. */
const pages = new Map<string, { transactions: number; pages: number }>();
const connections = new Set<Connection>();
let first = '';
let walAtBegin = 0;
const walBytes = (db: Connection): number => {
	try {
		return statSync(`${db.name}-wal`).size;
	} catch {
		return 0;
	}
};
/** One WAL frame: a 24-byte header and a 4,096-byte page. */
const FRAME = 4096 + 24;

for (const method of ['run', 'all', 'get']) {
	const original = statementProto[method] as (...args: unknown[]) => unknown;
	statementProto[method] = function (this: Statement, ...args: unknown[]): unknown {
		if (!measuring) return original.apply(this, args);
		const sql = this.source.trim();
		const db = this.database;
		if (COUNT_PAGES && !connections.has(db)) {
			connections.add(db);
			db.pragma('wal_autocheckpoint = 0');
		}
		if (COUNT_PAGES && sql.startsWith('BEGIN')) {
			walAtBegin = walBytes(db);
			first = '';
		}
		const started = process.hrtime.bigint();
		const result = original.apply(this, args);
		const ns = process.hrtime.bigint() - started;
		const name = `${method} ${sql.replace(/\s+/g, ' ').slice(0, 90)}`;
		const entry = statements.get(name) ?? { calls: 0, ns: 0n };
		entry.calls++;
		entry.ns += ns;
		statements.set(name, entry);
		if (COUNT_PAGES && first === '' && !sql.startsWith('BEGIN')) first = name.slice(0, 60);
		if (COUNT_PAGES && sql.startsWith('COMMIT')) {
			const kind = pages.get(first) ?? { transactions: 0, pages: 0 };
			kind.transactions++;
			kind.pages += (walBytes(db) - walAtBegin) / FRAME;
			pages.set(first, kind);
			first = '';
		}
		return result;
	};
}

const dir = mkdtempSync(join(tmpdir(), 'lightsched-step-pages-'));
let files = 0;

/** Run one case on a new file; returns this process's CPU µs a step. */
async function runCase(kind: string, measure: boolean): Promise<number> {
	const filename = join(dir, `c${++files}.sqlite`);
	const container = new SqlContainer({
		knex: { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true },
	});
	const store = new SqlWorkflowStore({ container });
	const actions = workflowActions({ noop: () => null });
	const plain = kind === 'plain';
	const actuator = new FunctionActuator(plain ? () => null : actions);
	const scheduler = new Scheduler<unknown, unknown>({ container, actuator, concurrency: 32 });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps: kind === 'chain' ? chain : dag });
	let finished = 0;
	let resolve!: () => void;
	const done = new Promise<void>((r) => (resolve = r));
	if (plain) scheduler.on('task:succeeded', () => ++finished === STEPS && resolve());
	else flows.on('run:finished', () => ++finished === RUNS && resolve());
	measuring = measure;
	const cpu = process.cpuUsage();
	if (plain)
		for (let i = 0; i < STEPS; i += 500) await scheduler.add(Array.from({ length: 500 }, () => ({ item: null })));
	else
		for (let i = 0; i < RUNS; i += 100)
			await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('bench')));
	await done;
	const used = process.cpuUsage(cpu);
	measuring = false;
	connections.clear();
	await flows.close();
	await scheduler.close();
	await store.close();
	return (used.user + used.system) / STEPS;
}

const perStep = (ns: bigint | number): string => (Number(ns) / 1e3 / STEPS).toFixed(2);
try {
	for (const kind of CASES) {
		if (!['plain', 'chain', 'dag'].includes(kind)) throw new Error(`Unknown case ${kind} (plain, chain, dag)`);
		statements.clear();
		pages.clear();
		await runCase(kind, false);
		const cpu = await runCase(kind, true);
		let total = 0n;
		let commits = 0;
		for (const [name, entry] of statements) {
			total += entry.ns;
			if (name.startsWith('run COMMIT')) commits += entry.calls;
		}
		console.log(
			`\n${kind}: CPU ${cpu.toFixed(1)} µs a step; statements ${perStep(total)} µs a step; ${(commits / STEPS).toFixed(3)} commits a step`,
		);
		console.log('| µs a step | calls a step | µs a call | statement |\n|---:|---:|---:|---|');
		for (const [name, entry] of [...statements].sort((a, b) => Number(b[1].ns - a[1].ns)).slice(0, TOP))
			console.log(
				`| ${perStep(entry.ns)} | ${(entry.calls / STEPS).toFixed(3)} | ${(Number(entry.ns) / 1e3 / entry.calls).toFixed(0)} | \`${name}\` |`,
			);
		if (COUNT_PAGES) {
			let all = 0;
			console.log(
				'\n| WAL pages a step | transactions | pages a transaction | transaction (first statement) |\n|---:|---:|---:|---|',
			);
			for (const [name, kindOf] of [...pages].sort((a, b) => b[1].pages - a[1].pages)) {
				all += kindOf.pages;
				console.log(
					`| ${(kindOf.pages / STEPS).toFixed(2)} | ${kindOf.transactions} | ${(kindOf.pages / kindOf.transactions).toFixed(1)} | \`${name}\` |`,
				);
			}
			console.log(
				`WAL pages a step in transactions: ${(all / STEPS).toFixed(2)} (statements outside one not counted)`,
			);
		}
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
}
