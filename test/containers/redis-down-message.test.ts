/**
 * What a call to a Redis server that is not there says (containers/redis/call-guard.ts): the state of the connection
 * in words, not ioredis's status word. It read "(the connection is reconnecting: connect ECONNREFUSED …)" for a
 * stopped server and "(the connection is connect: …)" for one that took the connection while it loaded its data.
 * Both against a real redis-server: stopped, and restarted with a data set it loads slowly (`key-load-delay`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ContainerError } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { startRedis } from '../support/redis.js';

let n = 0;
const fresh = (): string => `down-${process.pid}-${++n}`;

/** What `call` rejected with (undefined if it did not). */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
	try {
		await call();
		return undefined;
	} catch (error) {
		return error;
	}
}

describe('RedisContainer: what a call says when the server is not there', () => {
	it('a stopped server: the connection is reconnecting, with the last error naming the address', async () => {
		const own = await startRedis();
		const c = new RedisContainer({ redis: own.url, name: fresh(), log: false, connectTimeoutMs: 300 });
		try {
			await c.counts();
			await own.stop();
			// The first calls may be on their way when the connection drops (another message); then none is sent.
			for (let tries = 0; (await rejection(() => c.counts())) === undefined; tries++)
				expect(tries).toBeLessThan(20);
			const error = await rejection(() => c.counts());
			expect(error).toBeInstanceOf(ContainerError);
			expect((error as ContainerError).code).toBe('ERR_CONTAINER');
			expect((error as Error).message).toBe(
				`RedisContainer \`${c.keyPrefix}\` (redis 127.0.0.1:${own.port}): counts failed: no connection to ` +
					`the server within 300 ms (the Redis connection is reconnecting, last error: connect ECONNREFUSED ` +
					`127.0.0.1:${own.port}); nothing was sent`,
			);
			expect((error as ContainerError).cause).toMatchObject({ code: 'ECONNREFUSED' });
		} finally {
			await c.close();
			await own.close();
		}
	});

	it(
		'a server loading its data: it took the connection but has not said it is ready (no stale error in the words)',
		{ timeout: 30_000 },
		async () => {
			// 10 ms a key for 300 keys: a load of about 3 s, answering between keys (each key more than the 1 KiB
			// after which the loading server serves its clients).
			const own = await startRedis({
				args: ['--key-load-delay', '10000', '--loading-process-events-interval-bytes', '1024'],
			});
			const probe = new Redis(own.url, { enableReadyCheck: false, retryStrategy: () => 20 });
			probe.on('error', () => {});
			// A caller's instance that lives through the restart: its last error is the outage's ECONNREFUSED.
			const client = new Redis(own.url, { retryStrategy: () => 20, maxLoadingRetryTime: 100 });
			client.on('error', () => {});
			const containers: RedisContainer[] = [];
			const make = (redis: string | Redis): RedisContainer => {
				const made = new RedisContainer({ redis, name: fresh(), log: false, connectTimeoutMs: 300 });
				containers.push(made);
				return made;
			};
			try {
				const value = 'v'.repeat(2048);
				await probe.mset(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, value])));
				await probe.save();
				const through = make(client);
				await through.counts();
				await own.stop();
				await new Promise<void>((resolve) =>
					client.on('error', (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED' && resolve()),
				);
				const restarted = own.restart();
				// The server answers INFO while it loads; wait until it says so, and the caller's instance took its
				// connection.
				for (let tries = 0; ; tries++) {
					const info = await probe.info('persistence').catch(() => '');
					if (info.includes('loading:1') && client.status === 'connect') break;
					expect(tries).toBeLessThan(200);
					await sleep(20);
				}
				const opened = make(own.url);
				const errors = await Promise.all([opened, through].map((c) => rejection(() => c.counts())));
				expect(String((await probe.info('persistence')).match(/loading:\d/))).toBe('loading:1');
				for (const [i, c] of [opened, through].entries()) {
					const error = errors[i];
					expect(error).toBeInstanceOf(ContainerError);
					expect((error as ContainerError).code).toBe('ERR_CONTAINER');
					expect((error as Error).message).toBe(
						`RedisContainer \`${c.keyPrefix}\` (redis 127.0.0.1:${own.port}): counts failed: no connection to ` +
							`the server within 300 ms (the server took the connection but has not said it is ready: it is ` +
							`loading its data, or not answering); nothing was sent`,
					);
				}
				// The outage's error stays the cause.
				expect((errors[1] as ContainerError).cause).toMatchObject({ code: 'ECONNREFUSED' });
				await restarted;
				// Loaded, the same containers' calls go through.
				for (const c of [opened, through]) expect(await c.counts()).toMatchObject({ waiting: 0 });
			} finally {
				for (const c of containers) await c.close();
				client.disconnect();
				probe.disconnect();
				await own.close();
			}
		},
	);
});
