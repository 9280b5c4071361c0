/** `start(name, { id })`: the caller's run id, refused a second time (idempotent start), checked when given. */
import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateRunError, parseStepTaskId, stepTaskId } from 'lightsched/workflows';
import { makeFlows, type FlowSetup } from './fixture.js';

describe('start with a caller-given id', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	function chain(): FlowSetup {
		// No periodic sweep within the test: the run advances only on the step ends it hears of (its task ids).
		setup = makeFlows('QueueContainer', { echo: (params) => ({ got: params.n }) }, { sweepMs: 60_000 });
		setup.flows.define({
			name: 'chain',
			vars: { n: { default: 1 } },
			steps: [
				{ id: 'a', action: 'echo', params: { n: '{{vars.n}}' } },
				{ id: 'b', action: 'echo', dependsOn: ['a'] },
			],
		});
		return setup;
	}

	it('runs under the given id, colons included (step ends are heard), and refuses a second start with it', async () => {
		const { flows } = chain();
		const run = await flows.start('chain', { id: 'order:42:create', vars: { n: 7 } });
		expect(run.id).toBe('order:42:create');
		const done = await flows.wait(run.id, { timeoutMs: 3000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.a?.output).toEqual({ got: 7 });

		const again = flows.start('chain', { id: 'order:42:create', vars: { n: 8 } });
		await expect(again).rejects.toBeInstanceOf(DuplicateRunError);
		await expect(again).rejects.toMatchObject({ code: 'ERR_DUPLICATE_RUN' });
		const stored = await flows.get('order:42:create');
		expect(stored?.vars).toEqual({ n: 7 });
		expect((await flows.list({ definition: 'chain' })).runs).toHaveLength(1);
	});

	it('refuses a second start with the same id while the first runs', async () => {
		const { flows } = chain();
		const both = await Promise.allSettled([
			flows.start('chain', { id: 'same' }),
			flows.start('chain', { id: 'same' }),
		]);
		expect(both.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
		const refused = both.find((s) => s.status === 'rejected') as PromiseRejectedResult;
		expect(refused.reason).toBeInstanceOf(DuplicateRunError);
	});

	it('checks the id: a non-empty, well-formed string of at most 256 characters', async () => {
		const { flows } = chain();
		for (const bad of ['', 42, null, 'x'.repeat(257), 'a\uD800b']) {
			await expect(flows.start('chain', { id: bad as string })).rejects.toThrow(
				/Expected `id` to be a non-empty string of at most 256 characters/,
			);
		}
		expect((await flows.start('chain', { id: 'y'.repeat(256) })).id).toHaveLength(256);
		expect((await flows.list({})).runs).toHaveLength(1);
	});

	it('parses the step task ids of run ids that hold colons', () => {
		expect(parseStepTaskId(stepTaskId('schedule:nightly:1700000000000', 'dns', 3))).toEqual({
			runId: 'schedule:nightly:1700000000000',
			stepId: 'dns',
			generation: 3,
		});
		expect(parseStepTaskId('wf::dns:1')).toBeNull();
		expect(parseStepTaskId('wf:run:dns')).toBeNull();
		expect(parseStepTaskId('wf:run:dns:0')).toBeNull();
	});
});
