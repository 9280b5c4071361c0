/**
 * RedisContainer through a Redis Cluster master's failover (three masters, a replica each, test/support/redis-cluster.ts):
 * the schedulers follow the container's slot to the promoted replica by themselves, through ioredis's `Cluster`,
 * with no restart.
 * - A planned failover (`CLUSTER FAILOVER` on the replica: the master stops writes until the replica has them all)
 *   loses nothing: every task and every workflow step runs exactly once.
 * - A master that stops answering (frozen with SIGSTOP: a crash or a partition, as the cluster sees it) is failed
 *   over after `cluster-node-timeout`; what it had replicated survives, so every task and run added before finishes,
 *   each at least once. Redis replicates after it acknowledges, so a write acknowledged in the master's last moments
 *   can be lost with it (docs/containers/redis.md): a task that finished then may run again; the test fences the
 *   adds (a write and `WAIT` for the replica) so that none is lost, and prints how many ran again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import type { RunRecord } from 'lightsched/workflows';
import { records } from '../contracts/container.contract.js';
import { failoverSchedulers } from '../support/failover-schedulers.js';
import { startRedisCluster, untilNode, type RedisCluster } from '../support/redis-cluster.js';
import { recordingScheduler } from '../support/scheduler.js';

const NODE_TIMEOUT_MS = 1000;

let cluster: RedisCluster;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
	cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
}, 60_000);
afterAll(async () => {
	await cluster?.close();
});

/** The master that holds the hash slot of `{name}` and its replica (if one is up), as node `ask` sees them. */
async function slotView(name: string, ask: number): Promise<{ master: number; replica: number | undefined }> {
	const admin = new Redis(ask, '127.0.0.1', { maxRetriesPerRequest: 1 });
	try {
		const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', `{${name}}`));
		// <id> <ip:port@bus> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot ranges...>
		const nodes = String(await admin.call('CLUSTER', 'NODES'))
			.trim()
			.split('\n')
			.map((line) => line.split(' '));
		const port = (fields: string[]): number => Number(fields[1]?.split('@')[0]?.split(':')[1]);
		const master = nodes.find(
			(fields) =>
				fields[2]?.includes('master') &&
				fields.slice(8).some((range) => {
					const [from = -1, to = from] = range.split('-').map(Number);
					return from <= slot && slot <= to;
				}),
		);
		if (master === undefined) throw new Error(`No master for slot ${slot}`);
		const replica = nodes.find((fields) => fields[3] === master[0] && !fields[2]?.includes('fail'));
		return { master: port(master), replica: replica === undefined ? undefined : port(replica) };
	} finally {
		admin.disconnect();
	}
}

/** The master and replica ports that hold the hash slot of `{name}`, as the cluster now sees it (`CLUSTER NODES`). */
async function slotHolders(
	name: string,
	ask = cluster.nodes[0]?.port ?? 0,
): Promise<{ master: number; replica: number }> {
	const { master, replica } = await slotView(name, ask);
	if (replica === undefined) throw new Error(`No replica of ${master} for {${name}}`);
	return { master, replica };
}

