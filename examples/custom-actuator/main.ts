/** Run a few tasks on the example's `SleepActuator`: `npm run example examples/custom-actuator/main.ts`. */
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { SleepActuator, type SleepItem } from './sleep-actuator.js';

const scheduler = new Scheduler<SleepItem, number>({
	container: new QueueContainer(),
	actuator: new SleepActuator({ maxMs: 10_000 }),
	concurrency: 2,
	maxAttempts: 1,
});
scheduler.on('task:progress', ({ task, progress }) => console.log(task.id, 'progress', JSON.stringify(progress)));
scheduler.on('task:succeeded', ({ task, output }) => console.log(task.id, 'succeeded after', output, 'ms'));
scheduler.on('task:failed', ({ task, error }) => console.log(task.id, 'failed:', error.message));
await scheduler.add([
	{ id: 'short', item: { ms: 20 } },
	{ id: 'steps', item: { ms: 40, steps: 2 } },
	{ id: 'unlucky', item: { ms: 10, fail: 'no luck' } },
]);
await scheduler.add({ id: 'bad', item: { ms: -1 } }).catch((error: Error) => console.log('bad:', error.message));
await scheduler.onIdle();
await scheduler.close();
