/**
 * A wake-up channel that goes silent without closing: the subscriber connection stays open but nothing passes on it
 * any more (a node that stopped answering, a half-open connection after a network fault; here a proxy that drops
 * that connection's traffic both ways). Its messages are lost without a `close`, so nothing says the channel is
 * down. An idle scheduler on it must still run a task another process adds: the container checks its subscriber
 * every few seconds (a PING, bounded), finds it silent, reports the channel down (the scheduler polls meanwhile)
 * and connects it again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ContainerSignal } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startInterceptingProxy, type InterceptingProxy } from '../support/tcp-proxy.js';
import { recordingScheduler } from '../support/scheduler.js';

let server: RedisServer;
let proxy: InterceptingProxy;
/** While true, the connections that subscribed pass nothing either way (they stay open). */
let silent = false;

beforeAll(async () => {
	server = await startRedis();
	proxy = await startInterceptingProxy(server.port, (connection) => {
		let subscriber = false;
		return {
			fromClient: (chunk) => {
				// The SUBSCRIBE command itself (a script's text may hold the word).
				if (/\*\d+\r\n\$9\r\nsubscribe\r\n/i.test(chunk.toString('latin1'))) subscriber = true;
				if (!(subscriber && silent)) connection.toServer(chunk);
			},
			fromServer: (chunk) => {
				if (!(subscriber && silent)) connection.toClient(chunk);
			},
		};
	});
}, 60_000);
afterAll(async () => {
	await proxy?.close();
	await server?.close();
});

it('an idle scheduler whose subscriber went silent still runs a task another process adds', async () => {
	const container = new RedisContainer({ redis: `redis://127.0.0.1:${proxy.port}`, name: 'silent', log: false });
	const signals: ContainerSignal[] = [];
	container.watch?.((signal) => signals.push(signal));
	const ran: string[] = [];
	const scheduler = recordingScheduler(container, ran); // its channel-down report ignored
	const writer = new RedisContainer({ redis: server.url, name: 'silent', log: false });
	try {
		await scheduler.add({ id: 'first', item: 'first' });
		await scheduler.waitFor('first', { timeoutMs: 10_000 });
		await scheduler.onIdle();
		silent = true;
		const addedAt = Date.now();
		await writer.add(records([{ id: 'late', item: 'late' }], addedAt, 1));
		for (let waited = 0; !ran.includes('late') && waited < 20_000; waited += 50)
			await new Promise((resolve) => setTimeout(resolve, 50));
		console.log(`the late task ran ${Date.now() - addedAt} ms after it was added`);
		expect(ran).toContain('late');
		expect(signals).toContainEqual(expect.objectContaining({ type: 'channel', ok: false }));
		// The network heals: the channel, connected again, is up again (its subscription sent anew).
		const downs = signals.length;
		silent = false;
		for (let waited = 0; waited < 30_000; waited += 50) {
			if (signals.slice(downs).some((s) => s.type === 'channel' && s.ok)) break;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		expect(signals.slice(downs)).toContainEqual({ type: 'channel', ok: true });
		// And wakes the scheduler again: a task added now runs without waiting for a poll.
		await writer.add(records([{ id: 'after', item: 'after' }], Date.now(), 1));
		await scheduler.waitFor('after', { timeoutMs: 10_000 });
	} finally {
		silent = false;
		await scheduler.close();
		await writer.close();
	}
}, 60_000);
