/** The workflow store contract on Redis (RedisWorkflowStore), and what only a shared Redis store must do. */
import { afterAll, beforeAll } from 'vitest';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import { startRedis, type RedisServer } from '../support/redis.js';
import { workflowStoreContract } from './store.contract.js';

let server: RedisServer | undefined;
let n = 0;
beforeAll(async () => {
	server = await startRedis();
}, 60_000);
afterAll(async () => {
	await server?.close();
});

workflowStoreContract(
	'RedisWorkflowStore',
	async () => new RedisWorkflowStore({ redis: (server as RedisServer).url, name: `contract${++n}` }),
);
