/**
 * Workflow crash tests on SQLite and PostgreSQL (issue 13 item 11, in part): two worker processes share a SqlContainer and a
 * SqlWorkflowStore; one of them is SIGKILLed three times (a fresh one started each time) while 40 runs of a
 * 6-step fan-out/join DAG go through. Every run must succeed, every step run at least once, and a step run
 * again only when an earlier run of it was in a killed process. Prints the takeover time of interrupted steps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
import { postgresBackend, type SqlBackend } from '../support/sql.js';
import { CRASH_DAG } from './crash-dag.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = 40;
const LEASE_MS = 1500;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-crash-'));
const children: ChildProcess[] = [];
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	rmSync(dir, { recursive: true, force: true });
	await postgres?.stop();
});

function startWorker(
	knex: Knex.Config,
	name: string,
	n: number,
): { child: ChildProcess; log: string; ready: Promise<void> } {
	const log = join(dir, `${name}-worker-${n}.log`);
	const child = spawn(
		process.execPath,
		['--conditions=lightsched:source', '--import', 'tsx', `${ROOT}test/workflows/crash-worker.ts`],
		{
			cwd: ROOT,
			env: { ...process.env, LIGHTSCHED_WF_WORKER: JSON.stringify({ knex, log, leaseMs: LEASE_MS }) },
			stdio: ['ignore', 'pipe', 'inherit'],
		},
	);
	children.push(child);
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker ${n} exited (${String(code)}) before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on(
			'line',
			(line) => line === 'ready' && resolve(),
		);
	});
	return { child, log, ready };
}

interface Line {
	readonly kind: 'start' | 'end';
	readonly key: string;
	readonly pid: number;
	readonly at: number;
}

function readLog(file: string): Line[] {
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8')
		.split('\n')
		.filter((line) => line.length > 0)
		.map((line) => {
			const [kind, runId, stepId, pid, at] = line.split(' ');
			return { kind: kind as 'start' | 'end', key: `${runId}:${stepId}`, pid: Number(pid), at: Number(at) };
		});
}

describe.each(['SQLite', 'PostgreSQL'] as const)('workflow crash test on %s', (backend) => {
	it(`${RUNS} runs of a 6-step DAG through three SIGKILLs: every run succeeds, no step lost, none re-run after it finished`, async () => {
		const knex: Knex.Config =
			backend === 'SQLite'
				? { client: 'sqlite3', connection: { filename: join(dir, 'flows.sqlite') }, useNullAsDefault: true }
				: await (postgres as SqlBackend).freshDatabase();
		// The runs are started by a process that then steps aside (its scheduler claims nothing).
		const container = new SqlContainer({ knex });
		const actions = workflowActions({ work: () => null });
		const starter = new Scheduler({ container, actuator: new FunctionActuator(actions), autoStart: false });
		const starterFlows = new Workflows({
			scheduler: starter,
			actions,
			store: new SqlWorkflowStore({ container }),
			sweepMs: 600_000,
		});
		starterFlows.define(CRASH_DAG);
		const ids: string[] = [];
		for (let i = 0; i < RUNS; i++) ids.push((await starterFlows.start('crash-dag')).id);
		await starterFlows.close();
		await starter.close();

		const store = new SqlWorkflowStore({ knex });
		const survivor = startWorker(knex, backend, 0);
		let victim = startWorker(knex, backend, 1);
		await Promise.all([survivor.ready, victim.ready]);
		const logs = [survivor.log, victim.log];
		const kills: { pid: number; at: number }[] = [];
		const starts = (): number =>
			logs.reduce((n, log) => n + readLog(log).filter((l) => l.kind === 'start').length, 0);
		for (let k = 0; k < 3; k++) {
			// Kill after another stretch of work, at a random moment (inside or between steps).
			const target = starts() + 25 + Math.floor(Math.random() * 25);
			const deadline = Date.now() + 60_000;
			while (starts() < target && Date.now() < deadline)
				await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
			const pid = victim.child.pid as number;
			victim.child.kill('SIGKILL');
			await new Promise((resolve) => victim.child.once('exit', resolve));
			kills.push({ pid, at: Date.now() });
			victim = startWorker(knex, backend, k + 2);
			logs.push(victim.log);
			await victim.ready;
		}
		const end = Date.now() + 120_000;
		for (;;) {
			const page = await store.list({ status: 'succeeded', limit: 1 });
			if (page.total === RUNS) break;
			if (Date.now() > end)
				throw new Error(
					`only ${page.total} of ${RUNS} runs succeeded in time: ${JSON.stringify((await store.list({ status: ['failed', 'stopped', 'blocked'] })).runs.map((r) => [r.id, r.status, r.error]))}`,
				);
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		const lines = logs.flatMap(readLog).sort((a, b) => a.at - b.at);
		const killed = new Map(kills.map((k) => [k.pid, k.at]));
		const byStep = new Map<string, Line[]>();
		for (const line of lines) byStep.set(line.key, [...(byStep.get(line.key) ?? []), line]);
		expect(byStep.size).toBe(RUNS * 6);
		const rerunAfterFinish: string[] = [];
		const takeovers: number[] = [];
		for (const [key, list] of byStep) {
			const startsOf = list.filter((l) => l.kind === 'start');
			// Every start after the first must follow a start in a process killed since (the work was interrupted
			// or its success not stored yet).
			for (let i = 1; i < startsOf.length; i++) {
				const earlier = startsOf.slice(0, i);
				const interrupted = earlier.some(
					(l) => killed.has(l.pid) && (killed.get(l.pid) as number) <= (startsOf[i] as Line).at,
				);
				if (!interrupted) rerunAfterFinish.push(key);
				else {
					const last = earlier.at(-1) as Line;
					if (killed.has(last.pid))
						takeovers.push((startsOf[i] as Line).at - (killed.get(last.pid) as number));
				}
			}
		}
		for (const id of ids) {
			const run = await store.get(id);
			expect(run?.status).toBe('succeeded');
			expect(Object.values(run?.steps ?? {}).every((s) => s.status === 'succeeded' && s.generation === 1)).toBe(
				true,
			);
		}
		expect(rerunAfterFinish).toEqual([]);
		console.log(
			`workflow crash test (${backend}): ${RUNS} runs x 6 steps, ${kills.length} SIGKILLs, ${lines.filter((l) => l.kind === 'start').length} step starts, ` +
				`${takeovers.length} interrupted steps taken over in ${takeovers.length === 0 ? '-' : `${Math.min(...takeovers)}..${Math.max(...takeovers)} ms`} (leaseMs ${LEASE_MS})`,
		);
		await store.close();
		for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
	}, 240_000);
});
