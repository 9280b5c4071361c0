/** The check of the server's `maxmemory-policy`: a task hash Redis evicts is a lost task. */
import type { RedisContainerWarning } from './options.js';

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
