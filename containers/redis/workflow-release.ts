/**
 * A step release on Redis (`withTaskRelease`, src/task-release.ts): a workflow run's compare-and-set write and the
 * add of the step tasks it starts, in ONE script on the container's connection. The run store's keys and the
 * container's share one prefix (one Redis Cluster hash slot, see workflow-scripts.ts), so one script can write
 * both: both are stored or neither, and a step end costs one round trip fewer than a run write then an add.
 *
 * The script is the container's (scripts.ts `script`: its prelude and clock) with the store's helpers
 * (workflow-scripts.ts) and the container's own add (`ADD_BODY`) inside, as a repeat's tick adds its task
 * (repeat-scripts.ts). Redis does not roll a script back: every check that can refuse (the compare-and-set, the
 * run's unique key, the add's ids and keys) runs before the first write.
 */
import type { Redis } from 'ioredis';
import { ADD_FIELDS } from './codec.js';
import { ADD_BODY, script, type ClockedScript } from './scripts.js';
import { WORKFLOW_PRELUDE } from './workflow-scripts.js';

/** The key of `RedisContainer[redisScriptPort]()`: what a `RedisWorkflowStore` on its connection needs of it. */
export const redisScriptPort: unique symbol = Symbol.for('lightsched.redis.scriptPort') as never;

/** A `RedisContainer`'s connection and script runner (its clock's variant, its call bounds). */
export interface RedisScriptPort {
	/** The container's ioredis instance. */
	readonly redis: Redis;
	/** The container's key prefix (`lightsched:{name}:`). */
	readonly keyPrefix: string;
	/** Run one of the container's scripts (KEYS[1] the prefix) with `args`. */
	run(script: ClockedScript, args: readonly string[]): Promise<unknown>;
}

/** The port of a `RedisContainer`, or `null` for any other container. */
export function scriptPortOf(container: unknown): RedisScriptPort | null {
	if (typeof container !== 'object' || container === null) return null;
	const port = (container as { [redisScriptPort]?: () => RedisScriptPort })[redisScriptPort];
	return typeof port === 'function' ? port.call(container) : null;
}

const F = ADD_FIELDS.length;

/**
 * ARGV: the expected rev, the run (10 values, its rev the new one: see workflow-scripts.ts), then the add's
 * arguments (now, token, ${F} values per task in ADD_FIELDS order). Tasks whose ids are stored already (whatever
 * their status) are left as they are and not added. Returns {'ok', id1, seq1, …} (the tasks added), {'stale'},
 * {'dupkey', holder run id}, or {'task', …} with the add's refusal ({'dup', id[, 'reserved']} or {'dupkey', key,
 * holder[, 'reserved']}); nothing is written unless 'ok'.
 */
export const RELEASE_RUN = script(
	'workflow release',
	`${WORKFLOW_PRELUDE}
local run = fields(2)
local cur, refused = checkUpdate(ARGV[1], run)
if refused then return refused end
local A = { ARGV[12], ARGV[13] }
local ids = {}
for b = 14, #ARGV, ${F} do
	if redis.call('EXISTS', tkey(ARGV[b])) == 0 then
		for j = 0, ${F - 1} do A[#A + 1] = ARGV[b + j] end
		ids[#ids + 1] = ARGV[b]
	end
end
local out = {'ok'}
if #ids > 0 then
	local function addAll()
${ADD_BODY}
	end
	local added = addAll()
	if added[1] ~= 'ok' then return {'task', added[1], added[2], added[3], added[4]} end
	for i, id in ipairs(ids) do
		out[#out + 1] = id
		out[#out + 1] = added[i + 1]
	end
end
applyUpdate(run, cur)
return out
`,
);
