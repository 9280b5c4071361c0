/**
 * Workflow crash tests on SQLite, PostgreSQL and Redis (issue 13 item 11): two worker processes share a container
 * and a workflow store (SqlContainer + SqlWorkflowStore, RedisContainer + RedisWorkflowStore); one of them is
 * SIGKILLed three times (a fresh one started each time), at random moments spread over the work (inside or
 * between steps), while LIGHTSCHED_WF_CRASH_RUNS runs (default 200, the number) of a 6-step fan-out/join
 * DAG go through (each replacement is started before the kill, so its start-up overlaps the work; the survivor is
 * never killed). Every run must succeed with every step succeeded once (generation 1), every step's action must
 * have run, and a step run again only when an earlier run of it was in a killed process (never after it finished).
 * Prints the takeover time of interrupted steps and, for the goal "after a kill, a run's next step starts
 * within 2 lease periods", the time from each kill to the next step start of every run the killed process was
 * working on (asserted only against a generous bound: the machine is shared).
 */
import { join } from 'node:path';
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type WorkflowStore } from 'lightsched/workflows';
import { CRASH_DAG } from './crash-dag.js';
import type { CrashWorkerConfig } from './crash-worker.js';
import { readLog, workerProcesses, type Line, type WorkerProcess } from './worker-processes.js';

const RUNS = Number(process.env.LIGHTSCHED_WF_CRASH_RUNS ?? 200);
const STEPS = CRASH_DAG.steps.length;
const LEASE_MS = 1500;
const workers = await workerProcesses('lightsched-wf-crash-');

type Backend = 'SQLite' | 'PostgreSQL' | 'Redis';

function startWorker(config: Omit<CrashWorkerConfig, 'log' | 'leaseMs'>, name: string, n: number): WorkerProcess {
	return workers.start({ ...config, log: join(workers.dir, `${name}-worker-${n}.log`), leaseMs: LEASE_MS }, n);
}

/**
 * For each kill: the runs the killed process was working on (a step started there and not ended before the kill,
 * or the run's latest line before the kill the end of a step there, not its last step), and how long after the
 * kill each run's next step started (in any process).
 */
function nextStepAfterKills(lines: readonly Line[], kills: readonly { pid: number; at: number }[]): number[] {
	const waits: number[] = [];
	for (const kill of kills) {
		const byRun = new Map<string, Line[]>();
		for (const line of lines) byRun.set(line.run, [...(byRun.get(line.run) ?? []), line]);
		for (const runLines of byRun.values()) {
			const before = runLines.filter((l) => l.at <= kill.at);
			const open = before.filter(
				(l) =>
					l.kind === 'start' &&
					l.pid === kill.pid &&
					!before.some((e) => e.kind === 'end' && e.key === l.key && e.pid === l.pid && e.at >= l.at),
			);
			const last = before.at(-1);
			const owed = last !== undefined && last.kind === 'end' && last.pid === kill.pid && last.step !== 'tail';
			if (open.length === 0 && !owed) continue;
			const next = runLines.find((l) => l.kind === 'start' && l.at > kill.at);
			if (next !== undefined) waits.push(next.at - kill.at);
		}
	}
	return waits;
}

