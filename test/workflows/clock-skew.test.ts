/**
 * Workflows across processes whose clocks disagree, on Redis and PostgreSQL: two worker processes (crash-worker.ts)
 * share a container and its run store, one on a clock 10 s ahead and one 10 s behind (`Date.now` patched in the
 * child), and the one ahead is SIGKILLed a third of the way through. Leases are judged by the server's clock, and a
 * run's times written by one process are only compared by another with room for such a skew (a run written "in
 * the future" is swept, not passed over), so: every run succeeds with every step succeeded once (generation 1),
 * every step's action ran, and a step ran again only when an earlier start of it was in the killed process or its
 * lease was found expired.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type WorkflowStore } from 'lightsched/workflows';
import { CRASH_DAG } from './crash-dag.js';
import type { CrashWorkerConfig } from './crash-worker.js';
import { readLog, workerProcesses } from './worker-processes.js';

const RUNS = 100;
const STEPS = CRASH_DAG.steps.length;
const SKEW_MS = 10_000;
const workers = await workerProcesses('lightsched-wf-skew-');

type Backend = 'PostgreSQL' | 'Redis';

async function setUp(backend: Backend): Promise<{
	worker: Pick<CrashWorkerConfig, 'sql' | 'redis'>;
	container: TaskContainer;
	store: WorkflowStore;
}> {
	if (backend === 'Redis') {
		const target = { url: workers.redis().url, name: 'skew' };
		const container = new RedisContainer({ redis: target.url, name: target.name, log: false });
		return { worker: { redis: target }, container, store: new RedisWorkflowStore({ container }) };
	}
	const knex: Knex.Config = await workers.postgres().freshDatabase();
	const container = new SqlContainer({ knex });
	return { worker: { sql: knex }, container, store: new SqlWorkflowStore({ container }) };
}

describe.each(['Redis', 'PostgreSQL'] as const)('Workflows on %s with clocks 20 s apart', (backend) => {
	it(`${RUNS} runs of a ${STEPS}-step DAG, one process 10 s ahead (killed mid-way), one 10 s behind: every run succeeds, every step once`, async () => {
		const { worker, container, store } = await setUp(backend);
		// The runs are started here (on the real clock) by a scheduler that claims nothing.
		const actions = workflowActions({ work: () => null });
		const starter = new Scheduler({ container, actuator: new FunctionActuator(actions), autoStart: false });
		const flows = new Workflows({ scheduler: starter, actions, store, sweepMs: 600_000 });
		flows.define(CRASH_DAG);
		for (let i = 0; i < RUNS; i += 20)
			await Promise.all(Array.from({ length: 20 }, (_, k) => flows.start('crash-dag', { id: `run-${i + k}` })));
		const start = (skewMs: number, n: number) => {
			const config = { ...worker, leaseMs: 1500, skewMs, log: join(workers.dir, `${backend}-${n}.log`) };
			return workers.start(config, n);
		};
		const ahead = start(SKEW_MS, 1);
		const behind = start(-SKEW_MS, 2);
		await Promise.all([ahead.ready, behind.ready]);
		const starts = (): number =>
			[ahead, behind].reduce((n, w) => n + readLog(w.log).filter((l) => l.kind === 'start').length, 0);
		const until = Date.now() + 60_000;
		while (starts() < (RUNS * STEPS) / 3 && Date.now() < until) await sleep(20);
		const killedPid = ahead.child.pid as number;
		ahead.child.kill('SIGKILL');
		const killedAt = Date.now();
		const end = Date.now() + 90_000;
		for (;;) {
			const page = await store.list({ status: 'succeeded', limit: 0 });
			if (page.total === RUNS) break;
			if (Date.now() > end) throw new Error(`only ${page.total} of ${RUNS} runs succeeded in time`);
			await sleep(200);
		}
		const finishedMs = Date.now() - killedAt;
		const { runs } = await store.list({ limit: RUNS });
		for (const run of runs)
			for (const [stepId, step] of Object.entries(run.steps))
				expect([step.status, step.generation], `${run.id}:${stepId}`).toEqual(['succeeded', 1]);
		const lines = [...readLog(ahead.log), ...readLog(behind.log)];
		const byStep = new Map<string, typeof lines>();
		for (const line of lines) byStep.set(line.key, [...(byStep.get(line.key) ?? []), line]);
		expect(byStep.size).toBe(RUNS * STEPS);
		const again: string[] = [];
		for (const [key, list] of byStep) {
			const startsOf = list.filter((l) => l.kind === 'start');
			const excused =
				startsOf.slice(0, -1).some((l) => l.pid === killedPid) || list.some((l) => l.kind === 'lapsed');
			if (startsOf.length > 1 && !excused) again.push(key);
		}
		console.log(
			`clock skew (${backend}): ${lines.filter((l) => l.kind === 'start').length} step starts for ${RUNS * STEPS} steps; ` +
				`all runs succeeded ${finishedMs} ms after the kill of the process ahead`,
		);
		expect(again).toEqual([]);
		await flows.close();
		await starter.close();
		await store.close();
		behind.child.kill('SIGTERM');
	}, 240_000);
});