/** Wait until the node on `port` is a master whose cluster is whole again. */
const untilPromoted = (port: number): Promise<void> =>
	untilNode(
		port,
		Date.now() + 30_000,
		async (client) =>
			String(await client.call('INFO', 'replication')).includes('role:master') &&
			String(await client.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
		'promoted to master',
	);

/** Write a key in `{name}`'s slot on its master and wait until its replica has it (and so every earlier write). */
async function replicated(name: string, master: number): Promise<void> {
	const client = new Redis(master, '127.0.0.1');
	try {
		await client.set(`{${name}}:fence`, String(Date.now()));
		expect(Number(await client.call('WAIT', '1', '5000'))).toBe(1);
	} finally {
		client.disconnect();
	}
}

/** Two schedulers on their own Cluster connections sharing container `name`, a workflow engine on each. */
const schedulers = (name: string) =>
	failoverSchedulers(
		name,
		() => cluster.connect(),
		() => sleep(5),
	);

describe('RedisContainer through a Redis Cluster failover', () => {
	it('a planned failover loses nothing: every task and every step runs exactly once', async () => {
		const { master, replica } = await slotHolders('planned');
		const { built, runs, steps, close } = schedulers('planned');
		const [first] = built;
		if (first === undefined) throw new Error('no scheduler');
		const started = await Promise.all(Array.from({ length: 30 }, () => first.flows.start('chain')));
		const added = await first.scheduler.add(Array.from({ length: 400 }, (_, i) => ({ item: `t${i}` })));
		while (runs.size < 100) await sleep(10);

		const admin = new Redis(replica, '127.0.0.1');
		try {
			expect(await admin.call('CLUSTER', 'FAILOVER')).toBe('OK');
		} finally {
			admin.disconnect();
		}
		await untilPromoted(replica);
		const ranAtFailover = runs.size;
		// Every node learns of it by gossip (the next test asks any of them).
		for (const server of cluster.servers)
			await untilNode(
				server.port,
				Date.now() + 10_000,
				async () => (await slotHolders('planned', server.port)).master === replica,
				`seeing ${replica} hold the slot`,
			);
		expect(ranAtFailover).toBeLessThan(400); // the failover came while tasks still ran

		const done = await Promise.all(added.map((task) => first.scheduler.waitFor(task.id, { timeoutMs: 60_000 })));
		expect(done.every((task) => task.status === 'succeeded')).toBe(true);
		expect(runs.size).toBe(400);
		expect([...runs.values()].filter((count) => count !== 1)).toEqual([]);
		const finished = await Promise.all(started.map((run) => first.flows.wait(run.id, { timeoutMs: 30_000 })));
		expect(finished.map((run: RunRecord) => run.status)).toEqual(started.map(() => 'succeeded'));
		expect(finished[0]?.steps['s4']?.output).toBe(5);
		expect(steps.size).toBe(30 * 4);
		expect([...steps.values()].filter((count) => count !== 1)).toEqual([]);
		// The old master is now the new one's replica.
		await untilNode(
			master,
			Date.now() + 10_000,
			async (client) => String(await client.call('INFO', 'replication')).includes('role:slave'),
			'a replica',
		);
		await close();
	}, 90_000);

	it('a master that stops answering is failed over: everything added before it runs, each at least once', async () => {
		const { master, replica } = await slotHolders('crash');
		const { built, runs, steps, close } = schedulers('crash');
		const [first, second] = built;
		if (first === undefined || second === undefined) throw new Error('no scheduler');
		const started = await Promise.all(Array.from({ length: 20 }, () => first.flows.start('chain')));
		const added = await first.scheduler.add(Array.from({ length: 300 }, (_, i) => ({ item: `t${i}` })));
		await replicated('crash', master);
		while (runs.size < 50) await sleep(10);

		const frozeAt = Date.now();
		cluster.server(master).pause();
		const ranBefore = runs.size;
		await untilPromoted(replica);
		const promotedMs = Date.now() - frozeAt;

		const done = await Promise.all(added.map((task) => second.scheduler.waitFor(task.id, { timeoutMs: 60_000 })));
		const doneMs = Date.now() - frozeAt;
		expect(done.every((task) => task.status === 'succeeded')).toBe(true);
		expect(runs.size).toBe(300);
		const finished = await Promise.all(started.map((run) => second.flows.wait(run.id, { timeoutMs: 60_000 })));
		expect(finished.map((run: RunRecord) => run.status)).toEqual(started.map(() => 'succeeded'));
		expect(steps.size).toBe(20 * 4);
		const again = [...runs.values()].filter((count) => count > 1).length;
		const stepsAgain = [...steps.values()].filter((count) => count > 1).length;
		console.log(
			`master frozen with ${ranBefore} of 300 tasks run: replica promoted after ${promotedMs} ms, all done ` +
				`after ${doneMs} ms; ${again} tasks and ${stepsAgain} steps ran again`,
		);
		cluster.server(master).resume();
		await close();
	}, 120_000);

	it('an idle scheduler whose subscriber node stops answering still runs a task another process adds', async () => {
		const ran: string[] = [];
		// After the test above, the node it froze rejoins: ask a node that has been up all along.
		const { master } = await slotView('silent', cluster.nodes[1]?.port ?? 0);
		/** An idle scheduler, and the node its Cluster's subscriber connection chose (any node, a replica too). */
		const idle = async () => {
			const container = new RedisContainer({ redis: cluster.connect(), name: 'silent', log: false });
			const scheduler = recordingScheduler(container, ran); // its channel-down report ignored
			const id = `first-${ran.length}`;
			await scheduler.add({ id, item: id });
			await scheduler.waitFor(id, { timeoutMs: 20_000 });
			await scheduler.onIdle();
			for (const server of cluster.servers) {
				const client = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
				try {
					const channels = await client.call('PUBSUB', 'CHANNELS', 'lightsched:{silent}:events');
					if ((channels as string[]).length > 0) return { scheduler, node: server.port };
				} catch {
					// A node an earlier test froze.
				} finally {
					client.disconnect();
				}
			}
			throw new Error('No node holds the subscription');
		};
		// A subscriber on the slot's own master is the failover above: take one on another node.
		let chosen = await idle();
		for (let tries = 0; chosen.node === master && tries < 20; tries++) {
			await chosen.scheduler.close();
			chosen = await idle();
		}
		const { scheduler, node } = chosen;
		expect(node).not.toBe(master);
		const writer = new RedisContainer({ redis: cluster.connect(), name: 'silent', log: false });
		try {
			await writer.get('none'); // connected before the freeze
			cluster.server(node).pause();
			const addedAt = Date.now();
			await writer.add(records([{ id: 'late', item: 'late' }], addedAt, 1));
			// Found silent within 5 + 5 s, then polled: about 11 s (without a check on its own node, up to the lease's 30 s).
			for (let waited = 0; !ran.includes('late') && waited < 25_000; waited += 50) await sleep(50);
			console.log(`subscriber's node ${node} frozen: the late task ran ${Date.now() - addedAt} ms after its add`);
			expect(ran).toContain('late');
		} finally {
			cluster.server(node).resume();
			await scheduler.close();
			await writer.close();
		}
	}, 120_000);
});
