/**
 * A real Redis Cluster for tests: three redis-server masters (test/support/redis.ts, cluster mode) on random
 * loopback ports, their 16,384 slots assigned by `redis-cli --cluster create` (redis-tools, installed with
 * redis-server), ready once every node reports `cluster_state:ok`. With `replicas: 1`, each master has a replica
 * (six nodes), ready once each replica's link to its master is up, so a master's failover can be tested.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
	/** Replicas a master (default 0). */
	readonly replicas?: number;
	/** `cluster-node-timeout`: how long a node may not answer before it is failed over (redis-server's default 15 s). */
	readonly nodeTimeoutMs?: number;
	/** How long to wait until every node sees the cluster whole (default 20 s). */
	readonly readyMs?: number;
}

export interface RedisCluster {
	/** The masters, as ioredis's `Cluster` takes its start-up nodes. */
	readonly nodes: readonly { host: string; port: number }[];
	/** Every node's server (masters and replicas, in the order `redis-cli --cluster create` was given them). */
	readonly servers: readonly RedisServer[];
	/** The server on `port`. */
	server(port: number): RedisServer;
	/** A new ioredis `Cluster` on the masters, disconnected by `close()`. */
	connect(): Cluster;
	/** Disconnect the clients of `connect()`, stop every node (frozen ones too) and delete their dirs. */
	close(): Promise<void>;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` on a client of `port` until it is true, or throw naming the node after `deadline`. */
export async function untilNode(
	port: number,
	deadline: number,
	check: (client: Redis) => Promise<boolean>,
	what: string,
): Promise<void> {
	const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
	try {
		for (;;) {
			if (await check(client).catch(() => false)) return;
			if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port}: ${what} not reached`);
			await pause(100);
		}
	} finally {
		client.disconnect();
	}
}

/** Start a cluster of three masters (and their replicas) and wait until every node sees it whole. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
	const replicas = options.replicas ?? 0;
	const servers: RedisServer[] = [];
	const clients: Cluster[] = [];
	const close = async (): Promise<void> => {
		for (const client of clients) client.disconnect();
		for (const server of servers) server.resume();
		await Promise.all(servers.map((server) => server.close()));
	};
	const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
	if (options.nodeTimeoutMs !== undefined) args.push('--cluster-node-timeout', String(options.nodeTimeoutMs));
	try {
		for (let i = 0; i < 3 * (1 + replicas); i++) servers.push(await startRedis({ args }));
		const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
		await run('redis-cli', [
			'--cluster',
			'create',
			...addresses,
			'--cluster-replicas',
			String(replicas),
			'--cluster-yes',
		]);
		const deadline = Date.now() + (options.readyMs ?? 20_000);
		for (const server of servers) {
			await untilNode(
				server.port,
				deadline,
				async (client) => {
					if (!String(await client.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
					const replication = String(await client.call('INFO', 'replication'));
					return replication.includes('role:master') || replication.includes('master_link_status:up');
				},
				'cluster_state:ok with its replication link up',
			);
		}
		const masters: { host: string; port: number }[] = [];
		for (const server of servers) {
			const client = new Redis(server.port, '127.0.0.1');
			try {
				if (String(await client.call('INFO', 'replication')).includes('role:master'))
					masters.push({ host: '127.0.0.1', port: server.port });
			} finally {
				client.disconnect();
			}
		}
		return {
			nodes: masters,
			servers,
			server(port) {
				const found = servers.find((server) => server.port === port);
				if (found === undefined) throw new Error(`No node of this cluster on port ${port}`);
				return found;
			},
			connect() {
				const client = new Cluster([...masters]);
				clients.push(client);
				return client;
			},
			close,
		};
	} catch (error) {
		await close();
		throw error;
	}
}
