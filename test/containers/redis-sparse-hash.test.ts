/**
 * RedisContainer: an add leaves out of a task's hash the fields that hold none (add-script.ts `NONE_AT_ADD`,
 * `NONE_UNLESS_GIVEN`): a no-op task's hash and append-only file entry are about a sixth shorter. What a user relies
 * on: every read gives the same record as before (a missing field reads as none), a field given a value is stored,
 * and a record handed over whole (its end fields set) loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import type { TaskRecord } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `sparse${process.pid}-${++n}`;

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

const LEFT_OUT_AT_ADD = ['startedAt', 'finishedAt', 'error', 'output', 'progress', 'owner', 'leaseUntil'];
const LEFT_OUT_UNLESS_GIVEN = ['timeoutMs', 'ref', 'key', 'trace', 'group', 'retention'];

async function storedFields(c: RedisContainer, id: string): Promise<Record<string, string>> {
	return await admin.hgetall(`${c.keyPrefix}t:${id}`);
}

describe('RedisContainer: a task hash without the fields that hold none', () => {
	it('stores a plain task without them, and reads it, claims it and ends it as before', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		const [added] = records([{ id: 'plain', item: { n: 1 } }]);
		await c.add([added as TaskRecord]);
		const stored = await storedFields(c, 'plain');
		for (const field of [...LEFT_OUT_AT_ADD, ...LEFT_OUT_UNLESS_GIVEN, 'stopRequested', 'lastTransition'])
			expect(stored, field).not.toHaveProperty(field);
		expect(stored).toMatchObject({ id: 'plain', status: 'waiting', item: '{"n":1}', attempts: '0' });
		expect(await c.get('plain')).toEqual({ ...added, seq: expect.any(Number) as number });

		const [claimed] = await c.claim(1, 'me', 10_000, Date.now());
		expect(claimed).toMatchObject({ id: 'plain', status: 'running', owner: 'me', error: null, output: null });
		expect(claimed).toEqual(await c.get('plain'));
		// A retry (back to waiting with an error), then a second claim (read field by field), then a success.
		const error = { message: 'boom', code: 'E_BOOM' };
		await c.transition('plain', 'running', 'waiting', { error, owner: null, leaseUntil: null, runAt: 0 }, 'me');
		const [again] = await c.claim(1, 'me', 10_000, Date.now());
		expect(again).toMatchObject({ attempts: 2, error, output: null, progress: null, timeoutMs: null, key: null });
		const done = await c.transition('plain', 'running', 'succeeded', {
			finishedAt: Date.now(),
			owner: null,
			leaseUntil: null,
			output: 'out',
		});
		expect(done).toEqual(await c.get('plain'));
		expect(done).toMatchObject({ status: 'succeeded', output: 'out', owner: null, leaseUntil: null });
		await c.close();
	});

	it('stores the optional fields a task is given, and only the end fields left at none', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		const [base] = records([
			{ id: 'given', item: 1, timeoutMs: 1500, key: 'k', group: 'g', retention: { failed: 5 } },
		]);
		await c.add([{ ...(base as TaskRecord), ref: { order: 7 } }]);
		const stored = await storedFields(c, 'given');
		expect(stored).toMatchObject({ timeoutMs: '1500', key: '"k"', group: '"g"', ref: '{"order":7}' });
		for (const field of LEFT_OUT_AT_ADD) expect(stored, field).not.toHaveProperty(field);
		expect(await c.get('given')).toMatchObject({
			timeoutMs: 1500,
			key: 'k',
			group: 'g',
			ref: { order: 7 },
			retention: { failed: 5 },
			error: null,
			startedAt: null,
		});
		await c.close();
	});

	it('keeps every field of a record handed over whole with its end fields set', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		const now = Date.now();
		const [base] = records([{ id: 'whole', item: 'x' }], now);
		const whole: TaskRecord = {
			...(base as TaskRecord),
			attempts: 1,
			error: { message: 'earlier', code: 'E_EARLIER' },
			output: { partial: true },
			progress: 40,
			startedAt: now - 5,
			finishedAt: now - 1,
			stopRequested: true,
		};
		await c.add([whole]);
		const stored = await storedFields(c, 'whole');
		expect(stored).toMatchObject({ progress: '40', stopRequested: '1', startedAt: String(now - 5) });
		expect(await c.get('whole')).toMatchObject({
			status: 'waiting',
			error: whole.error,
			output: whole.output,
			progress: 40,
			startedAt: now - 5,
			finishedAt: now - 1,
			stopRequested: true,
		});
		await c.close();
	});
});
