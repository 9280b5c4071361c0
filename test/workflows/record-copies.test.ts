/**
 * The engine keeps the run record it last wrote (to plan the next step end from, unread) and plans by
 * copy-on-write, so the records it stores share their values with each other. What it hands out must still be a
 * copy: changing the run `start` returned, a step's item (an in-memory container hands the item itself to the
 * step) or a step's returned output must change nothing stored. On a QueueContainer (items by reference) with each
 * store: the SQL and Redis stores return records that share values with the record written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlWorkflowStore } from 'lightsched/containers/sql';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import { MemoryWorkflowStore, Workflows, workflowActions, type WorkflowStore } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { sqliteBackend, type SqlBackend } from '../support/sql.js';

let sqlite: SqlBackend | undefined;
let redis: RedisServer | undefined;
let n = 0;
beforeAll(async () => {
	sqlite = sqliteBackend();
	redis = await startRedis();
}, 120_000);
afterAll(async () => {
	await sqlite?.stop();
	await redis?.close();
});

const stores: Record<string, () => Promise<WorkflowStore>> = {
	memory: async () => new MemoryWorkflowStore(),
	SQLite: async () => new SqlWorkflowStore({ knex: await (sqlite as SqlBackend).freshDatabase() }),
	Redis: async () =>
		new RedisWorkflowStore({
			redis: { host: '127.0.0.1', port: (redis as RedisServer).port },
			name: `copies${++n}`,
		}),
};

describe.each(Object.keys(stores))('Records handed out by the engine with the %s store', (name) => {
	it('are copies: changing the started run, a step item or a returned output changes no stored run', async () => {
		const store = await (stores[name] as () => Promise<WorkflowStore>)();
		const outputs: { list: number[] }[] = [];
		const seen: { vars: unknown; inputs: unknown }[] = [];
		const actions = workflowActions({
			work: (_params, ctx) => {
				seen.push({ vars: structuredClone(ctx.vars), inputs: structuredClone(ctx.inputs) });
				// Change what the step was handed, and the output after handing it over.
				(ctx.vars as { list: number[] }).list.push(99);
				for (const input of Object.values(ctx.inputs)) (input as { list: number[] }).list.push(99);
				const output = { list: [seen.length] };
				outputs.push(output);
				return output;
			},
		});
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(actions) });
		const flows = new Workflows({ scheduler, actions, store, sweepMs: 60_000 });
		try {
			flows.define({
				name: 'chain',
				vars: { list: { default: [1] } },
				steps: [
					{ id: 'a', action: 'work' },
					{ id: 'b', action: 'work', dependsOn: ['a'] },
					{ id: 'c', action: 'work', dependsOn: ['b'] },
				],
			});
			flows.on('step:succeeded', () => {
				for (const output of outputs) output.list.push(-1);
			});
			const started = await flows.start('chain');
			(started.vars as { list: number[] }).list.push(7);
			started.steps['a']!.status = 'failed';
			started.status = 'stopped';
			const done = await flows.wait(started.id);
			expect(done.status).toBe('succeeded');
			expect(done.vars).toEqual({ list: [1] });
			expect(Object.fromEntries(Object.entries(done.steps).map(([id, step]) => [id, step.output]))).toEqual({
				a: { list: [1] },
				b: { list: [2] },
				c: { list: [3] },
			});
			expect(seen).toEqual([
				{ vars: { list: [1] }, inputs: {} },
				{ vars: { list: [1] }, inputs: { a: { list: [1] } } },
				{ vars: { list: [1] }, inputs: { b: { list: [2] } } },
			]);
			expect(await store.get(started.id)).toEqual(done);
		} finally {
			await flows.close();
			await scheduler.close();
			await store.close();
		}
	});
});
