/** Operator commands, deadlines and callbacks on the in-process containers. */
import { afterEach, describe, expect, it } from 'vitest';
import { RunStateError, type RunRecord } from 'lightsched/workflows';
import { CONTAINER_KINDS, gate, makeFlows, until, untilAborted, type FlowSetup } from './fixture.js';

describe.each(CONTAINER_KINDS)('Workflow commands on %s', (kind) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	it('stop: the running step is really stopped (its signal aborts), waiting ones never start; the run ends stopped; a second stop is refused', async () => {
		const calls: string[] = [];
		let aborted = false;
		setup = makeFlows(kind, {
			slow: async (_p, ctx) => {
				calls.push(ctx.stepId);
				await untilAborted(ctx.signal).catch((reason: unknown) => {
					aborted = true;
					throw reason;
				});
			},
			fast: (_p, ctx) => void calls.push(ctx.stepId),
		});
		const { flows, scheduler } = setup;
		flows.define({
			name: 'stoppable',
			steps: [
				{ id: 'slow', action: 'slow' },
				{ id: 'next', action: 'fast', dependsOn: ['slow'] },
			],
		});
		const run = await flows.start('stoppable');
		await until(() => calls.length === 1, 5000, 'the slow step to start');
		const stopped = await flows.stop(run.id);
		expect(stopped.status).toBe('stopped');
		expect(stopped.steps.next?.status).toBe('stopped');
		const done = await flows.wait(run.id);
		expect(done.steps.slow?.status).toBe('stopped');
		expect(aborted).toBe(true);
		expect(calls).toEqual(['slow']);
		expect((await scheduler.get(`wf:${run.id}:slow:1`))?.status).toBe('stopped');
		const error = await flows.stop(run.id).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(RunStateError);
		expect((error as Error).message).toBe(
			`Workflow run \`${run.id}\`: \`stop\` needs a run that is waiting, running, paused, blocked; this one is stopped`,
		);
		await expect(flows.resume(run.id)).rejects.toThrow('`resume` needs a run that is paused; this one is stopped');
		await expect(flows.stop('nope')).rejects.toThrow('No workflow run with id `nope`');
	});

	it('pause lets the running step finish and starts nothing new until resume', async () => {
		const release = gate();
		const ran: string[] = [];
		setup = makeFlows(kind, {
			first: async () => {
				ran.push('first');
				await release.promise;
				return 1;
			},
			second: () => void ran.push('second'),
		});
		const { flows } = setup;
		flows.define({
			name: 'pausable',
			steps: [
				{ id: 'a', action: 'first' },
				{ id: 'b', action: 'second', dependsOn: ['a'] },
			],
		});
		const run = await flows.start('pausable');
		await until(() => ran.length === 1);
		expect((await flows.pause(run.id)).status).toBe('paused');
		await expect(flows.pause(run.id)).rejects.toThrow(
			'`pause` needs a run that is waiting, running, blocked; this one is paused',
		);
		release.open();
		await until(async () => (await flows.get(run.id))?.steps.a?.status === 'succeeded');
		await flows.sweep();
		const paused = (await flows.get(run.id)) as RunRecord;
		expect(paused.status).toBe('paused');
		expect(paused.steps.b?.status).toBe('waiting');
		expect(ran).toEqual(['first']);
		await flows.resume(run.id);
		expect((await flows.wait(run.id)).status).toBe('succeeded');
		expect(ran).toEqual(['first', 'second']);
	});

	it('pause({ now: true }) stops the running step and hands it back: on resume it runs again, given its checkpoint', async () => {
		const saw: unknown[] = [];
		setup = makeFlows(kind, {
			long: async (_p, ctx) => {
				saw.push(ctx.saved);
				if (ctx.saved === undefined) {
					await ctx.checkpoint({ done: 7 });
					await untilAborted(ctx.signal);
				}
				return 'resumed';
			},
		});
		const { flows } = setup;
		flows.define({ name: 'handback', steps: [{ id: 'long', action: 'long' }] });
		const run = await flows.start('handback');
		await until(async () => (await flows.get(run.id))?.steps.long?.checkpoint !== null);
		await flows.pause(run.id, { now: true });
		await until(
			async () => (await flows.get(run.id))?.steps.long?.status === 'waiting',
			5000,
			'the step handed back',
		);
		const paused = (await flows.get(run.id)) as RunRecord;
		expect(paused.status).toBe('paused');
		await flows.resume(run.id);
		const done = await flows.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(done.steps.long).toMatchObject({ status: 'succeeded', generation: 2, output: 'resumed' });
		expect(saw).toEqual([undefined, { done: 7 }]);
	});

	it('retry runs only the failed step and what depends on it; retryFrom runs a step and everything downstream, not upstream', async () => {
		const count: Record<string, number> = {};
		let failOnce = true;
		setup = makeFlows(kind, {
			step: (_p, ctx) => {
				count[ctx.stepId] = (count[ctx.stepId] ?? 0) + 1;
				if (ctx.stepId === 'b' && failOnce) {
					failOnce = false;
					throw new Error('b broke');
				}
				return ctx.stepId;
			},
		});
		const { flows } = setup;
		// a -> b -> c, a -> d (d independent of b)
		flows.define({
			name: 'retryable',
			steps: [
				{ id: 'a', action: 'step' },
				{ id: 'b', action: 'step', dependsOn: ['a'] },
				{ id: 'c', action: 'step', dependsOn: ['b'] },
				{ id: 'd', action: 'step', dependsOn: ['a'] },
			],
		});
		const run = await flows.start('retryable');
		const failed = await flows.wait(run.id);
		expect(failed.status).toBe('failed');
		expect(failed.steps.c?.status).toBe('waiting');
		await expect(flows.retryFrom(run.id, 'zz')).rejects.toThrow(
			'`retryFrom` names an unknown step `zz` (steps: a, b, c, d)',
		);
		await flows.retry(run.id);
		const retried = await flows.wait(run.id);
		expect(retried.status).toBe('succeeded');
		expect(count).toEqual({ a: 1, b: 2, c: 1, d: 1 });
		expect(retried.steps.b?.generation).toBe(2);
		await expect(flows.retry(run.id)).rejects.toThrow(
			'`retry` needs a run that is failed, stopped; this one is succeeded',
		);
		await flows.retryFrom(run.id, 'b');
		const again = await flows.wait(run.id);
		expect(again.status).toBe('succeeded');
		expect(count).toEqual({ a: 1, b: 3, c: 2, d: 1 });
		expect(again.steps.c?.generation).toBe(2);
	});

	it('skip: a failed step counts as skipped and the run goes on from it', async () => {
		const ran: string[] = [];
		setup = makeFlows(kind, {
			bad: () => {
				throw new Error('no');
			},
			good: (_p, ctx) => void ran.push(ctx.stepId),
		});
		const { flows } = setup;
		flows.define({
			name: 'skippable',
			steps: [
				{ id: 'bad', action: 'bad' },
				{ id: 'good', action: 'good', dependsOn: ['bad'] },
			],
		});
		const run = await flows.start('skippable');
		expect((await flows.wait(run.id)).status).toBe('failed');
		await expect(flows.skip(run.id, 'good')).resolves.toBeDefined();
		const done = await flows.wait(run.id);
		// Skipping `good` alone leaves `bad` failed: the run fails again.
		expect(done.status).toBe('failed');
		await flows.skip(run.id, 'bad');
		await expect(flows.skip(run.id, 'bad')).rejects.toThrow(
			/`skip` needs a step that is waiting, blocked, failed or stopped; step `bad` is skipped|needs a run/,
		);
		const finished = await flows.wait(run.id);
		expect(finished.status).toBe('succeeded');
		expect(ran).toEqual([]);
	});

	it('a deadline fails the run with ERR_RUN_DEADLINE and stops its running step', async () => {
		let aborted = false;
		setup = makeFlows(kind, {
			hang: async (_p, ctx) => {
				await untilAborted(ctx.signal).catch((reason: unknown) => {
					aborted = true;
					throw reason;
				});
			},
		});
		const { flows } = setup;
		flows.define({ name: 'late', deadlineMs: 150, steps: [{ id: 'hang', action: 'hang' }] });
		const run = await flows.start('late');
		expect(run.deadlineAt).toBe(run.createdAt + 150);
		const done = await flows.wait(run.id);
		expect(done.status).toBe('failed');
		expect(done.error?.code).toBe('ERR_RUN_DEADLINE');
		expect(done.steps.hang?.status).toBe('stopped');
		expect(aborted).toBe(true);
	});

	it('onFinished is called once per final status (again after a retry ends it again), never by later sweeps', async () => {
		const calls: string[] = [];
		let fail = true;
		setup = makeFlows(kind, {
			work: () => {
				if (fail) throw new Error('first time');
				return 'ok';
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'called',
			steps: [{ id: 'w', action: 'work' }],
			onFinished: (run) => void calls.push(`${run.id}:${run.status}`),
		});
		const run = await flows.start('called');
		expect((await flows.wait(run.id)).notified).toBe('failed');
		for (let i = 0; i < 3; i++) await flows.sweep();
		expect(calls).toEqual([`${run.id}:failed`]);
		fail = false;
		await flows.retry(run.id);
		await flows.wait(run.id);
		for (let i = 0; i < 3; i++) await flows.sweep();
		expect(calls).toEqual([`${run.id}:failed`, `${run.id}:succeeded`]);
	});

	it('a unique key refuses a second unfinished run with it; once the first is finished the key is free', async () => {
		const release = gate();
		setup = makeFlows(kind, { work: () => release.promise });
		const { flows } = setup;
		flows.define({ name: 'keyed', steps: [{ id: 'w', action: 'work' }] });
		const first = await flows.start('keyed', { key: 'cluster-42', unique: true });
		await expect(flows.start('keyed', { key: 'cluster-42', unique: true })).rejects.toMatchObject({
			code: 'ERR_DUPLICATE_RUN',
			key: 'cluster-42',
		});
		// Not unique: allowed beside it.
		const plain = await flows.start('keyed', { key: 'cluster-42' });
		release.open();
		await flows.wait(first.id);
		await flows.wait(plain.id);
		const second = await flows.start('keyed', { key: 'cluster-42', unique: true });
		await flows.wait(second.id);
		const page = await flows.list({ key: 'cluster-42' });
		expect(page.total).toBe(3);
	});
});
