/** How the Redis container runs its scripts: every call bounded (call-guard.ts), each script by its SHA. */
import type { Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import type { ClockedScript } from './scripts.js';

/** Runs one of the container's scripts with its arguments (`scale` widens the call's reply bound, see call-guard.ts). */
export type ScriptRun = (script: ClockedScript, args: readonly string[], scale?: number) => Promise<unknown>;

/**
 * A script runner for one container: the variant of its clock (the server's or the caller's), sent by SHA and
 * loaded with its source on NOSCRIPT (a new or restarted server), the key prefix as its one key.
 */
export function scriptRunner(redis: Redis, guard: CallGuard, keyPrefix: string, serverClock: boolean): ScriptRun {
	return (clocked, args, scale = 1) => {
		const script = serverClock ? clocked.server : clocked.caller;
		return guard.run(
			script.name,
			async () => {
				// Arrays, not spread arguments: an add of 100,000 tasks has almost two million.
				const tail = ['1', keyPrefix].concat(args);
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
