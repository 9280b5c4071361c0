/**
 * bk-bscp's `hello` task as a workflow: one `Add` step (params a and b, a 10 s timeout, 3 attempts) that sums
 * its params. `task send --a 10 --b 20` becomes `npm run example examples/workflows/hello.ts -- --a 10 --b 20`.
 * FAIL_ATTEMPTS=2 makes the first two attempts fail, to show the step's own retries.
 */
import { parseArgs } from 'node:util';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { Workflows, workflowActions } from 'lightsched/workflows';

const { values } = parseArgs({
	options: { a: { type: 'string', default: '10' }, b: { type: 'string', default: '20' } },
});
const failAttempts = Number(process.env.FAIL_ATTEMPTS ?? 0);

const actions = workflowActions({
	Add: (params, ctx) => {
		if (ctx.attempt <= failAttempts) throw new Error(`attempt ${ctx.attempt} failed on purpose`);
		return Number(params.a) + Number(params.b);
	},
});
const scheduler = new Scheduler({
	container: new QueueContainer(),
	actuator: new FunctionActuator(actions),
	backoff: { type: 'fixed', delayMs: 10 },
});
const flows = new Workflows({ scheduler, actions });

flows.define({
	name: 'hello',
	vars: { a: {}, b: {} },
	steps: [
		{ id: 'add', action: 'Add', params: { a: '{{vars.a}}', b: '{{vars.b}}' }, timeoutMs: 10_000, maxAttempts: 3 },
	],
	onFinished: (run) => console.log(`callback: run ${run.status}`),
});

const run = await flows.start('hello', { vars: { a: Number(values.a), b: Number(values.b) } });
const done = await flows.wait(run.id);
const add = done.steps.add;
if (done.status === 'succeeded')
	console.log(`hello: ${values.a} + ${values.b} = ${String(add?.output)} (attempts: ${add?.attempts})`);
else console.log(`hello: ${done.status}: ${done.error?.message}`);

await flows.close();
await scheduler.close();
