/**
 * Hand-off to idle claimers: an add claims its tasks for a scheduler that is known to be idle, in the add's own
 * script, and tells it over the wake-up channel with the claimed task itself, so the task starts without the
 * claim's round trip (add → wake → claim → start becomes add → start).
 *
 * - A claim that came back short (the claimer has free slots, nothing else waits) registers its owner as idle:
 *   `P idle` (sorted set, score: when the registration lapses, IDLE_TTL_MS after the claim, on the script's clock)
 *   and `P idlen` (hash, owner → `<free slots>:<leaseMs>`). A full claim, or one sent while the container's
 *   wake-up channel is down, removes it. Only claims without a global concurrency limit, rate limit or group limit
 *   register (those limits are judged by the claim script alone).
 * - An add (the add script's body, so a repeat's tick and a step of a large add too) then pops due waiting tasks,
 *   oldest of the highest priority first as a claim would, into running for the most recently registered owner,
 *   up to its free slots, through the claim's own code (`claimPopped`: lease, owner set, change stream), and
 *   publishes `take:<owner's byte length>:<packed task>` per task. Nothing is pushed while the queue is paused, a
 *   global limit starved a claim (`P starved`), or a rate or group limit is in use (`P rate`, `P gclock`); tasks
 *   left waiting get the usual `wake`.
 * - The add's reply carries the same bodies after the seqs, so an add made through the owner's own container (a
 *   scheduler adding to itself) holds the task before its next claim, whichever of reply and message comes first
 *   (each task is held once: the container remembers the one it saw until the other arrives).
 * - The container of that owner holds the task with the tasks claimed ahead (transitions.ts, claim-ahead) and wakes its
 *   scheduler, whose next claim takes it without a round trip. Not taken within the hold time (a paused or closing
 *   scheduler), it is handed back to waiting, its attempt not counted, as a task claimed ahead is.
 *
 * What keeps this safe: a pushed task is claimed by the same script code as any claim (compare-and-set versions,
 * leases), so the guarantees of a claim hold. A message that never arrives (the subscriber connection dropped) is
 * a claim whose reply was lost: orphans.ts hands the task back, uncounted, at the owner's next renewal, or when the
 * channel comes back or goes down (the container then checks every owner). A renewal tells such an orphan from a
 * push still on its way by a fence on the subscriber connection first (a PING: its reply follows every message
 * published before the renewal ran). Closing unregisters the container's owners, fences, then hands back what it
 * holds. A scheduler that dies stays registered until IDLE_TTL_MS lapses, so a registration names its container's
 * live channel (a second subscription of the wake-up connection, nothing published on it) and an add first asks
 * Redis whether anyone still listens there (`listening`): a dead process's connections are closed, its
 * subscriptions gone, and its registration is dropped instead of handed tasks. A registration without a live
 * channel (an earlier version's) is trusted.
 */

import { claimedOwnerAt } from './codec.js';

/** How long a short claim registers its owner as idle (refreshed by each claim). */
export const IDLE_TTL_MS = 1000;

/** The channel message prefix of a pushed task. */
export const TAKE_PREFIX = 'take:';

