/**
 * A worker process for the workflow crash test: a Scheduler on a SqlContainer (SQLite or PostgreSQL) and Workflows on a
 * SqlWorkflowStore sharing its connection. Every step appends `start` and `end` lines to this process's log.
 * Config in LIGHTSCHED_WF_WORKER: { knex, log, leaseMs }.
 */
import { appendFileSync } from 'node:fs';
import type { Knex } from 'knex';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
import { CRASH_DAG } from './crash-dag.js';

const config = JSON.parse(process.env.LIGHTSCHED_WF_WORKER ?? '{}') as {
	knex: Knex.Config;
	log: string;
	leaseMs: number;
};
const container = new SqlContainer({ knex: config.knex });
const store = new SqlWorkflowStore({ container });
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
