import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

const scheduler = new Scheduler({
	container: new QueueContainer(),
	actuator: new FunctionActuator(async ({ a, b }: { a: number; b: number }) => a + b),
	concurrency: 2,
	timeoutMs: 5_000,
	maxAttempts: 3,
});
scheduler.on('task:succeeded', ({ task, output }) => console.log(task.id, output));
await scheduler.add({ id: 'sum-1', item: { a: 1, b: 2 } });
await scheduler.onIdle();
await scheduler.close();