/** Lua for the scripts' prelude, after `claimPopped`. */
export const IDLE_PUSH_PRELUDE = `
-- Register owner as idle with free slots (a short claim), or drop its registration (free = 0). live: the channel its
-- container's subscriber connection listens on ('' for none), stored after the lease as '<free>:<leaseMs>:<live>'.
local noIdle = false
local function registerIdle(owner, free, leaseMs, now, live)
	if free > 0 then
		noIdle = false
		redis.call('ZADD', P .. 'idle', ms(tonumber(now) + ${IDLE_TTL_MS}), owner)
		local reg = free .. ':' .. leaseMs
		if live ~= nil and live ~= '' then reg = reg .. ':' .. live end
		redis.call('HSET', P .. 'idlen', owner, reg)
	elseif redis.call('ZSCORE', P .. 'idle', owner) then
		redis.call('ZREM', P .. 'idle', owner)
		redis.call('HDEL', P .. 'idlen', owner)
	end
end
-- Whether a registration's container still listens: its live channel has a subscriber (a process that died closed
-- its connections, and Redis drops their subscriptions at once). A registration without one is trusted.
local function listening(live)
	if live == '' then return true end
	return redis.call('PUBSUB', 'NUMSUB', live)[2] > 0
end
-- Claim due waiting tasks for registered idle owners and publish each (see idle-push.ts), appending each message's
-- body to out. Returns whether tasks are left waiting (then the caller publishes a wake).
-- noIdle: no owner was registered when this script call last looked (the adds of a call of releases look once).
local function pushIdle(now, out)
	if noIdle then return true end
	if redis.call('EXISTS', P .. 'idle') == 0 then
		noIdle = true
		return true
	end
	if redis.call('EXISTS', P .. 'paused', P .. 'starved', P .. 'rate', P .. 'gclock') > 0 then return true end
	-- The claims below read the waiting sets: the adds' entries made first.
	flushAdded()
	local lapsed = redis.call('ZRANGEBYSCORE', P .. 'idle', '-inf', now)
	for _, o in ipairs(lapsed) do
		redis.call('ZREM', P .. 'idle', o)
		redis.call('HDEL', P .. 'idlen', o)
	end
	for _ = 1, 100 do
		local top = redis.call('ZREVRANGE', P .. 'idle', 0, 0)
		if #top == 0 then break end
		local o = top[1]
		local reg = redis.call('HGET', P .. 'idlen', o) or ''
		local colon = string.find(reg, ':', 1, true)
		local free = colon and tonumber(string.sub(reg, 1, colon - 1)) or 0
		local rest = colon and string.sub(reg, colon + 1) or ''
		local second = string.find(rest, ':', 1, true)
		local live = second and string.sub(rest, second + 1) or ''
		local leaseMs = tonumber(second and string.sub(rest, 1, second - 1) or rest) or 0
		local got = 0
		if free > 0 and leaseMs > 0 and listening(live) then
			local popped = redis.call('ZPOPMIN', P .. 'waiting', free)
			got = #popped / 2
			if got > 0 then
				local claimed = claimPopped(popped, o, now, ms(tonumber(now) + leaseMs))
				for _, packed in ipairs(claimed) do
					local body = #o .. ':' .. packed
					redis.call('PUBLISH', P .. 'events', '${TAKE_PREFIX}' .. body)
					out[#out + 1] = body
				end
			end
		else
			-- Gone (or a registration this version cannot read): dropped, and the next registered owner is tried.
			free = 0
		end
		if got >= free then
			redis.call('ZREM', P .. 'idle', o)
			redis.call('HDEL', P .. 'idlen', o)
		else
			redis.call('HSET', P .. 'idlen', o, (free - got) .. ':' .. rest)
		end
		if free > 0 and got < free then return false end
	end
	return redis.call('EXISTS', P .. 'waiting') == 1
end
`;

/** ARGV: owners. Drops their idle registrations (a closing container's). */
export const UNREGISTER_BODY = `
for i = 1, #ARGV do
	redis.call('ZREM', P .. 'idle', ARGV[i])
	redis.call('HDEL', P .. 'idlen', ARGV[i])
end
return 0
`;

/**
 * The owner of a `take:` message's task (the message without its prefix), if it is one of `owners`, and the packed
 * task. The message gives the owner's length in UTF-8 bytes; the owner follows the packed task's fixed fields.
 */
export function takenBy(body: string, owners: Iterable<string>): [owner: string, packed: string] | undefined {
	const colon = body.indexOf(':');
	if (colon <= 0) return undefined;
	const bytes = Number(body.slice(0, colon));
	const packed = body.slice(colon + 1);
	const at = claimedOwnerAt(packed);
	if (at < 0) return undefined;
	for (const owner of owners) {
		if (Buffer.byteLength(owner) !== bytes || !packed.startsWith(owner, at)) continue;
		if (packed.charAt(at + owner.length) === '\u001f') return [owner, packed];
	}
	return undefined;
}
