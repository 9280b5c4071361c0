/**
 * A redis-server with a swallowing proxy in front of it (`startSwallowingProxy`), for the tests of a call or a reply
 * lost on its way (redis-rejected-add, redis-lost-replies, redis-transition-resend): the client connects through
 * `proxy.url`, a second client straight to `server.url` sees what the server holds.
 */
import { afterAll } from 'vitest';
import { startRedis, startSwallowingProxy, type RedisServer, type SwallowingProxy } from './redis.js';

/**
 * Start a redis-server and a swallowing proxy in front of it; both are closed after the file's tests. Call it at the
 * top level of a test file: `const { server, proxy } = await redisBehindProxy();`.
 */
export async function redisBehindProxy(): Promise<{ server: RedisServer; proxy: SwallowingProxy }> {
	const server = await startRedis();
	const proxy = await startSwallowingProxy(server.port).catch(async (error: unknown) => {
		await server.close();
		throw error;
	});
	afterAll(async () => {
		await proxy.close();
		await server.close();
	});
	return { server, proxy };
}
