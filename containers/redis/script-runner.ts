/** How the Redis container runs its scripts: every call bounded (call-guard.ts), each script by its SHA. */
import { Command, type Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import type { ClockedScript } from './scripts.js';

/** Runs one of the container's scripts with its arguments (`scale` widens the call's reply bound, see call-guard.ts). */
export type ScriptRun = (script: ClockedScript, args: readonly string[], scale?: number) => Promise<unknown>;

/**
 * Send the command `name` with `args` (strings) as they are. ioredis's `call` copies its arguments through
 * `Array.prototype.flat`, which V8 runs element by element: some 65 µs for a workflow release call's ~800 values,
 * 0.9 ms for an add of 500 tasks (11,000 values), where the list needs no flattening. A connection with a
 * `keyPrefix` or auto-pipelining goes through `call`, which applies them.
 */
export function sendArgs(redis: Redis, name: string, args: string[]): Promise<unknown> {
	const { keyPrefix, enableAutoPipelining, showFriendlyErrorStack } = redis.options;
	if (keyPrefix || enableAutoPipelining) return redis.call(name, args);
	const command = new Command(
		name,
		[],
		showFriendlyErrorStack ? { replyEncoding: 'utf8', errorStack: new Error() } : { replyEncoding: 'utf8' },
	);
	command.args = args;
	return redis.sendCommand(command) as Promise<unknown>;
}

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
				if (!sent.has(script.sha)) {
					sent.add(script.sha);
					return await sendArgs(redis, 'EVAL', [script.source, '1', keyPrefix].concat(args));
				}
				return await sendScript(redis, keyPrefix, script, args);
			},
			scale,
		);
	};
}

/**
 * Run a script that takes the key prefix as its one key on `redis` by its SHA, sending it whole on NOSCRIPT (a new or
 * restarted server): the runner's calls after a script's first, and the workflow store's scripts.
 */
export async function sendScript(
	redis: Redis,
	keyPrefix: string,
	script: { readonly sha: string; readonly source: string },
	args: readonly string[],
): Promise<unknown> {
	// Arrays, not spread arguments: an add of 100,000 tasks has almost two million.
	const tail = ['1', keyPrefix].concat(args);
	try {
		return await sendArgs(redis, 'EVALSHA', [script.sha].concat(tail));
	} catch (error) {
		if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
		return await sendArgs(redis, 'EVAL', [script.source].concat(tail));
	}
}
