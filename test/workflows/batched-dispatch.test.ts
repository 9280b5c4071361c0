/**
 * Step tasks asked for together go in one container add (workflows/advancer.ts); a batch the container refuses
 * (all or nothing) is tried again task by task, so one bad step task fails only its own step. And a first attempt
 * takes its checkpoint from its item, a later attempt from the run (workflows/actions.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, type ItemBuilders, type StepItem } from 'lightsched/workflows';
import { makeFlows, type FlowSetup } from './fixture.js';

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.reverse()) await close();
	closers = [];
});

function sqlite(): SqlContainer {
	const filename = join(mkdtempSync(join(tmpdir(), 'wf-batch-')), 'tasks.db');
	return new SqlContainer({ knex: { client: 'sqlite3', connection: { filename }, useNullAsDefault: true } });
}

describe('Workflows: step tasks added together', () => {
	it('fails only the step whose task the container refuses when a fan-out is added in one batch', async () => {
		const container = sqlite();
		await container.migrate();
		const ran: string[] = [];
		// Each action builds the task item the actuator gets; `bad` builds one SQL cannot store (a bigint).
		const builders: ItemBuilders = {
			ok: (_params, step: StepItem) => ({ step: step.workflow.stepId }),
			bad: () => ({ n: 1n }),
		};
		const scheduler = new Scheduler({
			container: container as TaskContainer,
			actuator: new FunctionActuator(async (item: { step: string }) => {
				ran.push(item.step);
				return item.step;
			}),
			concurrency: 8,
		}) as unknown as Scheduler;
		const store = new SqlWorkflowStore({ knex: container.knex });
		await store.migrate();
		const flows = new Workflows({ scheduler, actions: builders, store, sweepMs: 50 });
		closers.push(async () => {
			await flows.close();
			await scheduler.close();
			await store.close();
		});
		flows.define({
			name: 'fan',
			steps: [
				{ id: 'root', action: 'ok' },
				{ id: 'a', action: 'ok', dependsOn: ['root'] },
				{ id: 'b', action: 'bad', dependsOn: ['root'] },
				{ id: 'c', action: 'ok', dependsOn: ['root'] },
			],
		});
		const done = await flows.wait((await flows.start('fan')).id);
		expect(done.steps.a?.status).toBe('succeeded');
		expect(done.steps.c?.status).toBe('succeeded');
		expect(done.steps.b?.status).toBe('failed');
		expect(done.steps.b?.error?.message).toMatch(/item/);
		expect(done.status).toBe('failed');
		expect(ran.sort()).toEqual(['a', 'c', 'root']);
	});

	it('hands a first attempt the checkpoint from its item, a retry the one its first attempt saved', async () => {
		const seen: { attempt: number; saved: unknown }[] = [];
		const setup: FlowSetup = makeFlows('QueueContainer', {
			step: async (_params, ctx) => {
				seen.push({ attempt: ctx.attempt, saved: ctx.saved });
				if (ctx.attempt === 1) {
					await ctx.checkpoint({ upTo: 7 });
					throw new Error('first attempt fails after its checkpoint');
				}
				return ctx.saved;
			},
		});
		closers.push(() => setup.close());
		setup.flows.define({ name: 'once', steps: [{ id: 's', action: 'step', maxAttempts: 2 }] });
		const done = await setup.flows.wait((await setup.flows.start('once')).id);
		expect(done.status).toBe('succeeded');
		expect(seen).toEqual([
			{ attempt: 1, saved: undefined },
			{ attempt: 2, saved: { upTo: 7 } },
		]);
		expect(done.steps.s?.output).toEqual({ upTo: 7 });
	});
});
