/**
 * The wake-up channel's subscriber after a reconnection. ioredis re-subscribes by itself (`autoResubscribe`) and drops
 * that command's promise; when the connection is closed before the reply, the promise rejects with "Connection is
 * closed." and nobody handles it: an unhandled rejection in the user's process (it failed a CI run of
 * redis-lost-reply.test.ts when its schedulers closed). The container re-subscribes itself, handling the failure.
 *
 * A proxy forwards everything until a reconnected subscriber sends SUBSCRIBE; then it holds the server's replies,
 * and the test closes the container while that SUBSCRIBE is unanswered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startInterceptingProxy } from '../support/tcp-proxy.js';

let server: RedisServer;

beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

interface HoldingProxy {
	readonly url: string;
	/** Cut every connection open now. */
	cut(): void;
	/** Resolves when a connection opened after `cut()` sent SUBSCRIBE (its replies are held from then on). */
	readonly heldSubscribe: Promise<void>;
	close(): Promise<void>;
}

async function startHoldingProxy(targetPort: number): Promise<HoldingProxy> {
	let generation = 0;
	let onHeld: () => void = () => {};
	const heldSubscribe = new Promise<void>((resolve) => {
		onHeld = resolve;
	});
	const proxy = await startInterceptingProxy(targetPort, (connection) => {
		const reconnected = generation > 0;
		let holding = false;
		return {
			fromClient: (chunk) => {
				if (reconnected && /subscribe/i.test(chunk.toString('latin1'))) {
					holding = true;
					onHeld();
				}
				connection.toServer(chunk);
			},
			fromServer: (chunk) => {
				if (!holding) connection.toClient(chunk);
			},
		};
	});
	return {
		url: `redis://127.0.0.1:${proxy.port}`,
		heldSubscribe,
		cut() {
			generation++;
			proxy.cut();
		},
		close: () => proxy.close(),
	};
}

describe('RedisContainer wake-up channel after a reconnection', () => {
	it('closing while the re-subscription is unanswered leaves no unhandled rejection', async () => {
		const proxy = await startHoldingProxy(server.port);
		const unhandled: unknown[] = [];
		const record = (reason: unknown): void => void unhandled.push(reason);
		process.on('unhandledRejection', record);
		try {
			const container = new RedisContainer({ redis: proxy.url, name: `resub-${process.pid}`, log: false });
			const signals: unknown[] = [];
			container.watch((signal) => signals.push(signal));
			await container.ready();
			proxy.cut();
			await proxy.heldSubscribe;
			await container.close();
			// Rejections are reported as unhandled after the microtask queue drains; give it a few turns.
			await sleep(100);
			expect(unhandled.map(String)).toEqual([]);
			// The channel went down with the cut, and was reported so (schedulers poll meanwhile).
			expect(signals).toContainEqual(expect.objectContaining({ type: 'channel', ok: false }));
		} finally {
			process.off('unhandledRejection', record);
			await proxy.close();
		}
	});
});
