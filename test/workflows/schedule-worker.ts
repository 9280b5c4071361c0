/**
 * A worker process for the scheduled-runs process test: a Scheduler on a SqlContainer (a SQLite file) with a
 * SqlWorkflowStore sharing its connection, or on a RedisContainer with a RedisWorkflowStore sharing its ioredis
 * instance, declaring the schedule `ticking` (`every` EVERY_MS). Each run this process creates is a `created <id>`
 * line of its log. Config in LIGHTSCHED_WF_SCHEDULE_WORKER: { sql?: knex config, redis?: { url, name }, log, every }.
 */
import { appendFileSync } from 'node:fs';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { openWorkerStore, type WorkerBackend } from './worker-store.js';

export interface ScheduleWorkerConfig extends WorkerBackend {
	readonly log: string;
	readonly every: number;
}

const config = JSON.parse(process.env.LIGHTSCHED_WF_SCHEDULE_WORKER ?? '{}') as ScheduleWorkerConfig;
const { container, store } = openWorkerStore(config);
const actions = workflowActions({ echo: (params) => ({ got: params.region }) });
const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), pollIntervalMs: 100 });
const flows = new Workflows({ scheduler, actions, store, sweepMs: 200 });
flows.define({
	name: 'create-cluster',
	vars: { region: { default: 'eu' } },
	steps: [{ id: 'create', action: 'echo', params: { region: '{{vars.region}}' } }],
});
flows.on('run:created', ({ run }) => appendFileSync(config.log, `created ${run.id}\n`));
flows.on('error', (error) => console.error(`worker ${process.pid}: ${error.message}`));
flows.schedule({ key: 'ticking', definition: 'create-cluster', every: config.every, vars: { region: 'us' } });
// The schedule's timer is unref'd (as a repeat's): the scheduler's own work keeps this process alive.
console.log('ready');
process.on('SIGTERM', () => {
	void flows
		.close()
		.then(() => scheduler.close())
		.then(() => process.exit(0));
});
