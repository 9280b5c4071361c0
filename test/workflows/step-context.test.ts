/**
 * A handler's context (`StepContext`, workflows/actions.ts): its functions work taken off the context
 * (destructured), each the same function when read again, and a handler that returns at once ends its step.
 */
import { describe, expect, it } from 'vitest';
import type { StepContext } from 'lightsched/workflows';
import { makeFlows } from './fixture.js';

describe('StepContext', () => {
	it('works destructured: shared, checkpoint, trace, progress and signal taken off the context', async () => {
		const seen: { same: boolean; aborted: boolean; keys: string[]; got: unknown }[] = [];
		const setup = makeFlows('QueueContainer', {
			work: async (_params, ctx: StepContext) => {
				const { shared, checkpoint, trace, progress, signal, runId, stepId, attempt, saved } = ctx;
				await shared.set('k', { runId, stepId, attempt, saved: saved ?? null });
				await checkpoint({ at: 1 });
				await trace('one');
				progress(0.5);
				seen.push({
					same: ctx.shared === shared && ctx.checkpoint === checkpoint && ctx.trace === trace,
					aborted: signal.aborted,
					keys: Object.keys(ctx).sort(),
					got: await ctx.shared.get('k'),
				});
				return 'done';
			},
			quick: () => 7,
		});
		try {
			setup.flows.define({
				name: 'ctx',
				steps: [
					{ id: 'a', action: 'work' },
					{ id: 'b', action: 'quick', dependsOn: ['a'] },
				],
			});
			const started = await setup.flows.start('ctx');
			const run = await setup.flows.wait(started.id, { timeoutMs: 10_000 });
			expect(run.status).toBe('succeeded');
			expect(run.shared.k).toEqual({ runId: run.id, stepId: 'a', attempt: 1, saved: null });
			expect(run.steps.a).toMatchObject({ output: 'done', checkpoint: { at: 1 }, trace: ['one'] });
			expect(run.steps.b?.output).toBe(7);
			expect(seen).toEqual([
				{
					same: true,
					aborted: false,
					keys: ['attempt', 'inputs', 'runId', 'saved', 'stepId', 'vars'],
					got: { runId: run.id, stepId: 'a', attempt: 1, saved: null },
				},
			]);
		} finally {
			await setup.close();
		}
	});
});
