/**
 * Every record handed out is the stored one (issue 11 item 9): `add()` and `task:added` carry the `seq` the
 * container assigned, the same `get()` shows, on every container.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { CombinedContainer } from 'lightsched/containers/combined';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startRedis, type RedisServer } from '../support/redis.js';
import { sqliteBackend } from '../support/sql.js';

const sqlite = sqliteBackend();
let redis: RedisServer;
let names = 0;
beforeAll(async () => {
	redis = await startRedis();
});
afterAll(async () => {
	await redis.close();
	await sqlite.stop();
});

const containers: [string, () => Promise<TaskContainer>][] = [
	['QueueContainer', async () => new QueueContainer()],
	['OrderedMapContainer', async () => new OrderedMapContainer()],
	['SqlContainer (SQLite)', async () => new SqlContainer({ knex: await sqlite.freshDatabase() })],
	['RedisContainer', async () => new RedisContainer({ redis: redis.url, name: `seq${++names}`, log: false })],
	[
		'CombinedContainer',
		async () =>
			new CombinedContainer(new QueueContainer(), new SqlContainer({ knex: await sqlite.freshDatabase() })),
	],
];

describe.each(containers)('%s', (_, make) => {
	it('add() and task:added carry the stored seq, as get() shows it', async () => {
		const scheduler = new Scheduler({
			container: await make(),
			actuator: new FunctionActuator(() => 1),
			autoStart: false,
		});
		const added: TaskRecord[] = [];
		scheduler.on('task:added', ({ task }) => added.push(task));
		const one = await scheduler.add({ id: 'one', item: 1 });
		const batch = await scheduler.add([
			{ id: 'two', item: 2 },
			{ id: 'three', item: 3 },
		]);
		const handedOut = [one, ...batch];
		const stored = await Promise.all(handedOut.map((task) => scheduler.get(task.id)));
		expect(handedOut.map((task) => task.seq)).toEqual(stored.map((task) => task?.seq));
		expect(added.map((task) => task.seq)).toEqual(stored.map((task) => task?.seq));
		expect(new Set(handedOut.map((task) => task.seq)).size).toBe(3);
		for (const task of handedOut) expect(task.seq).toBeGreaterThan(0);
		await scheduler.close();
	});
});
