/**
 * `new Workflows({ scheduler })` without a `store`: on a shared container (Redis, SQL) the runs go to the container's
 * own store, so a run started by one process is finished and awaited by another; on an in-process container they
 * stay in memory. Before, the default was always a MemoryWorkflowStore: the step tasks were shared, the runs were
 * not, and another process's `wait(runId)` rejected with RunNotFoundError.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { MemoryWorkflowStore, Workflows, workflowActions } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-default-'));
let n = 0;
beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	await redis?.close();
	rmSync(dir, { recursive: true, force: true });
});

/** One "process": a scheduler on `container` and a Workflows with no store given. */
function processOn(container: TaskContainer): { scheduler: Scheduler; flows: Workflows; close(): Promise<void> } {
	const actions = workflowActions({ add: (params) => Number(params['a']) + Number(params['b']) });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions) }) as unknown as Scheduler;
	const flows = new Workflows({ scheduler, actions, sweepMs: 100 });
	flows.define({ name: 'sum', steps: [{ id: 'add', action: 'add', params: { a: 1, b: 2 } }] });
	return {
		scheduler,
		flows,
		close: async () => {
			await flows.close();
			await scheduler.close();
		},
	};
}

const shared: [string, typeof RedisWorkflowStore | typeof SqlWorkflowStore, () => TaskContainer][] = [
	['RedisContainer', RedisWorkflowStore, () => new RedisContainer({ redis: redis.url, name: `d${n}`, log: false })],
	[
		'SqlContainer (SQLite)',
		SqlWorkflowStore,
		() =>
			new SqlContainer({
				knex: {
					client: 'sqlite3',
					connection: { filename: join(dir, `d${n}.sqlite`) },
					useNullAsDefault: true,
				},
			}),
	],
];

describe.each(shared)('Workflows with no store on %s', (_name, Store, open) => {
	it('keeps runs in the container, shared by every process on it', async () => {
		n++;
		// Started by A, awaited and listed by B: only a store both see can tell B of the run.
		const a = processOn(open());
		const b = processOn(open());
		try {
			expect(a.flows.store).toBeInstanceOf(Store);
			const run = await a.flows.start('sum', { key: 'k1' });
			const done = await b.flows.wait(run.id, { timeoutMs: 20_000 });
			expect(done.status).toBe('succeeded');
			expect(done.steps['add']?.output).toBe(3);
			expect((await b.flows.list({ key: 'k1' })).runs.map((r) => r.id)).toEqual([run.id]);
		} finally {
			await a.close();
			await b.close();
		}
	});

	it('closes the store it made, not the container', async () => {
		n++;
		const container = open();
		const a = processOn(container);
		await a.flows.close();
		// The container still serves its scheduler.
		const task = await a.scheduler.add({ id: 'after', item: { action: 'none' } });
		expect((await container.get(task.id))?.id).toBe('after');
		await a.scheduler.close();
	});
});

it('keeps runs in memory on an in-process container', async () => {
	const a = processOn(new QueueContainer());
	try {
		expect(a.flows.store).toBeInstanceOf(MemoryWorkflowStore);
		const run = await a.flows.start('sum');
		expect((await a.flows.wait(run.id)).status).toBe('succeeded');
	} finally {
		await a.close();
	}
});
