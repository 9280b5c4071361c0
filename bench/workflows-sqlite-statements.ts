/**
 * Statements a workflow step costs on SQLite (issue 13): counts every statement the SqlContainer and the
 * SqlWorkflowStore sharing its connection send (knex's `query` event, which the container's direct runners emit
 * too) over RUNS runs (default 200) of a 10-step chain (SHAPE=dag: the 1 -> 8 -> 1 fan-out/join) and over RUNS x
 * 10 plain tasks, each after an untimed warm-up; prints the rate, this process's CPU per step and the statements per
 * step by their first words. DRIVER=better-sqlite3 for that driver (default sqlite3). PROF=<file.cpuprofile> writes a
 * CPU profile of the measured workflow runs alone, PROF_PLAIN=<file.cpuprofile> one of the measured plain tasks
 * (bench/workflows-profile-summary.ts reads them). Also prints this process's CPU a step by thread (Linux: the main
 * thread, libuv's pool, where the `sqlite3` driver runs SQLite, and the rest: V8's helpers) and, with SQL_PROFILE=1,
 * SQLite's own time a step by statement (the driver's `profile` event: the time inside SQLite of each statement,
 * which itself costs the main thread a callback per statement, so measure rates without it). BIND_TIME=1: the main
 * thread's time inside the driver's `Statement.all` calls by statement (binding the values, handing the work to the
 * pool, and being put off the CPU when the pool thread it wakes takes it), THREADS=1 each thread's CPU.
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-sqlite-statements.ts [runs]
 */
import { pbkdf2 } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from 'lightsched';
import sqlite3 from 'sqlite3';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type StepDefinition } from 'lightsched/workflows';
import { startProfile } from './cpu-profile.js';

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
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-sqlite-'));
let file = 0;
const counts = new Map<string, number>();
/** Milliseconds between each statement's `query` and `query-response` events, by the same key. */
const busy = new Map<string, number>();
const started = new Map<unknown, { key: string; at: number }>();
let counting = false;
/** SQLite's own milliseconds by statement key (SQL_PROFILE=1). */
const inside = new Map<string, number>();
const keyOf = (sql: string): string => sql.replace(/\s+/g, ' ').slice(0, 60);

/**
 * BIND_TIME=1: the main thread's time inside the driver's `Statement.all` call itself (binding the values and handing
 * the statement to libuv's pool), by statement key, and the values bound (strings, others).
 */
const bound = new Map<string, { ns: number; strings: number; others: number }>();
if (process.env.BIND_TIME === '1') {
	const proto = (sqlite3 as unknown as { Statement: { prototype: Record<string, unknown> } }).Statement.prototype;
	const all = proto['all'] as (this: { sql?: string }, ...args: unknown[]) => unknown;
	proto['all'] = function (this: { sql?: string }, ...args: unknown[]): unknown {
		if (!counting) return all.apply(this, args);
		const t = process.hrtime.bigint();
		const out = all.apply(this, args);
		const ns = Number(process.hrtime.bigint() - t);
		const key = keyOf(this.sql ?? '?');
		const entry = bound.get(key) ?? { ns: 0, strings: 0, others: 0 };
		entry.ns += ns;
		const values = Array.isArray(args[0]) ? (args[0] as unknown[]) : [];
		for (const value of values) entry[typeof value === 'string' ? 'strings' : 'others']++;
		bound.set(key, entry);
		return out;
	};
}

/** Nanoseconds of CPU by thread id (Linux; empty elsewhere). */
function threadCpu(): Map<number, number> {
	const out = new Map<number, number>();
	if (!existsSync('/proc/self/task')) return out;
	for (const tid of readdirSync('/proc/self/task'))
		out.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
	return out;
}

/**
 * The threads of libuv's pool (where the `sqlite3` driver runs SQLite): those that worked while four hashes ran there
 * and nothing else did.
 */
async function poolThreads(): Promise<Set<number>> {
	const before = threadCpu();
	await Promise.all(
		Array.from(
			{ length: 4 },
			() =>
				new Promise((resolve, reject) =>
					pbkdf2('x', 'y', 100_000, 32, 'sha256', (e) => (e ? reject(e) : resolve(e))),
				),
		),
	);
	const after = threadCpu();
	return new Set([...after].filter(([tid, ns]) => ns - (before.get(tid) ?? 0) > 5e6).map(([tid]) => tid));
}

/** CPU µs a step between two `threadCpu` readings: the main thread, libuv's pool (`pool`) and the rest. */
function threadSplit(
	before: Map<number, number>,
	after: Map<number, number>,
	steps: number,
	pool: Set<number>,
): string {
	const sums = { main: 0, pool: 0, other: 0 };
	for (const [tid, ns] of after) {
		const used = ns - (before.get(tid) ?? 0);
		sums[tid === process.pid ? 'main' : pool.has(tid) ? 'pool' : 'other'] += used;
	}
	const us = (ns: number): number => Math.round(ns / 1000 / steps);
	if (process.env.THREADS === '1')
		for (const [tid, ns] of after)
			console.log(
				`  thread ${tid}${tid === process.pid ? ' (main)' : pool.has(tid) ? ' (pool)' : ''}: ${us(ns - (before.get(tid) ?? 0))} µs a step`,
			);
	return `threads: main ${us(sums.main)}, libuv pool ${us(sums.pool)}, other ${us(sums.other)} µs a step`;
}

