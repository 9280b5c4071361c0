/** The check of the server's `maxmemory-policy`: a task hash Redis evicts is a lost task. */
import type { Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import type { RedisContainerWarning } from './options.js';

/**
 * Reads the server's policy (a bounded call) and gives `warn` its warning, if any. No connection: checked once it
 * comes (an unreachable server is not a policy problem, nor worth a warning).
 */
export async function checkMemoryPolicy(
	redis: Redis,
	guard: CallGuard,
	keyPrefix: string,
	closed: () => boolean,
	warn: (warning: RedisContainerWarning) => void,
): Promise<void> {
	let answered = false;
	const read = async (): Promise<unknown> => {
		const reply = await guard.run('config get maxmemory-policy', () => redis.config('GET', 'maxmemory-policy'));
		answered = true;
		return reply;
	};
	const unreachable = (): boolean => closed() || redis.status !== 'ready';
	const warning = await memoryPolicyWarning(read, keyPrefix, unreachable);
	if (warning !== undefined) warn(warning);
	else if (!answered && !closed())
		redis.once('ready', () => void checkMemoryPolicy(redis, guard, keyPrefix, closed, warn));
}

/**
 * The warning to give for the policy `read` returns (the reply of `CONFIG GET maxmemory-policy`), or `undefined`
 * when it is `noeviction`. A policy that cannot be read (`CONFIG` not allowed) warns too; `closed` tells a failure
 * that does not (the container closed, the server unreachable: the container checks again once it is back).
 */
export async function memoryPolicyWarning(
	read: () => Promise<unknown>,
	keyPrefix: string,
	closed: () => boolean,
): Promise<RedisContainerWarning | undefined> {
	let policy: string | undefined;
	try {
		policy = ((await read()) as string[])[1];
	} catch (error) {
		if (closed()) return undefined;
		return {
			code: 'config-unavailable',
			message: `RedisContainer \`${keyPrefix}\`: could not read the server's maxmemory-policy (${(error as Error).message}); make sure it is \`noeviction\`, or Redis may evict task keys`,
		};
	}
	if (policy === undefined || policy === 'noeviction') return undefined;
	return {
		code: 'maxmemory-policy',
		policy,
		message: `RedisContainer \`${keyPrefix}\`: the server's maxmemory-policy is \`${policy}\`, so Redis may evict task keys under memory pressure; set it to \`noeviction\``,
	};
}
