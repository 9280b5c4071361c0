/**
 * A real Redis Cluster for tests: three redis-server masters (test/support/redis.ts, cluster mode) on random
 * loopback ports, their 16,384 slots assigned by `redis-cli --cluster create` (redis-tools, installed with
 * redis-server), ready once every node reports `cluster_state:ok`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis.js';

const run = promisify(execFile);

export interface RedisCluster {
	/** The masters, as ioredis's `Cluster` takes its start-up nodes. */
	readonly nodes: readonly { host: string; port: number }[];
	/** Stop every node and delete their dirs. */
	close(): Promise<void>;
}

/** Start a three-master cluster and wait (at most `readyMs`) until every node sees it whole. */
export async function startRedisCluster(readyMs = 20_000): Promise<RedisCluster> {
	const servers: RedisServer[] = [];
	const close = async (): Promise<void> => {
		await Promise.all(servers.map((server) => server.close()));
	};
	try {
		for (let i = 0; i < 3; i++)
			servers.push(
				await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] }),
			);
		const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
		await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
		const deadline = Date.now() + readyMs;
		for (const server of servers) {
			const client = new Redis(server.port, '127.0.0.1');
			try {
				for (;;) {
					const info = String(await client.call('CLUSTER', 'INFO'));
					if (info.includes('cluster_state:ok')) break;
					if (Date.now() > deadline) throw new Error(`Redis Cluster node ${server.port} not ready: ${info}`);
					await new Promise((resolve) => setTimeout(resolve, 100));
				}
			} finally {
				client.disconnect();
			}
		}
		return { nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })), close };
	} catch (error) {
		await close();
		throw error;
	}
}