function open(): SqlContainer {
	const container = new SqlContainer({
		knex: {
			client: process.env.DRIVER ?? 'sqlite3',
			connection: { filename: join(dir, `d${++file}.sqlite`) },
			useNullAsDefault: true,
		},
	});
	const id = (q: { __knexQueryUid?: string }): unknown => q.__knexQueryUid ?? q;
	if (process.env.SQL_PROFILE === '1') {
		const client = container.knex.client as {
			acquireConnection(): Promise<{ on(event: 'profile', f: (sql: string, ms: number) => void): void }>;
			releaseConnection(connection: unknown): Promise<unknown>;
		};
		void client.acquireConnection().then((connection) => {
			connection.on('profile', (sql, ms) => {
				if (!counting) return;
				const key = keyOf(sql);
				inside.set(key, (inside.get(key) ?? 0) + ms);
			});
			return client.releaseConnection(connection);
		});
	}
	container.knex.on('query', (q: { sql: string; __knexQueryUid?: string }) => {
		if (!counting) return;
		const key = keyOf(q.sql);
		counts.set(key, (counts.get(key) ?? 0) + 1);
		started.set(id(q), { key, at: performance.now() });
	});
	container.knex.on('query-response', (_rows: unknown, q: { __knexQueryUid?: string }) => {
		const start = started.get(id(q));
		if (start === undefined) return;
		started.delete(id(q));
		busy.set(start.key, (busy.get(start.key) ?? 0) + performance.now() - start.at);
	});
	return container;
}

async function plain(n: number): Promise<number> {
	const container = open();
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(() => null),
		concurrency: CONCURRENCY,
	});
	await container.migrate();
	counting = true;
	const t0 = performance.now();
	let done = 0;
	const finished = new Promise<void>((resolve) => scheduler.on('task:succeeded', () => ++done === n && resolve()));
	for (let i = 0; i < n; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, n - i) }, () => ({ item: null })));
	await finished;
	const ms = performance.now() - t0;
	counting = false;
	await scheduler.close();
	return ms;
}

async function runs(n: number): Promise<number> {
	const container = open();
	const store = new SqlWorkflowStore({ container });
	const actions = workflowActions({ noop: () => null });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: CONCURRENCY });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps });
	await container.migrate();
	await store.migrate();
	counting = true;
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
	counting = false;
	await flows.close();
	await scheduler.close();
	await store.close();
	return ms;
}

try {
	const pool = await poolThreads();
	for (const [name, run] of [
		['plain', plain],
		['workflow', runs],
	] as const) {
		await run(name === 'plain' ? 500 : 50);
		counts.clear();
		busy.clear();
		inside.clear();
		bound.clear();
		const profileTo = name === 'plain' ? process.env.PROF_PLAIN : process.env.PROF;
		const stopProfile = profileTo === undefined ? null : await startProfile(profileTo);
		const c0 = process.cpuUsage();
		const t0 = threadCpu();
		const ms = await run(name === 'plain' ? RUNS * 10 : RUNS);
		const t1 = threadCpu();
		const c = process.cpuUsage(c0);
		await stopProfile?.();
		const n = RUNS * 10;
		const total = [...counts.values()].reduce((a, b) => a + b, 0);
		const inFlight = [...busy.values()].reduce((a, b) => a + b, 0);
		console.log(
			`${name}: ${Math.round((n / ms) * 1000)}/s, cpu ${Math.round((c.user + c.system) / n)} µs a step (sys ${Math.round(c.system / n)}), ` +
				`statements ${(total / n).toFixed(3)} a step, in flight ${((inFlight * 1000) / n).toFixed(0)} µs a step`,
		);
		const insideAll = [...inside.values()].reduce((a, b) => a + b, 0);
		console.log(
			`  ${threadSplit(t0, t1, n, pool)}; wall ${Math.round((ms * 1000) / n)} µs a step` +
				(inside.size > 0 ? `; inside SQLite ${((insideAll * 1000) / n).toFixed(0)} µs a step` : ''),
		);
		for (const [sql, b] of [...bound].sort((x, y) => y[1].ns - x[1].ns).slice(0, 8))
			console.log(
				`  binding ${(b.ns / 1000 / n).toFixed(1)} µs a step, values a step: ${(b.strings / n).toFixed(1)} strings, ${(b.others / n).toFixed(1)} others\t${sql}`,
			);
		console.log('  a step\tcount\tin flight\tinside SQLite\tstatement');
		for (const [sql, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 14))
			console.log(
				`  ${(count / n).toFixed(3)}\t${count}\t${(((busy.get(sql) ?? 0) * 1000) / n).toFixed(0)} µs\t${inside.has(sql) ? `${(((inside.get(sql) ?? 0) * 1000) / n).toFixed(0)} µs` : '-'}\t${sql}`,
			);
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
}
