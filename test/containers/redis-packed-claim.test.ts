/**
 * RedisContainer: a task's first claim reads the add's packed copy of its fields (codec.ts PACKED_FIELD) instead of
 * nineteen fields, and gives the same stored values and record as the full read; a task without the copy (an older
 * process's add, or one too long to pack) and a task written since its add (the copy stale) are read field by field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import type { TaskRecord } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { aroundScriptCalls } from '../support/script-calls.js';
import { PACKED_FIELD, RECORD_FIELDS, storedNone, unpackClaimed } from '../../containers/redis/codec.js';

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `pk${process.pid}-${++n}`;

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

/** A container whose claim script replies (the packed claimed tasks) are kept. */
function recording(): { container: RedisContainer; claimed: string[] } {
	const client = new Redis(server.url);
	const claimed: string[] = [];
	aroundScriptCalls(client, async (command, args, send) => {
		const reply = await send(command, args);
		if (Array.isArray(reply))
			for (const one of reply) if (typeof one === 'string' && one.includes('\u001f')) claimed.push(one);
		return reply;
	});
	return { container: new RedisContainer({ redis: client, name: fresh(), log: false }), claimed };
}

/**
 * The task's stored values (RECORD_FIELDS order), a field the add left out (it held none) as its stored value for
 * none, which it reads as; `v` and `seq` are always stored.
 */
async function storedValues(c: RedisContainer, id: string): Promise<(string | null)[]> {
	const values = await admin.hmget(`${c.keyPrefix}t:${id}`, ...RECORD_FIELDS);
	return values.map((value, i) => value ?? storedNone(RECORD_FIELDS[i] as string));
}

/** Claims everything for `me` and checks each claimed task against a full read of its hash after the claim. */
async function claimAndCompare(c: RedisContainer, claimed: string[], count: number): Promise<TaskRecord[]> {
	const tasks = await c.claim(count, 'me', 10_000, Date.now());
	expect(tasks).toHaveLength(count);
	expect(claimed).toHaveLength(count);
	for (const [i, task] of tasks.entries()) {
		expect(task).toEqual(await c.get(task.id));
		// The stored values this process keeps (a transition's short form rebuilds records from them) are exact.
		expect(unpackClaimed(claimed[i] as string, 'me')).toEqual(await storedValues(c, task.id));
	}
	return tasks;
}

const long = 'x'.repeat(50);

describe('RedisContainer: the first claim from the add\u2019s packed copy', () => {
	it('gives every field as the full read does, with tasks of all kinds of fields', async () => {
		const { container: c, claimed } = recording();
		await c.add(
			records([
				{ id: 'plain', item: null },
				{
					id: 'set',
					item: { a: [1, 'b'] },
					priority: 7,
					maxAttempts: 9,
					timeoutMs: 1500,
					key: 'k',
					group: 'g',
				},
				{ id: 'low', item: 'x', priority: -2, retention: { failed: 5 } },
				{ id: 'traced', item: 1 },
			]).map((task) => (task.id === 'traced' ? { ...task, trace: long } : task)),
		);
		const packed = await Promise.all(
			['plain', 'set', 'low', 'traced'].map((id) => admin.hexists(`${c.keyPrefix}t:${id}`, PACKED_FIELD)),
		);
		// The long one has no copy: it would make the hash leave its compact form.
		expect(packed).toEqual([1, 1, 1, 0]);
		for (const id of ['plain', 'traced'])
			expect(await admin.object('ENCODING', `${c.keyPrefix}t:${id}`)).toBe('listpack');
		const tasks = await claimAndCompare(c, claimed, 4);
		expect(claimed.filter((one) => one.startsWith('\u001e'))).toHaveLength(3);
		expect(tasks.find((t) => t.id === 'set')).toMatchObject({
			status: 'running',
			attempts: 1,
			priority: 7,
			maxAttempts: 9,
			timeoutMs: 1500,
			key: 'k',
			group: 'g',
			item: { a: [1, 'b'] },
		});
		// And a transition of a task claimed that way (its short form) stores and returns the record it should.
		const done = await c.transition('set', 'running', 'succeeded', {
			finishedAt: Date.now(),
			owner: null,
			leaseUntil: null,
			output: 'out',
		});
		expect(done).toEqual(await c.get('set'));
		await c.close();
	});

	it('reads a task an older process added (no packed copy) field by field', async () => {
		const { container: c, claimed } = recording();
		await c.add(records([{ id: 'old', item: { n: 1 }, priority: 3, maxAttempts: 4, key: 'k-old' }]));
		// What an older version's add leaves: the same fields, version 0, no packed copy.
		await admin.hdel(`${c.keyPrefix}t:old`, PACKED_FIELD);
		const [task] = await claimAndCompare(c, claimed, 1);
		expect(claimed[0]?.startsWith('\u001e')).toBe(false);
		expect(task).toMatchObject({
			id: 'old',
			item: { n: 1 },
			priority: 3,
			maxAttempts: 4,
			key: 'k-old',
			attempts: 1,
		});
		await c.close();
	});

	it('reads a task written since its add (the copy stale) field by field', async () => {
		const { container: c, claimed } = recording();
		await c.add(records([{ id: 'again', item: 1 }]));
		await claimAndCompare(c, claimed, 1);
		const error = { message: 'boom', code: 'E_BOOM' };
		const runAt = Date.now() - 1;
		const patch = { error, owner: null, leaseUntil: null, runAt, progress: { pct: 50 } };
		await c.transition('again', 'running', 'waiting', patch, 'me');
		claimed.length = 0;
		const [task] = await claimAndCompare(c, claimed, 1);
		expect(claimed[0]?.startsWith('\u001e')).toBe(false);
		expect(task).toMatchObject({ id: 'again', attempts: 2, error, runAt, progress: { pct: 50 } });
		await c.close();
	});
	it('reads a task a 0.1.0 process wrote (no version bump, the copy left stale) field by field', async () => {
		// 0.1.0 neither bumps `v` nor empties the copy. Its claim then a retry leave the task waiting with an attempt
		// counted, an error and a new runAt; its claim-ahead hand-back leaves attempts at 0 and a new runAt. Both set
		// lastTransition (the transition's token). Written here as its scripts write them, the task left in waiting.
		const { container: c, claimed } = recording();
		await c.add(
			records([
				{ id: 'retried', item: 1 },
				{ id: 'handed', item: 2 },
			]),
		);
		const error = { message: 'boom', code: 'E_BOOM' };
		const runAt = Date.now() - 5;
		await admin.hset(`${c.keyPrefix}t:retried`, {
			attempts: '1',
			error: JSON.stringify(error),
			runAt: String(runAt),
			startedAt: String(runAt - 10),
			lastTransition: 'old-instance:1',
		});
		await admin.hset(`${c.keyPrefix}t:handed`, {
			runAt: String(runAt),
			startedAt: String(runAt - 10),
			lastTransition: 'old-instance:2',
		});
		const tasks = await claimAndCompare(c, claimed, 2);
		expect(claimed.filter((one) => one.startsWith('\u001e'))).toHaveLength(0);
		expect(tasks.find((t) => t.id === 'retried')).toMatchObject({ attempts: 2, error, runAt });
		expect(tasks.find((t) => t.id === 'handed')).toMatchObject({ attempts: 1, error: null, runAt });
		await c.close();
	});
});
