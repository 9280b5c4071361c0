/**
 * A worker process for the workflow crash test: a Scheduler on a SqlContainer (SQLite or PostgreSQL) with a
 * SqlWorkflowStore sharing its connection, or on a RedisContainer with a RedisWorkflowStore sharing its ioredis
 * instance. Every step appends `start` and `end` lines to this process's log, and a step task whose lease this
 * process found expired (its owner died, or stalled past its lease on a loaded machine) a `lapsed` line.
 * Config in LIGHTSCHED_WF_WORKER: { sql?: knex config, redis?: { url, name }, log, leaseMs, skewMs? }; `skewMs` runs it
 * on a clock off by that much (`Date.now` patched before anything runs), as on a machine whose clock is wrong.
 */
import { appendFileSync } from 'node:fs';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { parseStepTaskId, Workflows, workflowActions } from 'lightsched/workflows';
import { openWorkerStore, type WorkerBackend } from './worker-store.js';
import { CRASH_DAG } from './crash-dag.js';

export interface CrashWorkerConfig extends WorkerBackend {
	readonly log: string;
	readonly leaseMs: number;
	/** This process's clock runs this many ms ahead (negative: behind). */
	readonly skewMs?: number;
}

const config = JSON.parse(process.env.LIGHTSCHED_WF_WORKER ?? '{}') as CrashWorkerConfig;
if (config.skewMs !== undefined && config.skewMs !== 0) {
	const realNow = Date.now.bind(Date);
	const skew = config.skewMs;
	Date.now = () => realNow() + skew;
}
const { container, store } = openWorkerStore(config);
const actions = workflowActions({
	work: async (_params, ctx) => {
		appendFileSync(config.log, `start ${ctx.runId} ${ctx.stepId} ${process.pid} ${Date.now()}\n`);
		await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
		appendFileSync(config.log, `end ${ctx.runId} ${ctx.stepId} ${process.pid} ${Date.now()}\n`);
		return ctx.stepId;
	},
});
const scheduler = new Scheduler({
	container,
	actuator: new FunctionActuator(actions),
	concurrency: 6,
	leaseMs: config.leaseMs,
	pollIntervalMs: 100,
});
scheduler.on('task:lease-expired', ({ task }) => {
	const step = parseStepTaskId(task.id);
	if (step !== null) appendFileSync(config.log, `lapsed ${step.runId} ${step.stepId} ${process.pid} ${Date.now()}\n`);
});
const flows = new Workflows({ scheduler, actions, store, sweepMs: 200, dispatchGraceMs: 1000 });
flows.define(CRASH_DAG);
flows.on('error', (error) => console.error(`worker ${process.pid}: ${error.message}`));
console.log('ready');
process.on('SIGTERM', () => {
	void flows
		.close()
		.then(() => scheduler.close())
		.then(() => process.exit(0));
});
