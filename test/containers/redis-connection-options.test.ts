/**
 * RedisContainer on an ioredis instance the user made with options that change how commands are sent: its script
 * calls go out as ready commands (containers/redis/script-runner.ts `sendArgs`) unless the connection prefixes
 * keys or pipelines automatically, where they go through ioredis's `call`, which applies those. Each set-up adds,
 * claims, ends and reads tasks as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import { successPatch } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

type Options = { enableAutoPipelining?: boolean; showFriendlyErrorStack?: boolean; keyPrefix?: string };
const setups: [label: string, options: Options][] = [
	['plain options', {}],
	['auto-pipelining', { enableAutoPipelining: true }],
	['friendly error stacks', { showFriendlyErrorStack: true }],
	['a key prefix', { keyPrefix: 'ns:' }],
];

describe('RedisContainer on an ioredis instance with its own options', () => {
	it.each(setups)('runs tasks with %s', async (label, options) => {
		const client = new Redis(server.url, options);
		const name = `opts-${label.replace(/\W+/g, '-')}`;
		const c = new RedisContainer({ redis: client, name, log: false });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3, key: 'k' },
			]),
		);
		const claimed = await c.claim(3, 'me', 10_000, Date.now());
		expect(claimed.map((t) => t.id).sort()).toEqual(['a', 'b', 'c']);
		const done = await c.transition(
			'a',
			'running',
			'succeeded',
			{ ...successPatch(Date.now()), output: 'ok' },
			'me',
		);
		expect(done).toMatchObject({ id: 'a', status: 'succeeded', output: 'ok' });
		expect(await c.get('a')).toEqual(done);
		expect((await c.counts()).running).toBe(2);
		// A refusal (a key a running task holds) still reaches the caller.
		await expect(c.add(records([{ id: 'd', item: 4, key: 'k' }]))).rejects.toThrow(/k/);
		const prefix = options.keyPrefix ?? '';
		expect(await admin.exists(`${prefix}${c.keyPrefix}t:a`)).toBe(1);
		await c.close();
		client.disconnect();
	});
});
