import { afterAll, beforeAll } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { describeContainerContract } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let n = 0;

beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

describeContainerContract(
	'RedisContainer',
	() => new RedisContainer({ redis: server.url, name: `contract-${process.pid}-${++n}`, log: false }),
	{ priority: true, json: true },
);
