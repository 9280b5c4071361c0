/** How the Redis container runs its scripts: every call bounded (call-guard.ts), each script by its SHA. */
import type { Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import type { ClockedScript } from './scripts.js';

/** Runs one of the container's scripts with its arguments (`scale` widens the call's reply bound, see call-guard.ts). */
export type ScriptRun = (script: ClockedScript, args: readonly string[], scale?: number) => Promise<unknown>;

/**
 * A script runner for one container: the variant of its clock (the server's or the caller's), the key prefix as its
 * one key. A script's first call on this runner sends its source (`EVAL`, which also caches it on the server); the
 * calls after it send its SHA only. The server runs one connection's commands in order, so the calls of a first
 * burst, written behind that `EVAL` on the same connection, find the script cached: none of them comes back with
 * NOSCRIPT to be sent again whole. A server that lost its scripts since (a restart, `SCRIPT FLUSH`, a failover)
 * answers NOSCRIPT, and that call is sent again with its source.
 */
export function scriptRunner(redis: Redis, guard: CallGuard, keyPrefix: string, serverClock: boolean): ScriptRun {
	/** SHAs whose source this runner has sent. */
	const sent = new Set<string>();
	return (clocked, args, scale = 1) => {
		const script = serverClock ? clocked.server : clocked.caller;
		return guard.run(
			script.name,
			async () => {
				// Arrays, not spread arguments: an add of 100,000 tasks has almost two million.
				const tail = ['1', keyPrefix].concat(args);
				if (!sent.has(script.sha)) {
					sent.add(script.sha);
					return await redis.call('EVAL', [script.source].concat(tail));
				}
				try {
					return await redis.call('EVALSHA', [script.sha].concat(tail));
				} catch (error) {
					if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
					return await redis.call('EVAL', [script.source].concat(tail));
				}
			},
			scale,
		);
	};
}
