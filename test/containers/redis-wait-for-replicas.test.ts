/**
 * RedisContainer's `waitForReplicas`: an add resolves only once the replicas confirm they have its tasks (Redis
 * `WAIT` on the adds' own connection). Against a real master and replica: a replication link that goes silent (a
 * proxy between them drops its traffic both ways) makes an add reject with `UnreplicatedAddError`, its tasks
 * stored on the master and run there, the container's claims not held behind the wait; the master then killed and
 * its replica promoted shows the rejection was true (the task is gone), where an add without the option resolved
 * and was lost the same way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { ContainerError, PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore, UnreplicatedAddError } from 'lightsched/containers/redis';
import {
	DuplicateRunError,
	RunOutcomeUnknownError,
	Workflows,
	workflowActions,
	type StepItem,
} from 'lightsched/workflows';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const servers: RedisServer[] = [];
const clients: Redis[] = [];
const proxies: TcpProxy[] = [];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
	for (const client of clients.splice(0)) client.disconnect();
	for (const server of servers) server.resume();
	await Promise.all(servers.splice(0).map((server) => server.close()));
	await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A master and a replica of it, its link up (through a proxy the test can make drop the link's traffic). */
async function masterAndReplica(): Promise<{ master: RedisServer; replica: RedisServer; link: TcpProxy }> {
	// A replica's first sync at once, not after the 5 s redis-server waits for more replicas by default.
	const master = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] });
	servers.push(master);
	const link = await startTcpProxy(master.port);
	proxies.push(link);
	const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(link.port)] });
	servers.push(replica);
	const client = new Redis(replica.port, '127.0.0.1');
	clients.push(client);
	while (!String(await client.info('replication')).includes('master_link_status:up')) await sleep(50);
	return { master, replica, link };
}

/** Whether the server on `port` holds the hash of task `id` of container `name`. */
async function holds(port: number, name: string, id: string): Promise<boolean> {
	const client = new Redis(port, '127.0.0.1');
	clients.push(client);
	return (await client.exists(`lightsched:{${name}}:t:${id}`)) === 1;
}

