/**
 * How a RedisWorkflowStore stores a run: an update writes only the hash fields that changed (a step's end: body, rev
 * and token, nothing deleted).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import type { RunRecord, StepState } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { sampleRun } from './store.contract.js';

let server: RedisServer | undefined;
let client: Redis | undefined;
let n = 0;
beforeAll(async () => {
	server = await startRedis();
	client = new Redis(server.url);
}, 60_000);
afterAll(async () => {
	client?.disconnect();
	await server?.close();
});

const redis = (): Redis => client as Redis;

function step(patch: Partial<StepState> = {}): StepState {
	return {
		status: 'waiting',
		generation: 0,
		attempts: 0,
		output: null,
		error: null,
		checkpoint: null,
		trace: [],
		startedAt: null,
		finishedAt: null,
		continued: false,
		handBack: false,
		...patch,
	};
}

/** A store of its own, and the key of a run's hash in it. */
function fresh(): { store: RedisWorkflowStore; key: (id: string) => string } {
	const name = `body${++n}`;
	return {
		store: new RedisWorkflowStore({ redis: (server as RedisServer).url, name }),
		key: (id) => `lightsched:{${name}}:wf:r:${id}`,
	};
}

describe('RedisWorkflowStore run bodies', () => {
	it('an update writes only the hash fields that changed: a step end sets body, rev and token, deletes none', async () => {
		const { store, key } = fresh();
		try {
			const run = sampleRun();
			await store.create(run);
			const before = await redis().hgetall(key(run.id));
			await redis().config('RESETSTAT');
			const next = await store.update({ ...run, steps: { a: step({ status: 'succeeded', generation: 1 }) } });
			expect(next?.rev).toBe(1);
			const stats = await redis().info('commandstats');
			const calls = (command: string): number =>
				Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
			expect({ hset: calls('hset'), hdel: calls('hdel') }).toEqual({ hset: 1, hdel: 0 });
			const after = await redis().hgetall(key(run.id));
			expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
			expect({ ...after, body: '', rev: '', tok: '' }).toEqual({ ...before, body: '', rev: '', tok: '' });
			expect(after.rev).toBe('1');
			// A status change still writes the fields the indexes and `remove` read.
			const closed = await store.update({ ...(next as RunRecord), status: 'succeeded', open: false });
			expect(closed).not.toBeNull();
			expect(await redis().hmget(key(run.id), 'status', 'open')).toEqual(['succeeded', '0']);
			expect(await store.remove(run.id)).toBe(true);
		} finally {
			await store.close();
		}
	});
});
