/**
 * A step release on Redis (`withTaskRelease`, src/task-release.ts): a workflow run's compare-and-set write and the
 * add of the step tasks it starts, in ONE script on the container's connection. The run store's keys and the
 * container's share one prefix (one Redis Cluster hash slot, see workflow-scripts.ts), so one script can write
 * both: both are stored or neither, and a step end costs one round trip fewer than a run write then an add.
 *
 * The script is the container's (scripts.ts `script`: its prelude and clock) with the store's helpers
 * (workflow-scripts.ts) and the container's own add (`addBody`) inside, as a repeat's tick adds its task
 * (repeat-scripts.ts). Redis does not roll a script back: every check that can refuse (the compare-and-set, the
 * run's unique key, the add's ids and keys) runs before the first write.
 */
import type { Redis } from 'ioredis';
import { ADD_FIELDS } from './codec.js';
import { addBody } from './add-script.js';
import type { ReplicatedWrites } from './replicated-adds.js';
import { script, type ClockedScript } from './scripts.js';
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
	/** With `waitForReplicas`: the adds' connection, on which the store creates runs and waits for the replicas. */
	readonly replicated?: ReplicatedWrites | undefined;
}

/** The port of a `RedisContainer`, or `null` for any other container. */
export function scriptPortOf(container: unknown): RedisScriptPort | null {
	if (typeof container !== 'object' || container === null) return null;
	const port = (container as { [redisScriptPort]?: () => RedisScriptPort })[redisScriptPort];
	return typeof port === 'function' ? port.call(container) : null;
}

const F = ADD_FIELDS.length;

/**
 * The add's body with its wake-up deferred: an add publishes `wake` once it stored tasks; a call of several
 * releases publishes it once, at its end (the prelude's `publishWake`), not once per release. The release hands it
 * only tasks whose ids are not stored (`fresh`: their hashes are not read again), and makes the index entries of
 * all its adds at its end.
 */
const DEFERRED_ADD_BODY = addBody('wake = true', { fresh: true, flush: false });

/** How many values one release takes in `RELEASE_RUNS`'s ARGV before its tasks' values. */
export const RELEASE_HEAD = 15;

/**
 * Several releases, each its own compare-and-set (one refused or failed leaves the others as they are). ARGV, per
 * release: the expected rev, the run (11 values, its rev the new one: see workflow-scripts.ts), the add's now and
 * token, the number of tasks, then ${F} values per task (ADD_FIELDS order). Tasks whose ids are stored already
 * (whatever their status) are left as they are and not added. One reply per release: {'ok', id1, seq1, …} (the
 * tasks added; {'ok'} alone for this very release stored already, sent again after its reply was lost), {'stale'}, {'dupkey', holder run id}, {'task', …} with the add's refusal ({'dup', id[,
 * 'reserved']} or {'dupkey', key, holder[, 'reserved']}), or an error reply (the server failed a command of it);
 * nothing of a release is written unless 'ok'.
 */
export const RELEASE_RUNS = script(
	'workflow release',
	`${WORKFLOW_PRELUDE}
local function addAll(A)
${DEFERRED_ADD_BODY}
end
-- One release from ARGV[i]; every refusal comes before its first write (a script is not rolled back).
local function release(i, count)
	local run = fields(i + 1)
	local cur, refused = checkUpdate(ARGV[i], run)
	if refused then return refused end
	local first, last = i + ${RELEASE_HEAD}, i + ${RELEASE_HEAD} + count * ${F} - 1
	local ids, bases, kept = {}, {}, 0
	for b = first, last, ${F} do
		if redis.call('EXISTS', tkey(ARGV[b])) == 0 then
			kept = kept + 1
			ids[kept], bases[kept] = ARGV[b], b
		end
	end
	-- The add's arguments: now, token and the values of the tasks kept (as a rule all of them, in one copy while few
	-- enough for unpack's stack).
	local A
	if kept == count and count <= 40 then
		A = { ARGV[i + 12], ARGV[i + 13], unpack(ARGV, first, last) }
	else
		A = { ARGV[i + 12], ARGV[i + 13] }
		for t = 1, kept do
			local b, at = bases[t], 2 + (t - 1) * ${F}
			for j = 1, ${F} do A[at + j] = ARGV[b + j - 1] end
		end
	end
	local out = {'ok'}
	if kept > 0 then
		local added = addAll(A)
		if added[1] ~= 'ok' then return {'task', added[1], added[2], added[3], added[4]} end
		for k = 1, kept do
			out[2 * k], out[2 * k + 1] = ids[k], added[k + 1]
		end
	end
	applyUpdate(run, cur)
	return out
end
local replies = {}
local i = 1
while i <= #ARGV do
	local count = tonumber(ARGV[i + 14])
	local ok, reply = pcall(release, i, count)
	if not ok then
		if type(reply) == 'table' and reply.err then reply = { err = reply.err } else reply = { err = tostring(reply) } end
	end
	replies[#replies + 1] = reply
	i = i + ${RELEASE_HEAD} + count * ${F}
end
flushAdded()
publishWake()
return replies
`,
);
