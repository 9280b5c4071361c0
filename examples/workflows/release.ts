/**
 * fastflow's style of workflow, from YAML (release.yaml): fan-out and join, templates, a `block` pre-check
 * continued by hand, a `skip` pre-check. Prints each step as it changes.
 *
 *   npm run example examples/workflows/release.ts
 */
import { fileURLToPath } from 'node:url';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { Workflows, workflowActions } from 'lightsched/workflows';

const actions = workflowActions({
	prepare: async (params, ctx) => {
		await ctx.shared.set('sourceDir', `/src/app-${String(params.version)}`);
		await ctx.trace('checked out');
		return null;
	},
	build: async (params, ctx) => {
		await ctx.trace(`building ${String(params.source)} for ${String(params.os)}`);
		return `app-${String(params.version)}-${String(params.os)}.bin`;
	},
	package: (params, ctx) => ({ archive: params.name, files: Object.values(ctx.inputs).sort() }),
	publish: (params) => `published on ${String(params.channel)}`,
});
const scheduler = new Scheduler({
	container: new OrderedMapContainer(),
	actuator: new FunctionActuator(actions),
	concurrency: 4,
});
const flows = new Workflows({ scheduler, actions });
await flows.load(fileURLToPath(new URL('release.yaml', import.meta.url)));

for (const name of ['step:started', 'step:succeeded', 'step:skipped', 'step:blocked'] as const) {
	flows.on(name, ({ stepId }) => console.log(`${name.slice(5)} ${stepId}`));
}

const run = await flows.start('release', { vars: { version: '2.1.0', channel: 'stable' }, key: 'app-2.1.0' });
await new Promise<void>((resolve) =>
	flows.on('run:status', ({ run: changed }) => changed.id === run.id && changed.status === 'blocked' && resolve()),
);
console.log('run blocked: an operator approves the release');
await flows.continue(run.id, 'release');
const done = await flows.wait(run.id);
console.log(`run ${done.status}: ${JSON.stringify(done.steps.package?.output)}, ${String(done.steps.release?.output)}`);

await flows.close();
await scheduler.close();
