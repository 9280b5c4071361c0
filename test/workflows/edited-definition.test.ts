/**
 * A run advances by the definition it started with. A process whose definition of the same name and version has
 * another body (edited without a new version) must not drive other processes' runs with it: it advances them by the
 * stored body. Before the fix it used its own body: here it dispatched a step the run does not have.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions, WorkflowDefinitionError } from 'lightsched/workflows';
import { sqliteBackend } from '../support/sql.js';

const backend = sqliteBackend();

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closing.splice(0).reverse()) await close();
});
afterAll(() => backend.stop());

it('advances a run by its stored definition, not by an edited one of the same version in another process', async () => {
	const calls: string[] = [];
	// One set of actions a process (each is attached to its process's store).
	const actions = () =>
		workflowActions({
			a: () => void calls.push('a'),
			b: () => void calls.push('b'),
			c: () => void calls.push('c'),
		});
	const [starterActions, workerActions] = [actions(), actions()];
	// Two processes on one SQLite database (their runs in its SqlWorkflowStore): the one that starts runs claims
	// nothing and sweeps seldom; the worker runs (and advances) every step.
	const knex = await backend.freshDatabase();
	const first = new SqlContainer({ knex });
	await first.migrate();
	const starter = new Scheduler({
		container: first,
		actuator: new FunctionActuator(starterActions),
		autoStart: false,
	});
	const worker = new Scheduler({
		container: new SqlContainer({ knex }),
		actuator: new FunctionActuator(workerActions),
	});
	const atStarter = new Workflows({ scheduler: starter, actions: starterActions, sweepMs: 600_000 });
	const atWorker = new Workflows({ scheduler: worker, actions: workerActions, sweepMs: 50 });
	const errors: Error[] = [];
	atWorker.on('error', (error) => errors.push(error));
	closing.push(async () => {
		await atWorker.close();
		await atStarter.close();
		await worker.close();
		await starter.close();
	});
	atStarter.define({
		name: 'deploy',
		version: 1,
		steps: [
			{ id: 'a', action: 'a' },
			{ id: 'b', action: 'b', dependsOn: ['a'] },
		],
	});
	// Edited, the version left as it was.
	atWorker.define({
		name: 'deploy',
		version: 1,
		steps: [
			{ id: 'a', action: 'a' },
			{ id: 'c', action: 'c', dependsOn: ['a'] },
		],
	});
	const run = await atStarter.start('deploy');
	const done = await atWorker.wait(run.id, { timeoutMs: 5000 });
	expect(done.status).toBe('succeeded');
	expect(Object.keys(done.steps).sort()).toEqual(['a', 'b']);
	expect(calls.sort()).toEqual(['a', 'b']);
	expect(errors).toEqual([]);
	// The worker still cannot start its edited body under that version.
	await expect(atWorker.start('deploy')).rejects.toThrow(WorkflowDefinitionError);
});
