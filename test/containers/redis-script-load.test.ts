/**
 * RedisContainer on a server that does not have its scripts cached yet (a new, restarted or flushed server): the
 * first burst of calls does not come back with NOSCRIPT to be sent again whole (containers/redis/script-runner.ts),
 * and a server that loses its scripts mid-run is still served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
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

/** How many NOSCRIPT errors the server has answered since its statistics were reset. */
async function noscriptErrors(): Promise<number> {
	const info = await admin.info('errorstats');
	const match = /errorstat_NOSCRIPT:count=(\d+)/.exec(info);
	return match === null ? 0 : Number(match[1]);
}

/** A scheduler with concurrency 50 on a fresh queue, recording the items it ran. */
function scheduler(name: string): { scheduler: Scheduler<string, string>; ran: string[] } {
	const ran: string[] = [];
	const container = new RedisContainer({ redis: server.url, name, log: false });
	const s = new Scheduler<string, string>({
		container,
		concurrency: 50,
		actuator: new FunctionActuator((item: string) => {
			ran.push(item);
			return item;
		}),
	});
	return { scheduler: s, ran };
}

/** A burst of `n` tasks added by 10 concurrent `add` calls, run to the end. */
async function burst(s: Scheduler<string, string>, tag: string, n: number): Promise<void> {
	const per = n / 10;
	const added = await Promise.all(
		Array.from({ length: 10 }, (_, a) =>
			s.add(Array.from({ length: per }, (_, i) => ({ item: `${tag}${a}-${i}` }))),
		),
	);
	const ends = await Promise.all(added.flat().map((task) => s.waitFor(task.id, { timeoutMs: 20_000 })));
	expect(ends.every((task) => task.status === 'succeeded')).toBe(true);
}

describe('RedisContainer: scripts on a server that has not cached them', () => {
	it('sends a burst of first calls without a single NOSCRIPT round trip', async () => {
		await admin.script('FLUSH');
		await admin.config('RESETSTAT');
		const { scheduler: s, ran } = scheduler('load-a');
		try {
			await burst(s, 'a', 500);
		} finally {
			await s.close();
		}
		expect(new Set(ran).size).toBe(500);
		expect(await noscriptErrors()).toBe(0);
	});

	it('still runs every task when the server loses its scripts mid-run', async () => {
		const { scheduler: s, ran } = scheduler('load-b');
		try {
			await burst(s, 'b', 100);
			await admin.script('FLUSH');
			await admin.config('RESETSTAT');
			await burst(s, 'c', 300);
		} finally {
			await s.close();
		}
		expect(new Set(ran).size).toBe(400);
		// The calls after the flush found their scripts gone and were sent again with the source.
		expect(await noscriptErrors()).toBeGreaterThan(0);
	});
});
