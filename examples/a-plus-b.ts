/**
 * After the Go original's a+b example: ten sums, a quarter of the attempts fail at random, each task gets
 * three attempts, two run at a time, every result is printed (the original never printed the sums).
 *
 *   npm run example examples/a-plus-b.ts
 */
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

interface Sum {
	readonly a: number;
	readonly b: number;
}

const FAILURE_RATE = Number(process.env.FAILURE_RATE ?? 0.25);
const MAX_SLEEP_MS = Number(process.env.MAX_SLEEP_MS ?? 400);

const scheduler = new Scheduler({
	container: new QueueContainer(),
	actuator: new FunctionActuator(async ({ a, b }: Sum, { signal }) => {
		if (Math.random() < FAILURE_RATE) throw new Error('random failure');
		// Honour the signal, so a timeout or stop really ends the work.
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(resolve, Math.random() * MAX_SLEEP_MS);
			signal.addEventListener('abort', () => {
				clearTimeout(timer);
				reject(signal.reason as Error);
			});
		});
		return a + b;
	}),
	concurrency: 2,
	timeoutMs: 5_000,
	maxAttempts: 3,
	backoff: { type: 'exponential', delayMs: 50 },
});

scheduler.on('task:retrying', ({ task, error, delayMs }) =>
	console.log(`task ${task.id}: attempt ${task.attempts} failed (${error.message}), retrying in ${delayMs} ms`),
);

const finished = scheduler.finished();
await scheduler.add(Array.from({ length: 10 }, (_, i) => ({ id: String(i), item: { a: i, b: i * 10 } })));

let count = 0;
for await (const task of finished) {
	const { a, b } = task.item as Sum;
	if (task.status === 'succeeded')
		console.log(`task ${task.id}: ${a} + ${b} = ${String(task.output)} (attempts: ${task.attempts})`);
	else console.log(`task ${task.id}: ${task.status} after ${task.attempts} attempts: ${task.error?.message ?? ''}`);
	if (++count === 10) break;
}
console.log('counts:', await scheduler.counts());
await scheduler.close();
