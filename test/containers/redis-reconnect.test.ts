/**
 * How soon the container's own connections find a redis-server that is back. ioredis 6's default `retryStrategy`
 * doubles its pause up to 5 s (plus up to 199 ms): after an outage of 6.4 s or more, a server started again was
 * reached up to 5.2 s later, and a call made right after the restart waited its whole `connectTimeoutMs` (5 s) and
 * rejected with the outage's last `ECONNREFUSED` though the server had been up all along (the flake of
 * test/workflows/faults.test.ts on a loaded CI machine). Connections the container or the store opens pause at most
 * `RECONNECT_MAX_MS` plus that jitter; a `retryStrategy` given in ioredis options is kept.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { RECONNECT_MAX_MS } from '../../containers/redis/connection.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let n = 0;
const fresh = (): string => `r${process.pid}-${++n}`;

beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

/** How long `call` took, in ms, and what it rejected with (if it did). */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
	const start = performance.now();
	try {
		await call();
		return { ms: performance.now() - start, error: undefined };
	} catch (error) {
		return { ms: performance.now() - start, error };
	}
}

/** The longest pause plus ioredis's jitter (199 ms), and room for a loaded machine's connect and ready check. */
const BACK_WITHIN_MS = RECONNECT_MAX_MS + 200 + 600;

describe('RedisContainer and RedisWorkflowStore after a long outage', () => {
	it(
		`reach a server started again after 8 s within ${BACK_WITHIN_MS} ms (ioredis's default: up to 5.2 s)`,
		{ timeout: 40_000 },
		async () => {
			const name = fresh();
			const container = new RedisContainer({ redis: server.url, name, log: false });
			const store = new RedisWorkflowStore({ redis: server.url, name });
			try {
				await container.counts();
				await store.list({ limit: 1 });
				await server.stop();
				// Past the default strategy's seventh pause (it ends 6.35 to 7.75 s into the outage): its eighth is 5 s.
				await sleep(8000);
				await server.restart();
				const [counts, list] = await Promise.all([
					timed(() => container.counts()),
					timed(() => store.list({ limit: 1 })),
				]);
				console.log(
					`back after the restart: counts in ${counts.ms.toFixed(0)} ms, list in ${list.ms.toFixed(0)} ms`,
				);
				expect(counts.error, server.log()).toBeUndefined();
				expect(list.error, server.log()).toBeUndefined();
				expect(counts.ms).toBeLessThan(BACK_WITHIN_MS);
				expect(list.ms).toBeLessThan(BACK_WITHIN_MS);
			} finally {
				await container.close();
				await store.close();
			}
		},
	);

	it('keeps a retryStrategy given in ioredis options', async () => {
		const port = server.port;
		const asked: number[] = [];
		const retryStrategy = (times: number): number => {
			asked.push(times);
			return 20;
		};
		const container = new RedisContainer({
			redis: { host: '127.0.0.1', port, retryStrategy },
			name: fresh(),
			log: false,
		});
		try {
			await container.counts();
			await server.restart();
			await container.counts();
			expect(asked.length).toBeGreaterThan(0);
		} finally {
			await container.close();
		}
	});
});
