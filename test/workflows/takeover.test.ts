/**
 * A process that dies mid-run: a second Workflows instance on the same scheduler and store (another process's
 * view) finishes what the first began. Also checkpoints and traces, and bulk retry by key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ContainerError, type NewTask } from 'lightsched';
import { TRACE_LIMITS } from 'lightsched/workflows';
import { CONTAINER_KINDS, gate, makeFlows, until, type FlowSetup } from './fixture.js';

describe.each(CONTAINER_KINDS)('Workflow takeover on %s', (kind) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	const definition = {
		name: 'chain',
		steps: [
			{ id: 'a', action: 'work' },
			{ id: 'b', action: 'work', dependsOn: ['a'] },
			{ id: 'c', action: 'work', dependsOn: ['b'] },
		],
	};

	it('a process dies between a step success and the next start: another finishes the run by its sweep, no step run twice', async () => {
		const release = gate();
		const count: Record<string, number> = {};
		setup = makeFlows(
			kind,
			{
				work: async (_p, ctx) => {
					count[ctx.stepId] = (count[ctx.stepId] ?? 0) + 1;
					if (ctx.stepId === 'a') await release.promise;
					return ctx.stepId;
				},
			},
			{ sweepMs: 60_000 },
		);
		const { flows, scheduler } = setup;
		flows.define(definition);
		const run = await flows.start('chain');
		await until(() => count.a === 1);
		await flows.close(); // the process "dies": it no longer hears step ends nor sweeps
		release.open();
		await until(async () => (await scheduler.get(`wf:${run.id}:a:1`))?.status === 'succeeded');
		expect((await setup.store.get(run.id))?.steps.a?.status).toBe('running');
		const other = setup.another({ sweepMs: 50 });
		other.define(definition);
		const done = await other.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(count).toEqual({ a: 1, b: 1, c: 1 });
		expect(Object.values(done.steps).map((s) => s.generation)).toEqual([1, 1, 1]);
	});

	it('a process dies after storing a dispatch but before adding its task: another adds the same task after the grace', async () => {
		const count: Record<string, number> = {};
		setup = makeFlows(
			kind,
			{ work: (_p, ctx) => void (count[ctx.stepId] = (count[ctx.stepId] ?? 0) + 1) },
			{ sweepMs: 60_000 },
		);
		const { flows, scheduler } = setup;
		flows.define(definition);
		const add = scheduler.add.bind(scheduler) as (task: NewTask) => Promise<unknown>;
		const errors: Error[] = [];
		flows.on('error', (error) => errors.push(error));
		let refused = 0;
		(scheduler as { add: unknown }).add = async (task: NewTask): Promise<unknown> => {
			if (task.id?.includes(':b:') === true) {
				refused += 1;
				throw new ContainerError('injected: the process died here');
			}
			return add(task);
		};
		const run = await flows.start('chain');
		await until(() => refused === 1);
		await flows.close();
		(scheduler as { add: unknown }).add = add;
		const stored = await setup.store.get(run.id);
		expect(stored?.steps.b).toMatchObject({ status: 'running', generation: 1 });
		expect(await scheduler.get(`wf:${run.id}:b:1`)).toBeNull();
		expect(errors.map((e) => e.message)).toEqual(['injected: the process died here']);
		const other = setup.another({ sweepMs: 50, dispatchGraceMs: 200 });
		other.define(definition);
		const done = await other.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(count).toEqual({ a: 1, b: 1, c: 1 });
		expect(done.steps.b?.generation).toBe(1);
	});

	it('two live instances advancing the same runs: every step runs once', async () => {
		const count = new Map<string, number>();
		setup = makeFlows(
			kind,
			{
				work: (_p, ctx) =>
					void count.set(`${ctx.runId}:${ctx.stepId}`, (count.get(`${ctx.runId}:${ctx.stepId}`) ?? 0) + 1),
			},
			{ sweepMs: 20 },
		);
		const { flows } = setup;
		const other = setup.another({ sweepMs: 20 });
		flows.define(definition);
		other.define(definition);
		const runs = await Promise.all(
			Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? flows : other).start('chain')),
		);
		for (const run of runs) expect((await flows.wait(run.id)).status).toBe('succeeded');
		expect(count.size).toBe(60);
		expect([...count.values()].every((n) => n === 1)).toBe(true);
	});

	it('checkpoints reach the next attempt; the trace is persisted and bounded', async () => {
		const saw: unknown[] = [];
		setup = makeFlows(kind, {
			work: async (_p, ctx) => {
				saw.push([ctx.attempt, ctx.saved]);
				if (ctx.attempt === 1) {
					await ctx.checkpoint({ at: 3 });
					await ctx.trace('first attempt');
					throw new Error('try again');
				}
				for (let i = 0; i < TRACE_LIMITS.lines + 50; i++)
					await ctx.trace(i === TRACE_LIMITS.lines + 49 ? 'x'.repeat(3000) : `line ${i}`);
				return 'ok';
			},
		});
		const { flows } = setup;
		flows.define({ name: 'ckpt', steps: [{ id: 's', action: 'work', maxAttempts: 2 }] });
		const done = await flows.wait((await flows.start('ckpt')).id);
		expect(done.status).toBe('succeeded');
		expect(saw).toEqual([
			[1, undefined],
			[2, { at: 3 }],
		]);
		const trace = done.steps.s?.trace ?? [];
		expect(trace).toHaveLength(TRACE_LIMITS.lines);
		expect(trace[0]).toBe('line 50');
		expect(trace.at(-1)).toBe(`${'x'.repeat(TRACE_LIMITS.lineLength)}…`);
		expect(done.steps.s?.checkpoint).toEqual({ at: 3 });
	});

	/** A `bulk` definition of one step that fails until `recover()` is called. */
	function failingBulk(): { flows: FlowSetup['flows']; recover(): void } {
		let failing = true;
		setup = makeFlows(kind, {
			work: () => {
				if (failing) throw new Error('down');
			},
		});
		setup.flows.define({ name: 'bulk', steps: [{ id: 's', action: 'work' }] });
		return { flows: setup.flows, recover: () => (failing = false) };
	}

	it('retryFailed retries the failed runs of a key, and only those', async () => {
		const { flows, recover } = failingBulk();
		const mine = await Promise.all([1, 2, 3].map(() => flows.start('bulk', { key: 'batch-7' })));
		const other = await flows.start('bulk', { key: 'batch-8' });
		for (const run of [...mine, other]) await flows.wait(run.id);
		recover();
		const retried = await flows.retryFailed({ key: 'batch-7' });
		expect(retried.sort()).toEqual(mine.map((r) => r.id).sort());
		for (const run of mine) expect((await flows.wait(run.id)).status).toBe('succeeded');
		expect((await flows.get(other.id))?.status).toBe('failed');
		expect((await flows.list({ key: 'batch-7', status: 'succeeded' })).total).toBe(3);
	});

	it('retryFailed with a limit retries the oldest failed runs of a key first, and refuses a limit below 1', async () => {
		const { flows, recover } = failingBulk();
		const runs = [];
		for (let i = 0; i < 3; i++) {
			runs.push(await flows.start('bulk', { key: 'batch-9' }));
			await new Promise((resolve) => setTimeout(resolve, 3)); // created in distinct milliseconds: listed in order
		}
		for (const run of runs) await flows.wait(run.id);
		recover();
		expect(() => flows.retryFailed({ key: 'batch-9' }, { limit: 0 })).toThrow(
			/`limit` to be an integer >= 1, got 0/,
		);
		const retried = await flows.retryFailed({ key: 'batch-9' }, { limit: 2 });
		expect(retried).toEqual([runs[0]?.id, runs[1]?.id]);
		for (const id of retried) expect((await flows.wait(id)).status).toBe('succeeded');
		expect((await flows.get(runs[2]?.id as string))?.status).toBe('failed');
	});
});
