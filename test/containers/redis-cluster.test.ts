/**
 * RedisContainer on a real Redis Cluster (three masters, test/support/redis-cluster.ts) through an ioredis
 * `Cluster`: a container's keys share one hash slot (`{<name>}`), so its scripts run whole on one node. Two
 * schedulers share the tasks (each run once), the wake-up channel reaches them, and a workflow's step releases
 * (the run and the container in one script) finish a chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { serverAddress } from '../../containers/redis/call-guard.js';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { Workflows, workflowActions } from 'lightsched/workflows';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';

let cluster: RedisCluster;

beforeAll(async () => {
	cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
	await cluster?.close();
});

describe('RedisContainer on a Redis Cluster', () => {
	it('two schedulers share the tasks, each run once, and every key lives on one node', async () => {
		const runs = new Map<number, number>();
		const clients = [cluster.connect(), cluster.connect()];
		const schedulers = clients.map(
			(client) =>
				new Scheduler<number>({
					container: new RedisContainer({ redis: client, name: 'shared', log: false }),
					actuator: new FunctionActuator(async (item: number) => {
						runs.set(item, (runs.get(item) ?? 0) + 1);
						return item * 2;
					}),
					concurrency: 8,
				}),
		);
		const [first] = schedulers as [Scheduler<number>];
		const added = await first.add(Array.from({ length: 200 }, (_, i) => ({ item: i })));
		const done = await Promise.all(added.map((task) => first.waitFor(task.id, { timeoutMs: 20_000 })));
		expect(done.every((task) => task.status === 'succeeded')).toBe(true);
		expect(runs.size).toBe(200);
		expect([...runs.values()].every((count) => count === 1)).toBe(true);
		// The hash tag puts all of the container's keys in one slot: one master holds them all.
		const masters = (clients[0] as Cluster).nodes('master');
		expect(masters).toHaveLength(3);
		const holding: number[] = [];
		for (const node of masters) {
			const keys = await node.keys('lightsched:{shared}:*');
			if (keys.length > 0) holding.push(keys.length);
		}
		expect(holding).toHaveLength(1);
		// Messages name the cluster's masters, not ioredis's default localhost:6379 (a Cluster has no host option).
		expect(serverAddress(clients[0] as unknown as Redis)).toMatch(
			/^cluster (127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+$/,
		);
		for (const scheduler of schedulers) await scheduler.close();
	});

	it('runs a workflow chain whose releases write the run and add the next step in one script', async () => {
		const container = new RedisContainer({ redis: cluster.connect(), name: 'flows', log: false });
		const store = new RedisWorkflowStore({ container });
		const actions = workflowActions({ add: (params) => Number(params['n']) + 1 });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: 4 });
		const flows = new Workflows({ scheduler, actions, store });
		flows.define({
			name: 'chain',
			steps: [
				{ id: 'a', action: 'add', params: { n: 1 } },
				{ id: 'b', action: 'add', dependsOn: ['a'], params: { n: 2 } },
				{ id: 'c', action: 'add', dependsOn: ['b'], params: { n: 3 } },
			],
		});
		const started = await Promise.all(Array.from({ length: 20 }, () => flows.start('chain')));
		const finished = await Promise.all(started.map((run) => flows.wait(run.id, { timeoutMs: 20_000 })));
		expect(finished.map((run) => run.status)).toEqual(started.map(() => 'succeeded'));
		expect(finished[0]?.steps['c']?.output).toBe(4);
		await flows.close();
		await scheduler.close();
		await store.close();
	});
});
