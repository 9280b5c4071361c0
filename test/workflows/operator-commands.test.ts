/**
 * The operator commands without the engine (workflows/operator-commands.ts) on the memory store: a `RunOperator`
 * over the store and the scheduler writes the command and stops the tasks it names; a `Workflows` that never heard
 * of the command (the workers') finishes the run in its sweep.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
	RunNotFoundError,
	RunOperator,
	RunStateError,
	type RunQuery,
	type RunRecord,
	type WorkflowStore,
} from 'lightsched/workflows';
import { makeFlows, until, untilAborted, type FlowSetup } from './fixture.js';

describe('RunOperator on the memory store', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	/** Flows whose `flaky` step fails until `healed`, `hang` waits for its stop, `ok` returns its params. */
	function flows(): { setup: FlowSetup; heal: () => void; aborted: () => boolean } {
		let healed = false;
		let aborted = false;
		setup = makeFlows('QueueContainer', {
			flaky: () => {
				if (!healed) throw new Error('not yet');
				return 'fixed';
			},
			hang: async (_p, ctx) => {
				await untilAborted(ctx.signal).catch((reason: unknown) => {
					aborted = true;
					throw reason;
				});
			},
			ok: (params) => params,
		});
		setup.flows.define({
			name: 'flaky',
			steps: [
				{ id: 'a', action: 'flaky', maxAttempts: 1 },
				{ id: 'b', action: 'ok', dependsOn: ['a'] },
			],
		});
		setup.flows.define({ name: 'stuck', steps: [{ id: 'hang', action: 'hang' }] });
		setup.flows.define({
			name: 'gated',
			vars: { env: { default: 'prod' } },
			steps: [
				{
					id: 'deploy',
					action: 'ok',
					params: { to: '{{vars.env}}' },
					preCheck: [{ act: 'block', when: [{ source: 'vars', key: 'env', op: 'in', values: ['prod'] }] }],
				},
			],
		});
		return { setup, heal: () => (healed = true), aborted: () => aborted };
	}

	it('retry writes the run open again and dispatches nothing; the sweep of another Workflows finishes it', async () => {
		const { setup, heal } = flows();
		const failed = await setup.flows.wait((await setup.flows.start('flaky')).id);
		expect(failed.status).toBe('failed');
		heal();
		await setup.flows.close();
		const operator = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		const written = await operator.retry(failed.id);
		expect(written).toMatchObject({ status: 'running', open: true });
		expect(written.steps.a).toMatchObject({ status: 'waiting', generation: 1 });
		// The operator does not advance: no step task of a new generation until an engine sweeps.
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(await setup.scheduler.get(`wf:${failed.id}:a:2`)).toBeNull();
		const done = await setup.another().wait(failed.id, { timeoutMs: 5000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
		expect(done.steps.b?.status).toBe('succeeded');
	});

	it('stop stops the running step task itself, with no Workflows running; a later one ends the run stopped', async () => {
		const { setup, aborted } = flows();
		const run = await setup.flows.start('stuck');
		const taskId = `wf:${run.id}:hang:1`;
		await until(async () => (await setup.scheduler.get(taskId))?.status === 'running', 5000, 'the step to run');
		// No engine left: only the operator's own stop can end the task.
		await setup.flows.close();
		const operator = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		expect((await operator.stop(run.id)).status).toBe('stopped');
		await until(async () => (await setup.scheduler.get(taskId))?.status === 'stopped', 5000, 'the task to stop');
		expect(aborted()).toBe(true);
		expect(await setup.store.get(run.id)).toMatchObject({ status: 'stopped', open: true });
		const done = await setup.another().wait(run.id, { timeoutMs: 5000 });
		expect(done).toMatchObject({ status: 'stopped', open: false });
		expect(done.steps.hang?.status).toBe('stopped');
	});

	it('pause --now stops the running step; the engine hands it back, and on resume runs it again', async () => {
		const { setup } = flows();
		const run = await setup.flows.start('stuck');
		const first = `wf:${run.id}:hang:1`;
		await until(async () => (await setup.scheduler.get(first))?.status === 'running', 5000, 'the step to run');
		const operator = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		const paused = await operator.pause(run.id, { now: true });
		expect(paused.status).toBe('paused');
		expect(paused.steps.hang).toMatchObject({ status: 'running', handBack: true });
		await until(
			async () => (await setup.store.get(run.id))?.steps.hang?.status === 'waiting',
			5000,
			'the step to be handed back',
		);
		expect((await setup.scheduler.get(first))?.status).toBe('stopped');
		await operator.resume(run.id);
		const second = `wf:${run.id}:hang:2`;
		await until(
			async () => (await setup.scheduler.get(second))?.status === 'running',
			5000,
			'the step to run again',
		);
		await operator.stop(run.id);
		expect((await setup.flows.wait(run.id, { timeoutMs: 5000 })).status).toBe('stopped');
	});

	it('continue releases a blocked step from a definition it reads from the store', async () => {
		const { setup } = flows();
		const run = await setup.flows.start('gated');
		await until(async () => (await setup.store.get(run.id))?.status === 'blocked', 5000, 'the run to block');
		// A second operator on the store alone: it knows the definition only as stored.
		const operator = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		await operator.continue(run.id, 'deploy');
		const done = await setup.flows.wait(run.id, { timeoutMs: 5000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.deploy?.output).toEqual({ to: 'prod' });
	});

	it('pause, resume, retryFrom and skip write what Workflows would; refusals are its errors', async () => {
		const { setup, heal } = flows();
		const operator = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		const failed = await setup.flows.wait((await setup.flows.start('flaky')).id);
		await expect(operator.stop('nope')).rejects.toBeInstanceOf(RunNotFoundError);
		const refused = await operator.resume(failed.id).catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(RunStateError);
		expect((refused as Error).message).toBe(
			`Workflow run \`${failed.id}\`: \`resume\` needs a run that is paused; this one is failed`,
		);
		await expect(operator.continue(failed.id, 'zz')).rejects.toThrow('names an unknown step `zz`');
		// skip the failed step: the run goes on from it.
		expect((await operator.skip(failed.id, 'a')).steps.a?.status).toBe('skipped');
		const skipped = await setup.flows.wait(failed.id, { timeoutMs: 5000 });
		expect(skipped).toMatchObject({ status: 'succeeded', steps: { b: { status: 'succeeded' } } });
		// retryFrom a, paused first: nothing runs until resume.
		heal();
		const blocked = await setup.flows.start('gated');
		await until(async () => (await setup.store.get(blocked.id))?.status === 'blocked');
		expect((await operator.pause(blocked.id)).status).toBe('paused');
		expect((await operator.retryFrom(failed.id, 'a')).steps.a?.status).toBe('waiting');
		expect((await operator.resume(blocked.id)).status).toBe('running');
		const again = await setup.flows.wait(failed.id, { timeoutMs: 5000 });
		expect(again.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed' });
	});

	it('gives up with ERR_RUN_STATE when every compare-and-set loses', async () => {
		const { setup } = flows();
		const failed = await setup.flows.wait((await setup.flows.start('flaky')).id);
		let writes = 0;
		const losing: WorkflowStore = Object.assign(Object.create(setup.store) as WorkflowStore, {
			get: (id: string) => setup.store.get(id),
			getDefinition: (name: string, version: number) => setup.store.getDefinition(name, version),
			update: async (_run: RunRecord) => {
				writes++;
				return null;
			},
		});
		const operator = new RunOperator({ store: losing, scheduler: setup.scheduler });
		await expect(operator.retry(failed.id)).rejects.toMatchObject({ code: 'ERR_RUN_STATE' });
		expect(writes).toBe(50);
		expect((await setup.store.get(failed.id))?.status).toBe('failed');
	});

	it('retryFailed retries the failed runs of a key, oldest first up to a limit, passing over one retried meanwhile', async () => {
		const { setup, heal } = flows();
		// One at a time, a few milliseconds apart, so their creation times are in order.
		const failedRun = async (key: string) => {
			await new Promise((resolve) => setTimeout(resolve, 3));
			return (await setup.flows.wait((await setup.flows.start('flaky', { key })).id)).id;
		};
		const k1: string[] = [];
		for (let i = 0; i < 4; i++) k1.push(await failedRun('k1'));
		const k2 = await failedRun('k2');
		heal();
		await setup.flows.close();
		const [first, second, third, fourth] = k1 as [string, string, string, string];
		// Another process retries the second run of the key between the listing and its retry.
		const racing: WorkflowStore = Object.assign(Object.create(setup.store) as WorkflowStore, {
			get: (id: string) => setup.store.get(id),
			getDefinition: (name: string, version: number) => setup.store.getDefinition(name, version),
			update: (run: RunRecord) => setup.store.update(run),
			list: async (query: RunQuery) => {
				const page = await setup.store.list(query);
				await new RunOperator({ store: setup.store, scheduler: setup.scheduler }).retry(second);
				return page;
			},
		});
		const operator = new RunOperator({ store: racing, scheduler: setup.scheduler });
		expect(() => operator.retryFailed({ key: 'k1' }, { limit: 0 })).toThrow(/`limit` to be an integer >= 1, got 0/);
		expect(await operator.retryFailed({ key: 'k1' }, { limit: 3 })).toEqual([first, third]);
		expect((await setup.store.get(fourth))?.status).toBe('failed');
		expect((await setup.store.get(k2))?.status).toBe('failed');
		const plain = new RunOperator({ store: setup.store, scheduler: setup.scheduler });
		expect(await plain.retryFailed({ key: 'k1' })).toEqual([fourth]);
		expect((await setup.store.get(k2))?.status).toBe('failed');
		const engine = setup.another();
		for (const id of k1) expect((await engine.wait(id, { timeoutMs: 5000 })).status).toBe('succeeded');
		expect((await setup.store.get(k2))?.status).toBe('failed');
	});
});
