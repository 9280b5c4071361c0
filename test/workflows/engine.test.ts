/** The engine on the in-process containers: chains, DAGs, failures, templates, shared data, gates. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRecord } from 'lightsched/workflows';
import { CONTAINER_KINDS, gate, makeFlows, type FlowSetup } from './fixture.js';

describe.each(CONTAINER_KINDS)('Workflows on %s', (kind) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	it('runs a chain in order, each step getting the output of the one before', async () => {
		const order: string[] = [];
		setup = makeFlows(kind, {
			first: (params) => {
				order.push('first');
				return { n: params.start };
			},
			next: (params, ctx) => {
				order.push(ctx.stepId);
				const before = Object.values(ctx.inputs)[0] as { n: number };
				return { n: before.n * 2 };
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'chain',
			vars: { start: { default: 1 } },
			steps: [
				{ id: 'a', action: 'first', params: { start: '{{vars.start}}' } },
				{ id: 'b', action: 'next', dependsOn: ['a'] },
				{ id: 'c', action: 'next', dependsOn: ['b'] },
			],
		});
		const run = await flows.start('chain', { vars: { start: 5 } });
		expect(run.status).toBe('running');
		const done = await flows.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(order).toEqual(['first', 'b', 'c']);
		expect(done.steps.c?.output).toEqual({ n: 20 });
		expect(Object.values(done.steps).map((s) => [s.status, s.generation, s.attempts])).toEqual([
			['succeeded', 1, 1],
			['succeeded', 1, 1],
			['succeeded', 1, 1],
		]);
		expect(done.open).toBe(false);
		expect(done.finishedAt).not.toBeNull();
	});

	it('emits typed events, one payload object each, in the order the changes were stored', async () => {
		setup = makeFlows(kind, { work: () => 'ok' });
		const { flows } = setup;
		const seen: string[] = [];
		for (const name of ['run:created', 'run:status', 'run:finished', 'step:started', 'step:succeeded'] as const) {
			flows.on(name, (event) => {
				const stepId = 'stepId' in event ? ` ${event.stepId} ${event.step.status}` : '';
				const from = 'from' in event ? ` ${event.from}->${event.run.status}` : '';
				seen.push(`${name}${stepId}${from}`);
			});
		}
		flows.define({
			name: 'evented',
			steps: [
				{ id: 'a', action: 'work' },
				{ id: 'b', action: 'work', dependsOn: ['a'] },
			],
		});
		await flows.wait((await flows.start('evented')).id);
		expect(seen).toEqual([
			'run:created',
			'step:started a running',
			'run:status waiting->running',
			'step:succeeded a succeeded',
			'step:started b running',
			'step:succeeded b succeeded',
			'run:status running->succeeded',
			'run:finished',
		]);
	});

	it('fans out and joins: the branches run together, the join gets both outputs and starts after both', async () => {
		const started: string[] = [];
		const both = gate();
		setup = makeFlows(kind, {
			root: () => 'root',
			branch: async (_params, ctx) => {
				started.push(ctx.stepId);
				if (started.length === 2) both.open();
				await both.promise;
				return `${ctx.stepId}:${String(ctx.inputs.root)}`;
			},
			join: (_params, ctx) => ({ ...ctx.inputs }),
		});
		const { flows } = setup;
		flows.define({
			name: 'dag',
			steps: [
				{ id: 'root', action: 'root' },
				{ id: 'left', action: 'branch', dependsOn: ['root'] },
				{ id: 'right', action: 'branch', dependsOn: ['root'] },
				{ id: 'join', action: 'join', dependsOn: ['left', 'right'] },
			],
		});
		const done = await flows.wait((await flows.start('dag')).id);
		expect(done.status).toBe('succeeded');
		expect(started.sort()).toEqual(['left', 'right']);
		expect(done.steps.join?.output).toEqual({ left: 'left:root', right: 'right:root' });
	});

	it('skipOnFailed: a step that fails for good counts as skipped and the run goes on; without it the run fails and its dependents never start', async () => {
		let calls = 0;
		let after = 0;
		setup = makeFlows(kind, {
			flaky: () => {
				calls += 1;
				throw Object.assign(new Error('dns down'), { code: 'E_DNS' });
			},
			after: () => {
				after += 1;
				return 'ok';
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'skippy',
			steps: [
				{ id: 'dns', action: 'flaky', maxAttempts: 2, skipOnFailed: true },
				{ id: 'after', action: 'after', dependsOn: ['dns'] },
			],
		});
		flows.define({
			name: 'strict',
			steps: [
				{ id: 'dns', action: 'flaky', maxAttempts: 2 },
				{ id: 'after', action: 'after', dependsOn: ['dns'] },
			],
		});
		const skipped = await flows.wait((await flows.start('skippy')).id);
		expect(skipped.status).toBe('succeeded');
		expect(skipped.steps.dns).toMatchObject({
			status: 'skipped',
			attempts: 2,
			error: { code: 'E_DNS', message: 'dns down' },
		});
		expect(skipped.steps.after?.status).toBe('succeeded');
		expect(calls).toBe(2);
		const failed = await flows.wait((await flows.start('strict')).id);
		expect(failed.status).toBe('failed');
		expect(failed.error).toEqual({ code: 'E_DNS', message: 'Step `dns` failed: dns down' });
		expect(failed.steps.after?.status).toBe('waiting');
		expect(after).toBe(1);
	});

	it('renders templates when a step starts (a whole-string template keeps its type), from vars and from shared data a step wrote', async () => {
		const seen: unknown[] = [];
		setup = makeFlows(kind, {
			login: async (_params, ctx) => {
				await ctx.shared.set('token', 'T-42');
				return null;
			},
			use: (params) => {
				seen.push(params);
				return params;
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'templated',
			vars: { region: { default: 'eu' }, nodes: { default: 3 } },
			steps: [
				{ id: 'login', action: 'login' },
				{
					id: 'use',
					action: 'use',
					dependsOn: ['login'],
					params: {
						count: '{{vars.nodes}}',
						url: 'https://{{ vars.region }}.example/{{shared.token}}',
						list: ['{{shared.token}}', 1],
					},
				},
			],
		});
		const done = await flows.wait((await flows.start('templated', { vars: { region: 'us' } })).id);
		expect(done.status).toBe('succeeded');
		expect(seen).toEqual([{ count: 3, url: 'https://us.example/T-42', list: ['T-42', 1] }]);
		expect(done.shared).toEqual({ token: 'T-42' });
	});

	it('a template naming a key the run does not hold fails the step with ERR_TEMPLATE_MISSING_KEY; its action never runs', async () => {
		let ran = 0;
		setup = makeFlows(kind, {
			use: () => {
				ran += 1;
				return null;
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'missing',
			vars: { region: {} },
			steps: [{ id: 'use', action: 'use', params: { token: 'x-{{shared.token}}' } }],
		});
		flows.define({
			name: 'missing-var',
			vars: { region: {} },
			steps: [{ id: 'use', action: 'use', params: { region: '{{vars.region}}' } }],
		});
		const done = await flows.wait((await flows.start('missing')).id);
		expect(done.status).toBe('failed');
		expect(done.steps.use?.error).toEqual({
			code: 'ERR_TEMPLATE_MISSING_KEY',
			message: 'Step `use`: `params.token` names `{{shared.token}}`, which the run does not hold',
		});
		const noVar = await flows.wait((await flows.start('missing-var')).id);
		expect(noVar.steps.use?.error?.code).toBe('ERR_TEMPLATE_MISSING_KEY');
		expect(ran).toBe(0);
	});

	it('steps running together write different shared keys and lose none', async () => {
		setup = makeFlows(kind, {
			write: async (params, ctx) => {
				for (let i = 0; i < 15; i++) await ctx.shared.set(`${String(params.prefix)}${i}`, i);
				return null;
			},
		});
		const { flows } = setup;
		flows.define({
			name: 'writers',
			steps: ['a', 'b', 'c'].map((prefix) => ({ id: prefix, action: 'write', params: { prefix } })),
		});
		const done = await flows.wait((await flows.start('writers')).id);
		expect(done.status).toBe('succeeded');
		expect(Object.keys(done.shared)).toHaveLength(45);
	});

	it('gates: rules in written order, first match wins; skip counts as success; block waits for continue', async () => {
		const ran: string[] = [];
		setup = makeFlows(kind, { work: (_p, ctx) => void ran.push(ctx.stepId) });
		const { flows } = setup;
		flows.define({
			name: 'gated',
			vars: { env: { default: 'prod' }, tier: { default: 'gold' } },
			steps: [
				{
					id: 'optional',
					action: 'work',
					preCheck: [
						{ act: 'skip', when: [{ source: 'vars', key: 'env', op: 'in', values: ['prod', 'staging'] }] },
						{ act: 'block', when: [{ source: 'vars', key: 'env', op: 'exists' }] },
					],
				},
				{
					id: 'approve',
					action: 'work',
					dependsOn: ['optional'],
					preCheck: [
						{
							act: 'block',
							when: [
								{ source: 'vars', key: 'tier', op: 'not-in', values: ['bronze'] },
								{ source: 'shared', key: 'nope', op: 'exists' },
							],
						},
						{ act: 'block', when: [{ source: 'vars', key: 'tier', op: 'in', values: ['gold'] }] },
					],
				},
				{ id: 'after', action: 'work', dependsOn: ['approve'] },
			],
		});
		const run = await flows.start('gated');
		const blocked = (await flows.get(run.id)) as RunRecord;
		expect(blocked.status).toBe('blocked');
		expect(blocked.steps.optional?.status).toBe('skipped');
		expect(blocked.steps.approve?.status).toBe('blocked');
		expect(ran).toEqual([]);
		await expect(flows.continue(run.id, 'after')).rejects.toThrow(
			'`continue` needs a blocked step; step `after` is waiting',
		);
		const continued = await flows.continue(run.id, 'approve');
		expect(continued.status).toBe('running');
		const done = await flows.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(ran).toEqual(['approve', 'after']);
		expect(done.steps.approve?.continued).toBe(true);
		// A missing key is false: `not-in` on an undeclared shared key does not match.
		const other = await flows.start('gated', { vars: { env: 'dev', tier: 'bronze' } });
		expect((await flows.get(other.id))?.steps.optional?.status).toBe('blocked');
	});
});
