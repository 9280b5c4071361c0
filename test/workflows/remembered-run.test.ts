/**
 * At a step's end the advance plans from the run record this process last wrote instead of reading it; a write by
 * another process in between must win. Two processes' views on one SQL database (two SqlContainers and
 * SqlWorkflowStores): A runs the steps, B (whose scheduler never claims) pauses the run while A's step runs. When
 * the step ends, A's remembered record still says `running`: the next step must not start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { gate, until } from './fixture.js';

const backends: Record<string, SqlBackend | undefined> = {};
beforeAll(async () => {
	backends['SQLite'] = sqliteBackend();
	backends['PostgreSQL'] = await postgresBackend();
}, 120_000);
afterAll(async () => {
	for (const backend of Object.values(backends)) await backend?.stop();
});

describe.each(['SQLite', 'PostgreSQL'])('A remembered run record on %s', (name) => {
	it('a pause written by another process while a step runs holds the next step when that step ends', async () => {
		const database = await (backends[name] as SqlBackend).freshDatabase();
		const release = gate();
		const started: string[] = [];
		const handlers = {
			work: async (_params: unknown, ctx: { stepId: string }) => {
				started.push(ctx.stepId);
				if (ctx.stepId === 'a') await release.promise;
				return ctx.stepId;
			},
		};
		const definition = {
			name: 'chain',
			steps: [
				{ id: 'a', action: 'work' },
				{ id: 'b', action: 'work', dependsOn: ['a'] },
			],
		};
		const open = (autoStart: boolean) => {
			// Each process has its own actions (they attach to one store).
			const actions = workflowActions(handlers);
			const container = new SqlContainer({ knex: database });
			const scheduler = new Scheduler({
				container,
				actuator: new FunctionActuator(actions),
				autoStart,
				pollIntervalMs: 20,
			});
			const store = new SqlWorkflowStore({ container });
			const flows = new Workflows({ scheduler, actions, store, sweepMs: 60_000 });
			flows.define(definition);
			return { scheduler, flows, store };
		};
		const a = open(true);
		const b = open(false);
		try {
			const run = await a.flows.start('chain');
			await until(() => started.includes('a'), 10_000, 'step a to start');
			const paused = await b.flows.pause(run.id);
			expect(paused.status).toBe('paused');
			release.open();
			await until(
				async () => (await a.store.get(run.id))?.steps['a']?.status === 'succeeded',
				10_000,
				'step a to be recorded as succeeded',
			);
			// Time for a wrongly released step b to be added and claimed (A polls every 20 ms).
			await new Promise((resolve) => setTimeout(resolve, 500));
			const stored = await a.store.get(run.id);
			expect(stored?.status).toBe('paused');
			expect(stored?.steps['b']?.status).toBe('waiting');
			expect(started).toEqual(['a']);
			await b.flows.resume(run.id);
			const done = await a.flows.wait(run.id, { timeoutMs: 10_000 });
			expect(done.status).toBe('succeeded');
			expect(started).toEqual(['a', 'b']);
		} finally {
			release.open();
			for (const side of [b, a]) {
				await side.flows.close();
				await side.scheduler.close();
				await side.store.close();
			}
		}
	}, 30_000);
});
