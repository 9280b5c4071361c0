/**
 * Statements a workflow step costs on SQLite (issue 13): counts every statement the SqlContainer and the
 * SqlWorkflowStore sharing its connection send (knex's `query` event, which the container's direct runners emit
 * too) over RUNS runs (default 200) of a 10-step chain (SHAPE=dag: the 1 -> 8 -> 1 fan-out/join) and over RUNS x
 * 10 plain tasks, each after an untimed warm-up; prints the rate, this process's CPU per step and the statements per
 * step by their first words. DRIVER=better-sqlite3 for that driver (default sqlite3). PROF=<file.cpuprofile> writes a
 * CPU profile of the measured workflow runs alone, PROF_PLAIN=<file.cpuprofile> one of the measured plain tasks
 * (bench/workflows-profile-summary.ts reads them).
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-sqlite-statements.ts [runs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type StepDefinition } from 'lightsched/workflows';
import { SqlWorkflowStore } from '../containers/sql/workflow-store.js';
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

function open(): SqlContainer {
	const container = new SqlContainer({
		knex: {
			client: process.env.DRIVER ?? 'sqlite3',
			connection: { filename: join(dir, `d${++file}.sqlite`) },
			useNullAsDefault: true,
		},
	});
	const id = (q: { __knexQueryUid?: string }): unknown => q.__knexQueryUid ?? q;
	container.knex.on('query', (q: { sql: string; __knexQueryUid?: string }) => {
		if (!counting) return;
		const key = q.sql.replace(/\s+/g, ' ').slice(0, 60);
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
	for (const [name, run] of [
		['plain', plain],
		['workflow', runs],
	] as const) {
		await run(name === 'plain' ? 500 : 50);
		counts.clear();
		busy.clear();
		const profileTo = name === 'plain' ? process.env.PROF_PLAIN : process.env.PROF;
		const stopProfile = profileTo === undefined ? null : await startProfile(profileTo);
		const c0 = process.cpuUsage();
		const ms = await run(name === 'plain' ? RUNS * 10 : RUNS);
		const c = process.cpuUsage(c0);
		await stopProfile?.();
		const n = RUNS * 10;
		const total = [...counts.values()].reduce((a, b) => a + b, 0);
		const inFlight = [...busy.values()].reduce((a, b) => a + b, 0);
		console.log(
			`${name}: ${Math.round((n / ms) * 1000)}/s, cpu ${Math.round((c.user + c.system) / n)} µs a step (sys ${Math.round(c.system / n)}), ` +
				`statements ${(total / n).toFixed(3)} a step, in flight ${((inFlight * 1000) / n).toFixed(0)} µs a step`,
		);
		for (const [sql, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 14))
			console.log(
				`  ${(count / n).toFixed(3)}\t${count}\t${(((busy.get(sql) ?? 0) * 1000) / n).toFixed(0)} µs a step\t${sql}`,
			);
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
}