/** Seconds since `since`, for the phases printed. */
function seconds(since: number): string {
	return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function summary(values: readonly number[]): string {
	if (values.length === 0) return 'none';
	const sorted = [...values].sort((a, b) => a - b);
	const median = sorted[Math.floor(sorted.length / 2)] as number;
	return `${values.length}, median ${median} ms, max ${sorted.at(-1) as number} ms`;
}

async function setUp(backend: Backend): Promise<{
	worker: Omit<CrashWorkerConfig, 'log' | 'leaseMs'>;
	container: TaskContainer;
	starterStore: WorkflowStore;
	store: () => WorkflowStore;
}> {
	if (backend === 'Redis') {
		const target = { url: workers.redis().url, name: 'crash' };
		return {
			worker: { redis: target },
			container: new RedisContainer({ redis: target.url, name: target.name, log: false }),
			starterStore: new RedisWorkflowStore({ redis: target.url, name: target.name }),
			store: () => new RedisWorkflowStore({ redis: target.url, name: target.name }),
		};
	}
	const knex: Knex.Config =
		backend === 'SQLite'
			? { client: 'sqlite3', connection: { filename: join(workers.dir, 'flows.sqlite') }, useNullAsDefault: true }
			: await workers.postgres().freshDatabase();
	const container = new SqlContainer({ knex });
	return {
		worker: { sql: knex },
		container,
		starterStore: new SqlWorkflowStore({ container }),
		store: () => new SqlWorkflowStore({ knex }),
	};
}

describe.each(['SQLite', 'PostgreSQL', 'Redis'] as const)('workflow crash test on %s', (backend) => {
	it(`${RUNS} runs of a ${STEPS}-step DAG through three SIGKILLs: every run succeeds, no step lost, none re-run after it finished`, async () => {
		const began = Date.now();
		const { worker, container, starterStore, store: makeStore } = await setUp(backend);
		// The runs are started by a process that then steps aside (its scheduler claims nothing).
		const actions = workflowActions({ work: () => null });
		const starter = new Scheduler({ container, actuator: new FunctionActuator(actions), autoStart: false });
		const starterFlows = new Workflows({ scheduler: starter, actions, store: starterStore, sweepMs: 600_000 });
		starterFlows.define(CRASH_DAG);
		const ids: string[] = [];
		const startRuns = async (count: number): Promise<void> => {
			const batch = Array.from({ length: count }, () => starterFlows.start('crash-dag'));
			for (const run of await Promise.all(batch)) ids.push(run.id);
		};
		// The first runs make the tables; then the workers start (their start-up overlaps starting the rest).
		await startRuns(Math.min(20, RUNS));
		const survivor = startWorker(worker, backend, 0);
		let victim = startWorker(worker, backend, 1);
		while (ids.length < RUNS) await startRuns(Math.min(20, RUNS - ids.length));
		await starterFlows.close();
		await starter.close();
		await starterStore.close();
		const phases = [`runs started ${seconds(began)}`];

		const store = makeStore();
		await Promise.all([survivor.ready, victim.ready]);
		phases.push(`workers ready ${seconds(began)}`);
		const logs = [survivor.log, victim.log];
		const kills: { pid: number; at: number }[] = [];
		const starts = (): number =>
			logs.reduce((n, log) => n + readLog(log).filter((l) => l.kind === 'start').length, 0);
		for (let k = 0; k < 3; k++) {
			// The victim's replacement starts now: its start-up (seconds of Node and tsx on a loaded machine) overlaps
			// the work instead of following the kill. Once ready it works too, and it is the next one killed.
			const next = startWorker(worker, backend, k + 2);
			logs.push(next.log);
			// Kill at a random moment (inside or between steps) in each quarter of the work.
			const target = Math.floor(RUNS * STEPS * ((k + 0.5 + Math.random() * 0.5) / 4));
			const deadline = Date.now() + 120_000;
			while (starts() < target && Date.now() < deadline)
				await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
			const pid = victim.child.pid as number;
			victim.child.kill('SIGKILL');
			await new Promise((resolve) => victim.child.once('exit', resolve));
			kills.push({ pid, at: Date.now() });
			victim = next;
			await victim.ready;
		}
		phases.push(`third kill ${seconds(began)}`);
		const end = Date.now() + 180_000;
		for (;;) {
			const page = await store.list({ status: 'succeeded', limit: 1 });
			if (page.total === RUNS) break;
			if (Date.now() > end)
				throw new Error(
					`only ${page.total} of ${RUNS} runs succeeded in time: ${JSON.stringify((await store.list({ status: ['failed', 'stopped', 'blocked'] })).runs.map((r) => [r.id, r.status, r.error]))}`,
				);
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		phases.push(`all runs succeeded ${seconds(began)}`);
		const lines = logs.flatMap(readLog).sort((a, b) => a.at - b.at);
		const killed = new Map(kills.map((k) => [k.pid, k.at]));
		const byStep = new Map<string, Line[]>();
		for (const line of lines) byStep.set(line.key, [...(byStep.get(line.key) ?? []), line]);
		// Every step's action ran (at least once).
		expect(byStep.size).toBe(RUNS * STEPS);
		const rerunAfterFinish: string[] = [];
		const takeovers: number[] = [];
		let lapsedReruns = 0;
		for (const [key, list] of byStep) {
			const startsOf = list.filter((l) => l.kind === 'start');
			// Every start after the first must follow a start in a process killed since (the work was interrupted
			// or its success not stored yet), or a lease found expired since the previous start (a live process
			// stalled past its lease on this loaded machine: at least once, as documented). Anything else is a
			// finished step run again.
			for (let i = 1; i < startsOf.length; i++) {
				const earlier = startsOf.slice(0, i);
				const at = (startsOf[i] as Line).at;
				const interrupted = earlier.some((l) => killed.has(l.pid) && (killed.get(l.pid) as number) <= at);
				const lapsed = list.some(
					// (the reclaimer logs after its sweep: another process may claim and start the task first)
					(l) => l.kind === 'lapsed' && l.at >= (startsOf[i - 1] as Line).at && l.at <= at + 1000,
				);
				if (!interrupted && lapsed) lapsedReruns++;
				if (!interrupted && !lapsed) rerunAfterFinish.push(key);
				else {
					const last = earlier.at(-1) as Line;
					if (killed.has(last.pid))
						takeovers.push((startsOf[i] as Line).at - (killed.get(last.pid) as number));
				}
			}
		}
		for (let i = 0; i < ids.length; i += 100) {
			const runs = await Promise.all(ids.slice(i, i + 100).map((id) => store.get(id)));
			for (const run of runs) {
				expect(run?.status).toBe('succeeded');
				expect(
					Object.values(run?.steps ?? {}).every((s) => s.status === 'succeeded' && s.generation === 1),
				).toBe(true);
			}
		}
		expect(rerunAfterFinish).toEqual([]);
		const nextStep = nextStepAfterKills(lines, kills);
		console.log(
			`workflow crash test (${backend}): ${RUNS} runs x ${STEPS} steps (${phases.join(', ')}), ` +
				`${kills.length} SIGKILLs, ${lines.filter((l) => l.kind === 'start').length} step starts; ` +
				`interrupted steps taken over: ${summary(takeovers)}; ` +
				`steps run again after a live process's lease lapsed (no kill): ${lapsedReruns}; ` +
				`a run's next step after a kill (runs the killed process was working on): ${summary(nextStep)} ` +
				`(leaseMs ${LEASE_MS}: goal within 2 lease periods, ${2 * LEASE_MS} ms)`,
		);
		// Generous: the goal is 2 lease periods; this shared 2-core machine may stall a process for seconds.
		expect(Math.max(0, ...nextStep)).toBeLessThan(10 * LEASE_MS);
		await store.close();
		workers.signal('SIGTERM');
	}, 300_000);
});
