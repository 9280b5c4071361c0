/**
 * An add rejected while it was on its way (docs/containers/redis.md "When Redis cannot be reached"): the connection
 * drops with the add sent but unanswered and does not come back within `connectTimeoutMs`, so the add rejects with
 * "the server may have applied it". ioredis still sends it again once the connection is back, so it is stored after
 * its rejection; a retry with the same id is refused with `DuplicateTaskError` and the task is stored once.
 *
 * The connection runs through a small proxy here that can swallow what the client sends (the call "on its way") and
 * refuse connections (the server out of reach) while redis-server itself keeps running.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, DuplicateTaskError } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

interface SwallowingProxy {
	readonly url: string;
	/** Drop what clients send instead of passing it on. */
	swallow: boolean;
	/** Close new connections at once (the server out of reach). */
	refuse: boolean;
	/** Close every open connection. */
	cut(): void;
	close(): Promise<void>;
}

async function startSwallowingProxy(targetPort: number): Promise<SwallowingProxy> {
	const sockets = new Set<Socket>();
	const state = { swallow: false, refuse: false };
	const server: Server = createServer((client) => {
		if (state.refuse) {
			client.destroy();
			return;
		}
		const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
		sockets.add(client).add(upstream);
		const end = (): void => {
			sockets.delete(client);
			sockets.delete(upstream);
			client.destroy();
			upstream.destroy();
		};
		client.on('error', end).on('close', end);
		upstream.on('error', end).on('close', end);
		client.on('data', (chunk: Buffer) => {
			if (!state.swallow) upstream.write(chunk);
		});
		upstream.pipe(client);
	});
	const port = await new Promise<number>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			resolve(typeof address === 'object' && address !== null ? address.port : 0);
		});
	});
	const cut = (): void => {
		for (const socket of [...sockets]) socket.destroy();
		sockets.clear();
	};
	return {
		url: `redis://127.0.0.1:${port}`,
		get swallow() {
			return state.swallow;
		},
		set swallow(value: boolean) {
			state.swallow = value;
		},
		get refuse() {
			return state.refuse;
		},
		set refuse(value: boolean) {
			state.refuse = value;
		},
		cut,
		async close() {
			cut();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

let server: RedisServer;
let proxy: SwallowingProxy;
beforeAll(async () => {
	server = await startRedis();
	proxy = await startSwallowingProxy(server.port);
});
afterAll(async () => {
	await proxy?.close();
	await server?.close();
});

describe('RedisContainer: an add rejected on its way', () => {
	it('is stored once the connection is back, and its retry with the same id is refused, not stored twice', async () => {
		const name = `rejected-${process.pid}`;
		const container = new RedisContainer({ redis: proxy.url, name, log: false, connectTimeoutMs: 500 });
		const direct = new RedisContainer({ redis: server.url, name, log: false });
		try {
			expect((await container.counts()).waiting).toBe(0);
			// The add leaves the client but never reaches the server; then the connection drops and stays down.
			proxy.swallow = true;
			const adding = container.add(records([{ id: 'r1', item: 1 }]));
			const outcome = adding.then(
				() => null,
				(error: unknown) => error,
			);
			await sleep(100);
			proxy.refuse = true;
			proxy.cut();
			const error = await outcome;
			expect(error).toBeInstanceOf(ContainerError);
			expect(String((error as Error).message)).toMatch(/the server may have applied it/);
			expect(await direct.get('r1')).toBeNull();

			// The server is in reach again: ioredis sends the add that was on its way, and it is stored.
			proxy.swallow = false;
			proxy.refuse = false;
			const deadline = Date.now() + 15_000;
			while ((await direct.get('r1')) === null) {
				if (Date.now() > deadline) throw new Error('the rejected add was never stored');
				await sleep(50);
			}

			// The caller's retry, with the same id: refused, nothing stored twice.
			await expect(container.add(records([{ id: 'r1', item: 1 }]))).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await direct.counts()).toMatchObject({ waiting: 1 });
		} finally {
			await container.close();
			await direct.close();
		}
	});
});
