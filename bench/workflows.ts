/**
 * Workflow throughput (issue 13 item 13, first part): RUNS runs of a 10-step chain and of a 10-step fan-out/join
 * DAG (1 -> 8 -> 1), no-op steps, in one process, against plain tasks on the same container (the overhead per
 * step). Containers: memory (QueueContainer + MemoryWorkflowStore), SQLite and PostgreSQL (SqlContainer +
 * SqlWorkflowStore sharing its connection). Not yet: Redis (no Redis run store), BullMQ FlowProducer and DBOS.
 *
 *   npx tsx --conditions=lightsched:source bench/workflows.ts [runs] [memory,sqlite,pg]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer } from 'lightsched/containers/sql';
import {
	MemoryWorkflowStore,
	Workflows,
	workflowActions,
	type StepDefinition,
	type WorkflowStore,
} from 'lightsched/workflows';
import { SqlWorkflowStore } from '../containers/sql/workflow-store.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres.js';

const RUNS = Number(process.argv[2] ?? 1000);
const KINDS = (process.argv[3] ?? 'memory,sqlite,pg').split(',');
const CONCURRENCY = 32;

const chain: StepDefinition[] = Array.from({ length: 10 }, (_, i) => ({
	id: `s${i}`,
	action: 'noop',
	...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
}));
const dag: StepDefinition[] = [
	{ id: 'root', action: 'noop' },
	...Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, action: 'noop', dependsOn: ['root'] })),
	{ id: 'join', action: 'noop', dependsOn: Array.from({ length: 8 }, (_, i) => `b${i}`) },
];

interface Setup {
	readonly container: TaskContainer;
	readonly store: WorkflowStore;
}

async function plainTasks(make: () => Promise<Setup>, tasks: number): Promise<number> {
	const { container } = await make();
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(() => null),
		concurrency: CONCURRENCY,
	});
	const started = performance.now();
	let done = 0;
	const finished = new Promise<void>((resolve) =>
		scheduler.on('task:succeeded', () => ++done === tasks && resolve()),
	);
	for (let i = 0; i < tasks; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, tasks - i) }, () => ({ item: null })));
	await finished;
	const ms = performance.now() - started;
	await scheduler.close();
	return ms;
}

async function workflowRuns(make: () => Promise<Setup>, steps: StepDefinition[]): Promise<number> {
	const { container, store } = await make();
	const actions = workflowActions({ noop: () => null });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: CONCURRENCY });
	const flows = new Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps });
	const started = performance.now();
	const ids: string[] = [];
	for (let i = 0; i < RUNS; i += 100)
		ids.push(
			...(await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('bench')))).map(
				(r) => r.id,
			),
		);
	for (const id of ids) await flows.wait(id);
	const ms = performance.now() - started;
	await flows.close();
	await scheduler.close();
	await store.close();
	return ms;
}

const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-wf-'));
let pg: PostgresServer | undefined;
let n = 0;
const sql = (knex: () => Promise<Knex.Config>) => async (): Promise<Setup> => {
	const container = new SqlContainer({ knex: await knex() });
	return { container, store: new SqlWorkflowStore({ container }) };
};
const makers: Record<string, () => Promise<Setup>> = {
	memory: async () => ({ container: new QueueContainer(), store: new MemoryWorkflowStore() }),
	sqlite: sql(async () => ({
		client: 'sqlite3',
		connection: { filename: join(dir, `b${++n}.sqlite`) },
		useNullAsDefault: true,
	})),
	pg: sql(async () => {
		pg ??= await startPostgres();
		return { client: 'pg', connection: await pg.createDatabase(`wfbench${++n}`), pool: { min: 0, max: 8 } };
	}),
};

try {
	for (const kind of KINDS) {
		const make = makers[kind];
		if (make === undefined) throw new Error(`Unknown kind ${kind} (memory, sqlite, pg)`);
		const plainMs = await plainTasks(make, RUNS * 10);
		const plainPerStep = plainMs / (RUNS * 10);
		for (const [shape, steps] of [
			['chain', chain],
			['fan-out/join', dag],
		] as const) {
			const ms = await workflowRuns(make, [...steps]);
			const perStep = ms / (RUNS * 10);
			console.log(
				`${kind.padEnd(6)} ${shape.padEnd(12)} ${RUNS} runs x 10 steps: ${((RUNS * 1000) / ms).toFixed(0)} runs/s, ${((RUNS * 10_000) / ms).toFixed(0)} steps/s; ` +
					`plain tasks ${((RUNS * 10_000) / plainMs).toFixed(0)}/s; overhead ${(perStep / plainPerStep).toFixed(2)}x per step`,
			);
		}
	}
} finally {
	await pg?.stop();
	rmSync(dir, { recursive: true, force: true });
}