describe('RedisContainer waitForReplicas', () => {
	it('an add resolves once the replica has its tasks', async () => {
		const { master, replica } = await masterAndReplica();
		const container = new RedisContainer({
			redis: master.url,
			name: 'acked',
			log: false,
			waitForReplicas: { replicas: 1 },
		});
		try {
			const batch = records(
				Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, item: i })),
				Date.now(),
				1,
			);
			await container.add(batch);
			// Read at once from the replica: WAIT returned after it had every write of the add.
			for (const task of batch) expect(await holds(replica.port, 'acked', task.id)).toBe(true);
			// An add of more than 500 tasks (in steps) is confirmed after its last step.
			const large = records(
				Array.from({ length: 1200 }, (_, i) => ({ id: `l${i}`, item: i })),
				Date.now(),
				1,
			);
			await container.add(large);
			expect(await holds(replica.port, 'acked', 'l1199')).toBe(true);
		} finally {
			await container.close();
		}
	});

	it('a replica that does not confirm: the add rejects, its tasks stored and run; a failover then loses them', async () => {
		const { master, replica, link } = await masterAndReplica();
		const ran: string[] = [];
		const acked = new RedisContainer({
			redis: master.url,
			name: 'lag',
			log: false,
			waitForReplicas: { replicas: 1, timeoutMs: 300 },
		});
		const scheduler = new Scheduler<string>({
			container: acked,
			actuator: new FunctionActuator(async (item: string) => {
				ran.push(item);
				return item;
			}),
			concurrency: 4,
		});
		const plain = new RedisContainer({ redis: master.url, name: 'lag', log: false });
		try {
			await scheduler.add({ id: 'before', item: 'before' });
			await scheduler.waitFor('before', { timeoutMs: 10_000 });

			// The link goes silent both ways (a partition): the master's stream and the replica's acknowledgements are lost.
			link.swallow = true;
			link.swallowReplies = true;
			const startedAt = Date.now();
			const error = await scheduler.add({ id: 'unconfirmed', item: 'unconfirmed' }).catch((e: unknown) => e);
			const tookMs = Date.now() - startedAt;
			expect(error).toBeInstanceOf(UnreplicatedAddError);
			expect(error).toBeInstanceOf(PartialAddError);
			const unreplicated = error as UnreplicatedAddError;
			expect(unreplicated.code).toBe('ERR_CONTAINER');
			expect(unreplicated.replicas).toBe(1);
			expect(unreplicated.confirmed).toBe(0);
			expect(unreplicated.unsureIds).toEqual(['unconfirmed']);
			expect(unreplicated.storedIds).toEqual([]);
			expect(unreplicated.message).toMatch(
				/add of 1 task stored on the master, but 0 of the 1 replica asked for confirmed it within 300 ms/,
			);
			expect(tookMs).toBeGreaterThanOrEqual(290);
			expect(tookMs).toBeLessThan(5000);
			// Stored on the master, and run: the claims did not wait behind the adds' connection.
			expect((await scheduler.waitFor('unconfirmed', { timeoutMs: 10_000 })).status).toBe('succeeded');
			expect(ran).toContain('unconfirmed');
			// Without the option, an add resolves as the master stores it.
			await plain.add(records([{ id: 'resolved', item: 'resolved' }], Date.now(), 1));

			await scheduler.close();
			await plain.close();
			// The master dies before the replica got its stream; the replica is promoted.
			if (master.pid !== undefined) process.kill(master.pid, 'SIGKILL');
			const promoted = new Redis(replica.port, '127.0.0.1');
			clients.push(promoted);
			await promoted.call('REPLICAOF', 'NO', 'ONE');
			expect(await holds(replica.port, 'lag', 'before')).toBe(true);
			// Both adds are gone with the master: the rejected one said so, the other resolved.
			expect(await holds(replica.port, 'lag', 'unconfirmed')).toBe(false);
			expect(await holds(replica.port, 'lag', 'resolved')).toBe(false);
		} finally {
			await scheduler.close();
			await plain.close();
		}
	}, 60_000);

	it('a workflow start waits for the replicas too, and is started again with the same id', async () => {
		const { master, replica, link } = await masterAndReplica();
		const container = new RedisContainer({
			redis: master.url,
			name: 'runs',
			log: false,
			waitForReplicas: { replicas: 1, timeoutMs: 300 },
		});
		const actions = workflowActions({ add: (params) => Number(params['n']) + 1 });
		const scheduler = new Scheduler<StepItem>({ container, actuator: new FunctionActuator(actions) });
		const store = new RedisWorkflowStore({ container });
		const flows = new Workflows({ scheduler, actions, store });
		flows.define({
			name: 'two',
			steps: [
				{ id: 'a', action: 'add', params: { n: 1 } },
				{ id: 'b', action: 'add', params: { n: 2 }, dependsOn: ['a'] },
			],
		});
		const runKey = (id: string) => `lightsched:{runs}:wf:r:${id}`;
		const replicaClient = new Redis(replica.port, '127.0.0.1');
		clients.push(replicaClient);
		try {
			const first = await flows.start('two', { id: 'r-1' });
			expect(await replicaClient.exists(runKey(first.id))).toBe(1); // there when start resolved
			expect((await flows.wait(first.id, { timeoutMs: 10_000 })).status).toBe('succeeded');

			link.swallow = true;
			link.swallowReplies = true;
			const error = await flows.start('two', { id: 'r-2' }).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(RunOutcomeUnknownError);
			expect((error as RunOutcomeUnknownError).code).toBe('ERR_RUN_OUTCOME_UNKNOWN');
			expect((error as Error).message).toMatch(
				/^Workflow run `r-2`: it is stored on the master, but 0 of the 1 replica asked for confirmed it within 300 ms \(waitForReplicas\): a failover before it replicates would lose it: start it again with the same id/,
			);
			expect(await store.get('r-2')).not.toBeNull(); // on the master

			// The link is made again: the replica catches up from the master's backlog; the start is made again.
			link.swallow = false;
			link.swallowReplies = false;
			link.cut();
			const again = await flows.start('two', { id: 'r-2' });
			expect(again.id).toBe('r-2');
			expect(await replicaClient.exists(runKey('r-2'))).toBe(1);
			const done = await flows.wait('r-2', { timeoutMs: 10_000 });
			expect(done.status).toBe('succeeded');
			expect(done.steps['b']?.output).toBe(3);
			// Another start's id is still refused.
			await expect(flows.start('two', { id: 'r-2', vars: {}, key: 'other' })).rejects.toBeInstanceOf(
				DuplicateRunError,
			);
		} finally {
			await flows.close();
			await scheduler.close();
			await store.close();
		}
	}, 60_000);

	it("with the server's min-replicas-to-write, an add while the replica is out of touch stores nothing", async () => {
		const { master, link } = await masterAndReplica();
		const admin = new Redis(master.port, '127.0.0.1');
		clients.push(admin);
		await admin.config('SET', 'min-replicas-to-write', '1');
		await admin.config('SET', 'min-replicas-max-lag', '1');
		const container = new RedisContainer({
			redis: master.url,
			name: 'refused',
			log: false,
			waitForReplicas: { replicas: 1, timeoutMs: 300 },
		});
		try {
			await container.add(records([{ id: 'in-touch', item: 1 }], Date.now(), 1));
			link.swallow = true;
			link.swallowReplies = true;
			// The replica's last acknowledgement grows older than the lag allowed (it acknowledges every second).
			while (!String(await admin.info('replication')).includes('min_slaves_good_slaves:0')) await sleep(100);
			const error = await container
				.add(records([{ id: 'out-of-touch', item: 2 }], Date.now(), 1))
				.catch((e: unknown) => e);
			expect(error).toBeInstanceOf(Error);
			expect(error).toBeInstanceOf(ContainerError);
			expect(error).not.toBeInstanceOf(PartialAddError);
			expect((error as Error).message).toMatch(/NOREPLICAS/);
			expect(await holds(master.port, 'refused', 'out-of-touch')).toBe(false);
			expect(await holds(master.port, 'refused', 'in-touch')).toBe(true);
		} finally {
			await container.close();
		}
	});

	it('checks the option, and refuses it on a Redis Cluster', () => {
		const make = (waitForReplicas: unknown, redis: unknown = 'redis://127.0.0.1:1') =>
			new RedisContainer({ redis, name: 'x', log: false, waitForReplicas } as never);
		expect(() => make({ replicas: 0 })).toThrow('Expected `waitForReplicas.replicas` to be an integer >= 1, got 0');
		expect(() => make({ replicas: 1, timeoutMs: -5 })).toThrow(
			'Expected `waitForReplicas.timeoutMs` to be an integer number of milliseconds >= 1, got -5',
		);
		expect(() => make(2)).toThrow(
			'Expected `waitForReplicas` to be an object like { replicas: 1, timeoutMs: 1000 }',
		);
		expect(() => make({ replicas: 1, timeout: 5 })).toThrow('Unknown option `timeout` of waitForReplicas');
		const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
		try {
			expect(() => make({ replicas: 1 }, cluster)).toThrow('Expected no `waitForReplicas` with a Redis Cluster');
		} finally {
			cluster.disconnect();
		}
	});
});
