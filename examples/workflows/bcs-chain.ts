/**
 * A BCS-style task: an ordered chain of steps with their own retries and timeouts, one `skipOnFailed` step,
 * params passed along through the run's shared data, a whole-run deadline and a completion callback.
 * NOTIFY_FAILS=1 makes the skip-on-failed step fail (the run still succeeds); SLOW_MS makes a step outlast the
 * deadline (the run fails with ERR_RUN_DEADLINE).
 *
 *   npm run example examples/workflows/bcs-chain.ts
 */
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { Workflows, workflowActions } from 'lightsched/workflows';

const notifyFails = process.env.NOTIFY_FAILS === '1';
const slowMs = Number(process.env.SLOW_MS ?? 0);

const actions = workflowActions({
	createCluster: async (params, ctx) => {
		await ctx.shared.set('clusterId', `bcs-${String(params.name)}`);
		return null;
	},
	installAddons: async (params, ctx) => {
		if (slowMs > 0)
			await new Promise((resolve, reject) => {
				setTimeout(resolve, slowMs);
				ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
			});
		return { cluster: params.cluster, addons: ['dns', 'metrics'] };
	},
	notify: () => {
		if (notifyFails) throw new Error('chat webhook down');
		return 'sent';
	},
	markReady: async (params, ctx) => {
		await ctx.shared.set('ready', true);
		return `${String(params.cluster)} ready`;
	},
});
const scheduler = new Scheduler({
	container: new QueueContainer(),
	actuator: new FunctionActuator(actions),
	backoff: { type: 'fixed', delayMs: 10 },
});
const flows = new Workflows({ scheduler, actions });

flows.define({
	name: 'bcs-create-cluster',
	vars: { name: {} },
	deadlineMs: 2_000,
	steps: [
		{ id: 'create', action: 'createCluster', params: { name: '{{vars.name}}' }, maxAttempts: 3, timeoutMs: 10_000 },
		{
			id: 'addons',
			action: 'installAddons',
			dependsOn: ['create'],
			params: { cluster: '{{shared.clusterId}}' },
			maxAttempts: 2,
		},
		{ id: 'notify', action: 'notify', dependsOn: ['addons'], maxAttempts: 2, skipOnFailed: true },
		{ id: 'ready', action: 'markReady', dependsOn: ['notify'], params: { cluster: '{{shared.clusterId}}' } },
	],
	onFinished: (run) => console.log(`callback: ${run.status}${run.error === null ? '' : ` (${run.error.code})`}`),
});

const run = await flows.start('bcs-create-cluster', { vars: { name: 'c42' }, key: 'cluster-c42', unique: true });
const done = await flows.wait(run.id);
console.log(
	Object.entries(done.steps)
		.map(([id, step]) => `${id}: ${step.status}`)
		.join(', '),
);
if (done.status === 'succeeded')
	console.log(`${String(done.steps.ready?.output)}; shared ${JSON.stringify(done.shared)}`);

await flows.close();
await scheduler.close();
