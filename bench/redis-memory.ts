/**
 * Redis memory per task of lightsched's RedisContainer: `used_memory` of a redis-server of its own after adding `N`
 * tasks (waiting), and again after a scheduler ran them all (succeeded, records kept), less the empty server's, per
 * task; and the `MEMORY USAGE` of one task's hash in each state with its encoding. `ITEM` is the JSON of each task's
 * item (default `null`, as bench/redis.ts's no-op tasks).
 *
 * Usage (after `npm run build`): `PORT=6379 N=20000 npx tsx bench/redis-memory.ts` against a redis-server of its own
 * (it flushes it).
 */
import { Redis } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';

const port = Number(process.env.PORT ?? 6379);
const count = Number(process.env.N ?? 20000);
const item = JSON.parse(process.env.ITEM ?? 'null') as unknown;

const admin = new Redis({ host: '127.0.0.1', port });
await admin.flushall();

async function usedMemory(): Promise<number> {
	const info = await admin.info('memory');
	return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

const container = new RedisContainer({ redis: { host: '127.0.0.1', port }, name: 'memory', log: false });
const scheduler = new Scheduler({
	container,
	concurrency: 100,
	autoStart: false,
	actuator: new FunctionActuator(async () => {}),
});
let done = 0;
let resolveAll = (): void => {};
const all = new Promise<void>((resolve) => (resolveAll = resolve));
scheduler.on('task:succeeded', () => {
	if (++done === count) resolveAll();
});
const empty = await usedMemory();
for (let i = 0; i < count; i += 1000)
	await scheduler.add(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ id: `t${i + j}`, item })));
const waiting = await usedMemory();
const key = `${container.keyPrefix}t:t0`;
const oneWaiting = [await admin.memory('USAGE', key), await admin.object('ENCODING', key)];
scheduler.resume();
await all;
const succeeded = await usedMemory();
const oneSucceeded = [await admin.memory('USAGE', key), await admin.object('ENCODING', key)];
await scheduler.close();
console.log(`tasks ${count}, item ${JSON.stringify(item)}`);
console.log(
	`used_memory bytes/task: waiting ${((waiting - empty) / count).toFixed(1)}, succeeded ${((succeeded - empty) / count).toFixed(1)}`,
);
console.log(`one task hash: waiting ${oneWaiting.join(' ')}, succeeded ${oneSucceeded.join(' ')}`);
await admin.quit();
process.exit(0);
