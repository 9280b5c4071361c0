/**
 * A large `RedisContainer.add` goes in steps of short scripts (containers/redis/stepped-add.ts): Redis keeps
 * answering other clients meanwhile, a refused id or key stores nothing, a failure while writing says exactly what
 * was stored (`PartialAddError`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DuplicateKeyError, DuplicateTaskError, type NewTask } from 'lightsched';
import { PartialAddError, RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { startCuttingProxy, startRedis, type RedisServer } from '../support/redis.js';
import { bundledCommand } from '../support/bundled-command.js';

const ADDER = await bundledCommand('test/fixtures/redis-large-adder.ts');

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `big${process.pid}-${++n}`;
const open = (name = fresh(), url = server.url): RedisContainer => new RedisContainer({ redis: url, name, log: false });
const tasks = (count: number, prefix: string, extra: (i: number) => Partial<NewTask> = () => ({})): NewTask[] =>
	Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, item: { i }, ...extra(i) }));

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

/**
 * Pings the server every 1 ms from a separate process (this process's own synchronous work of encoding the add must
 * not count), until `stop`: the longest gap between two replies and the BUSY replies (Redis past its script time
 * limit answers BUSY to everyone).
 */
async function startProbe(port: number): Promise<{ stop(): Promise<{ maxGapMs: number; busy: number }> }> {
	const source = `
const { Redis } = require('ioredis');
const r = new Redis({ host: '127.0.0.1', port: Number(process.argv[1]) });
let running = true, maxGap = 0, busy = 0;
process.stdin.on('end', () => (running = false)).resume();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ping = async () => {
	for (;;) {
		try { return await r.ping(); } catch (error) {
			if (!String(error.message).startsWith('BUSY')) throw error;
			busy++;
			await sleep(1);
		}
	}
};
(async () => {
	await ping();
	process.stdout.write('ready\\n');
	let last = performance.now();
	while (running) {
		await ping();
		const now = performance.now();
		maxGap = Math.max(maxGap, now - last);
		last = now;
		await sleep(1);
	}
	r.disconnect();
	process.stdout.write(JSON.stringify({ maxGapMs: maxGap, busy }) + '\\n');
})();
`;
	const child = spawn(process.execPath, ['-e', source, String(port)], {
		cwd: fileURLToPath(new URL('../..', import.meta.url)),
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
	expect((await lines.next()).value).toBe('ready');
	return {
		async stop() {
			child.stdin.end();
			return JSON.parse(String((await lines.next()).value)) as { maxGapMs: number; busy: number };
		},
	};
}

/** The ids of the stored tasks of container `name` (read directly, not through a container). */
async function storedIds(name: string): Promise<string[]> {
	return admin.zrange(`lightsched:{${name}}:all`, '0', '-1');
}

describe('RedisContainer: a large add', () => {
	it('does not hold Redis for other clients: 100,000 tasks, each stored once', { timeout: 300_000 }, async () => {
		const name = fresh();
		const container = open(name);
		const batch = records(tasks(100_000, 'x', (i) => (i % 10 === 0 ? { runAt: Date.now() + 3_600_000 } : {})));
		const probe = await startProbe(server.port);
		await container.add(batch);
		const { maxGapMs, busy } = await probe.stop();
		// Not a speed test: it asks that the server is not blocked. One script for the whole add held Redis for
		// 2.5 to 6.5 s (past the 5 s script time limit: BUSY); steps of milliseconds leave no gap near 1 s even on
		// a loaded machine.
		expect(busy).toBe(0);
		expect(maxGapMs).toBeLessThan(1000);
		const counts = await container.counts();
		expect(counts.waiting).toBe(100_000);
		const ids = await storedIds(name);
		expect(ids.length).toBe(100_000);
		expect(new Set(ids).size).toBe(100_000);
		const prefix = `lightsched:{${name}}:`;
		expect((await admin.zcard(`${prefix}waiting`)) + (await admin.zcard(`${prefix}delayed`))).toBe(100_000);
		expect(await admin.zcard(`${prefix}delayed`)).toBe(10_000);
		// Every record got its own seq, in the add's order.
		expect(batch.every((task, i) => task.seq === (batch[0]?.seq ?? 0) + i)).toBe(true);
		// Nothing of the reservations is left.
		expect(await admin.exists(`${prefix}reserved`, `${prefix}reservedKeys`)).toBe(0);
		expect(await admin.keys(`${prefix}adding:*`)).toEqual([]);
		await container.close();
	});

	it('stores nothing when an id of a late step is already waiting', async () => {
		const name = fresh();
		const container = open(name);
		await container.add(records([{ id: 'y4900', item: 0 }]));
		const error = await container.add(records(tasks(5000, 'y'))).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(DuplicateTaskError);
		expect((error as DuplicateTaskError).id).toBe('y4900');
		expect(await storedIds(name)).toEqual(['y4900']);
		// Its reservations were dropped: the same tasks but the duplicate go in at once.
		await container.add(records(tasks(5000, 'y').filter((task) => task.id !== 'y4900')));
		expect((await container.counts()).waiting).toBe(5000);
		await container.close();
	});

	it('stores nothing when a key of a late step is held, or two of its tasks share a key', async () => {
		const name = fresh();
		const container = open(name);
		await container.add(records([{ id: 'holder', item: 0, key: 'k4000' }]));
		const keyed = (i: number): Partial<NewTask> => ({ key: `k${i}` });
		const held = await container.add(records(tasks(5000, 'z', keyed))).catch((e: unknown) => e);
		expect(held).toBeInstanceOf(DuplicateKeyError);
		expect(held).toMatchObject({ key: 'k4000', existingId: 'holder' });
		const shared = (i: number): Partial<NewTask> => ({ key: i === 4500 ? 'k10-b' : `k${i}-b` });
		const twice = await container.add(records(tasks(5000, 'w', shared))).catch((e: unknown) => e);
		expect(twice).toBeInstanceOf(DuplicateKeyError);
		expect(twice).toMatchObject({ key: 'k10-b', existingId: 'w10' });
		expect(await storedIds(name)).toEqual(['holder']);
		await container.close();
	});

	it(
		'lets one of two concurrent adds of the same id win, the other storing nothing',
		{ timeout: 60_000 },
		async () => {
			const name = fresh();
			const [a, b] = [open(name), open(name)];
			const first = tasks(4000, 'a').concat([{ id: 'both', item: 0 }]);
			const second = [{ id: 'both', item: 0 } as NewTask].concat(tasks(4000, 'b'));
			const results = await Promise.allSettled([a.add(records(first)), b.add(records(second))]);
			const failed = results.filter((r) => r.status === 'rejected');
			expect(failed).toHaveLength(1);
			expect((failed[0] as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateTaskError);
			const winner = results[0]?.status === 'fulfilled' ? first : second;
			expect((await storedIds(name)).sort()).toEqual(winner.map((task) => task.id).sort());
			// A small add of a reserved id is refused too; one of a dead add's reservations is not.
			await a.close();
			await b.close();
		},
	);

	it('refuses an id an add in progress reserved, and ignores a dead add’s reservation', async () => {
		const name = fresh();
		const container = open(name);
		const prefix = `lightsched:{${name}}:`;
		await admin.set(`${prefix}adding:live`, '1', 'PX', 30_000);
		await admin.hset(`${prefix}reserved`, 'r1', 'live', 'r2', 'dead');
		await admin.hset(`${prefix}reservedKeys`, '"kl"', 'live|r9', '"kd"', 'dead|r8');
		await expect(container.add(records([{ id: 'r1', item: 0 }]))).rejects.toThrow(/being added by another add/);
		await expect(container.add(records([{ id: 'r3', item: 0, key: 'kl' }]))).rejects.toMatchObject({
			key: 'kl',
			existingId: 'r9',
		});
		await container.add(records([{ id: 'r2', item: 0, key: 'kd' }]));
		expect(await storedIds(name)).toEqual(['r2']);
		expect(await admin.hget(`${prefix}reserved`, 'r2')).toBeNull();
		expect(await admin.hget(`${prefix}reservedKeys`, '"kd"')).toBeNull();
		await container.close();
	});

	it('records an added change per task for followers', async () => {
		const container = open();
		const start = await container.readChanges({ after: null, limit: 1, waitMs: 0 });
		await container.add(records(tasks(1200, 'f')));
		const seen: string[] = [];
		let after = start.next;
		for (;;) {
			const page = await container.readChanges({ after, limit: 1000, waitMs: 0 });
			seen.push(...page.changes.filter((c) => c.type === 'added').map((c) => c.id));
			after = page.next;
			if (page.changes.length === 0) break;
		}
		expect(seen).toEqual(tasks(1200, 'f').map((task) => task.id));
		await container.close();
	});

	it('completes through connections cut mid-add, each task stored once', { timeout: 120_000 }, async () => {
		for (let round = 0; round < 4; round++) {
			const proxy = await startCuttingProxy(server.port, 40 + round * 15);
			const name = fresh();
			const container = new RedisContainer({ redis: proxy.url, name, log: false, commandTimeoutMs: 5000 });
			const batch = tasks(20_000, `c${round}-`);
			const error = await container.add(records(batch)).catch((e: unknown) => e);
			const cuts = proxy.cuts;
			await container.close();
			await proxy.close();
			await sleep(200);
			const stored = await storedIds(name);
			// ioredis sends a step whose reply was lost again after reconnecting; the add's token makes the repeat
			// write nothing. A step overdue would reject with PartialAddError (the next test).
			expect(cuts).toBeGreaterThan(0);
			expect(error).toBeUndefined();
			expect(stored.length).toBe(20_000);
			expect(new Set(stored).size).toBe(20_000);
		}
	});

	it('says exactly what was stored when closed mid-add (PartialAddError)', { timeout: 60_000 }, async () => {
		const name = fresh();
		const container = open(name);
		const batch = tasks(40_000, 'p');
		const adding = container.add(records(batch)).catch((e: unknown) => e);
		// Close once the writes have begun (some tasks stored).
		while ((await admin.zcard(`lightsched:{${name}}:all`)) === 0) await sleep(2);
		await container.close();
		const error = await adding;
		await sleep(200);
		expect(error).toBeInstanceOf(PartialAddError);
		const partial = error as PartialAddError;
		const stored = new Set(await storedIds(name));
		expect(partial.storedIds.length).toBeGreaterThan(0);
		expect(partial.storedIds).toEqual(batch.slice(0, partial.storedIds.length).map((task) => task.id));
		for (const id of partial.storedIds) expect(stored.has(id)).toBe(true);
		const unsure = partial.unsureIds.filter((id) => stored.has(id));
		expect([0, partial.unsureIds.length]).toContain(unsure.length);
		// Nothing else of the add is stored.
		expect(stored.size).toBe(partial.storedIds.length + unsure.length);
		expect(partial.message).toMatch(/stopped part-way: the first \d+ are stored/);
	});

	it(
		'after its process is killed mid-add: the steps written stay, its reservations lapse with it',
		{ timeout: 90_000 },
		async () => {
			const name = fresh();
			const count = 200_000;
			const child = spawn(process.execPath, [ADDER[1]], {
				cwd: fileURLToPath(new URL('../..', import.meta.url)),
				env: { ...process.env, REDIS_URL: server.url, NAME: name, PREFIX: 'k', COUNT: String(count) },
				stdio: ['ignore', 'pipe', 'inherit'],
			});
			const exited = once(child, 'exit');
			// Kill it once its writes have begun.
			while ((await admin.zcard(`lightsched:{${name}}:all`)) === 0) await sleep(2);
			child.kill('SIGKILL');
			await exited;
			const stored = await storedIds(name);
			// Whole steps of 500, in the add's order.
			expect(stored.length).toBeGreaterThan(0);
			expect(stored.length).toBeLessThan(count);
			expect(stored.length % 500).toBe(0);
			expect(new Set(stored)).toEqual(new Set(Array.from({ length: stored.length }, (_, i) => `k${i}`)));
			// A task of the dead add that was not written is still reserved until the add's marker lapses (30 s after
			// its last step), then free.
			const container = open(name);
			const next = `k${stored.length}`;
			await expect(container.add(records([{ id: next, item: 0 }]))).rejects.toThrow(/being added by another add/);
			const prefix = `lightsched:{${name}}:`;
			const [marker] = await admin.keys(`${prefix}adding:*`);
			expect(marker).toBeDefined();
			const ttl = await admin.pttl(marker as string);
			expect(ttl).toBeGreaterThan(0);
			expect(ttl).toBeLessThanOrEqual(30_000);
			// Its lapse, brought forward: the dead add cannot renew the marker, so waiting out the rest of its 30 s
			// (most of this test's time before) proves no more than the key's expiry does.
			await admin.pexpire(marker as string, 100);
			await sleep(150);
			expect(await admin.exists(marker as string)).toBe(0);
			await container.add(records([{ id: next, item: 0 }]));
			expect((await container.counts()).waiting).toBe(stored.length + 1);
			await container.close();
		},
	);
});
