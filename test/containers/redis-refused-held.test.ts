/**
 * A task the Redis container handed out stays handed out when a transition of it is refused or another owner's
 * renewal names it: its owner's next renewal that leaves it out reports it as `unknown` (RenewResult), and the
 * container does not hand it back by itself. It used to forget the claim on any refused transition (another
 * owner's late report, or a move from a status the task is not in) and on a renewal that found the task lost for
 * another owner, and then took the task for one it never handed out (an orphan, containers/redis/orphans.ts):
 * handed back uncounted, by the real clock, `unknown: []`. Found by the model test (test/model/, MODEL_RENEW_ANY=1).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { successPatch, type TaskRecord } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let made = 0;
beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

const make = (): RedisContainer =>
	new RedisContainer({
		redis: server.url,
		name: `refused-held-${process.pid}-${++made}`,
		log: false,
		clock: 'caller',
	});

/** Where the task stands once every call the container made on its own (a hand-back) reached the server. */
async function settled(container: RedisContainer, id: string): Promise<unknown[]> {
	await container.nextDueAt(Date.now());
	await new Promise((resolve) => setTimeout(resolve, 50));
	await container.nextDueAt(Date.now());
	const task = (await container.get(id)) as TaskRecord;
	return [task.status, task.owner, task.attempts];
}

it("another owner's late report, refused, leaves the task its new owner's: a renewal leaving it out reports it", async () => {
	const container = make();
	try {
		const t0 = Date.now();
		await container.add(records([{ id: 'a', item: 1 }]));
		expect((await container.claim(1, 'o2', 1_000, t0)).map((task) => task.id)).toEqual(['a']);
		// o2's lease lapses; the task is reclaimed and claimed by o1.
		expect((await container.reclaimExpired(t0 + 2_000)).map((task) => task.status)).toEqual(['waiting']);
		expect((await container.claim(1, 'o1', 1_000, t0 + 2_000)).map((task) => task.id)).toEqual(['a']);
		// o2's late success: refused (the compare-and-set on the owner).
		expect(await container.transition('a', 'running', 'succeeded', successPatch(1), 'o2')).toBeNull();
		// o1 renews without `a` (a claim whose reply it never got, as far as the contract goes): reported.
		const renewed = await container.renew('o1', [], 1_000, t0 + 2_100);
		expect(renewed.unknown).toEqual(['a']);
		expect(renewed.lost).toEqual([]);
		// Not handed back by the container: still o1's, its attempt counted once per claim.
		expect(await settled(container, 'a')).toEqual(['running', 'o1', 2]);
	} finally {
		await container.close();
	}
});

it("the owner's own move from a status the task is not in, refused, leaves the task its", async () => {
	const container = make();
	try {
		const t0 = Date.now();
		await container.add(records([{ id: 'a', item: 1 }]));
		await container.claim(1, 'o1', 1_000, t0);
		expect(await container.transition('a', 'exporting', 'succeeded', successPatch(1), 'o1')).toBeNull();
		expect((await container.renew('o1', [], 1_000, t0 + 100)).unknown).toEqual(['a']);
		expect(await settled(container, 'a')).toEqual(['running', 'o1', 1]);
	} finally {
		await container.close();
	}
});

it("another owner's renewal naming the task (lost for it) leaves the task its owner's", async () => {
	const container = make();
	try {
		const t0 = Date.now();
		await container.add(records([{ id: 'a', item: 1 }]));
		await container.claim(1, 'o1', 1_000, t0);
		expect((await container.renew('o2', ['a'], 1_000, t0 + 100)).lost).toEqual(['a']);
		expect((await container.renew('o1', [], 1_000, t0 + 200)).unknown).toEqual(['a']);
		expect(await settled(container, 'a')).toEqual(['running', 'o1', 1]);
	} finally {
		await container.close();
	}
});

it("the owner's late report, refused once the task was reclaimed, still goes (the task is not held)", async () => {
	const container = make();
	try {
		const t0 = Date.now();
		await container.add(records([{ id: 'a', item: 1 }]));
		await container.claim(1, 'o1', 1_000, t0);
		await container.reclaimExpired(t0 + 2_000);
		expect(await container.transition('a', 'running', 'succeeded', successPatch(1), 'o1')).toBeNull();
		const renewed = await container.renew('o1', ['a'], 1_000, t0 + 2_100);
		expect([renewed.lost, renewed.unknown]).toEqual([['a'], []]);
		expect(await settled(container, 'a')).toEqual(['waiting', null, 1]);
	} finally {
		await container.close();
	}
});
