/**
 * The Lua scripts of the Redis container. Every state change is one script: atomic on the server, one
 * round trip. KEYS[1] is the container's key prefix (`lightsched:{name}:`); every key a script touches
 * starts with it, so all share the `{name}` hash slot (Redis Cluster runs them on one node).
 *
 * Keys under the prefix P:
 * - `P t:<id>`      hash: the task record (see codec.ts)
 * - `P seq`         string: the arrival counter
 * - `P waiting`     sorted set of due waiting tasks: score -priority, member `%016d(seq)<id>` (equal scores sort
 *                   by member, so FIFO within a priority)
 * - `P delayed`     sorted set of waiting tasks not yet due: score runAt, member id
 * - `P running`     sorted set of running and exporting tasks: score leaseUntil, member id
 * - `P o:<owner>`   set of the ids of the running and exporting tasks `owner` holds (renew reports those the owner
 *                   does not know of: a claim whose reply was lost)
 * - `P all`         sorted set of every task: score seq (list in arrival order)
 * - `P s:<status>`  sorted set per status, for waiting and the final statuses only: score seq (list by status,
 *                   O(1) counts). Running and exporting tasks are exactly the members of `P running` (a task with
 *                   no lease has score +inf), so they need no second set (list scans `P running`, small)
 * - `P n:exporting` string: how many tasks are exporting (running = ZCARD running - this)
 * - `P starved`     flag: a claim was cut short by the global concurrency limit (wake claimers when a slot frees)
 * - `P rate`        hash: the rate limit's current window, `w` its start (aligned to the epoch), `n` its claims
 * - `P events`      pub/sub channel: `wake`, `stop:<id>`
 * - `P changes`     stream of task changes, written only while `P followers` exists (see change-event-scripts.ts)
 * - `P followers`   string with a TTL: someone follows the changes (set by each follower's read)
 * - `P changes:n`   string: the number of the last change entry (a reader tells a trimmed entry by a missing number)
 * - `P x:<status>`  sorted set per final status of the tasks in it with their own retention rule for it
 *                   (`TaskRecord.retention`): score finishedAt + rule (when it lapses, on the caller's clock, as
 *                   finishedAt is), for clean's `expiredBy`. Written wherever a task joins `P s:<status>`
 *
 * Time. Every script judges time by one clock, fixed when the script is built (`script()` makes both): the
 * server's (`TIME`, the default: schedulers whose clocks disagree never take over each other's live tasks) or the
 * caller's `now` argument (for tests that control time). The lease set and the delayed set are scored on that
 * clock; a due time the caller gives (a task's `runAt`, a patch's `runAt`) is stored as given and indexed at the
 * same distance from the script's now as it was from the caller's (`offset`).
 */
import { createHash } from 'node:crypto';
import { CLAIMED_FIELDS, PACKED_FIELD, RECORD_FIELDS, storedNone } from './codec.js';
import { CHANGES_PRELUDE } from './change-event-scripts.js';
import { RESERVATION_PRELUDE } from './reservations.js';
import { GROUP_CLAIM, GROUP_PRELUDE } from './group-limit.js';
import { IDLE_PUSH_PRELUDE, UNREGISTER_BODY } from './idle-push.js';

/** A script with its SHA1, for EVALSHA with an EVAL fallback. */
export interface LuaScript {
	readonly name: string;
	readonly source: string;
	readonly sha: string;
}

/** A script built for each clock (see Time above). */
export interface ClockedScript {
	readonly server: LuaScript;
	readonly caller: LuaScript;
}

/** A script: the shared prelude (key helpers, clock, enqueue, claimDue…) then `body`, once per clock. */
export function script(name: string, body: string): ClockedScript {
	const build = (serverClock: boolean): LuaScript => {
		const source = `local SERVER_CLOCK = ${String(serverClock)}\n${PRELUDE}\n${body}`;
		return { name, source, sha: createHash('sha1').update(source).digest('hex') };
	};
	return { server: build(true), caller: build(false) };
}

/**
 * The fields a claim writes whatever they held (its HSET in claimPopped), with the Lua value each gets: the claim does
 * not read them back. `attempts` and `v` are read, and written bumped.
 */
const CLAIM_WRITES: Readonly<Record<string, string>> = {
	status: "'running'",
	leaseUntil: 'lease',
	startedAt: 'now',
	updatedAt: 'now',
	attempts: 'attempts',
	v: 'v',
};
/** What claimPopped reads of a claimed task's hash: every packed field but those it overwrites (and owner, id). */
const CLAIM_READS = CLAIMED_FIELDS.filter((field) => !(field in CLAIM_WRITES) || field === 'attempts' || field === 'v');
/**
 * The packed fields' Lua values, in CLAIMED_FIELDS order (a missing field packs as its stored value for none,
 * codec.ts `storedNone`: an add leaves such fields out), joined by U+001F: one Lua concatenation (one string built,
 * no table).
 */
const CLAIMED_VALUES = CLAIMED_FIELDS.map((field) =>
	field in CLAIM_WRITES ? CLAIM_WRITES[field] : `(g[${CLAIM_READS.indexOf(field) + 1}] or '${storedNone(field)}')`,
).join(" .. '\\31' .. ");

const PRELUDE = `
local P = KEYS[1]
local function ms(x) return string.format('%.0f', x) end
-- The script's now (a string) and the offset that turns a caller's time into the script's clock. The server's clock
-- is read once a script call (TIME is one of the dearest calls a script makes): the releases of one call share it.
local serverNow, serverNowText = nil, nil
local function clock(callerNow)
	if SERVER_CLOCK then
		if serverNow == nil then
			local t = redis.call('TIME')
			serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
			serverNowText = ms(serverNow)
		end
		return serverNowText, serverNow - tonumber(callerNow)
	end
	return callerNow, 0
end
local function okey(owner) return P .. 'o:' .. owner end
local wake = false
local function tkey(id) return P .. 't:' .. id end
local function record(k) return redis.call('HMGET', k, ${RECORD_FIELDS.map((f) => `'${f}'`).join(', ')}) end
local function member(seq, id) return string.format('%016d', tonumber(seq)) .. id end
local function wscore(p)
	if string.sub(p, 1, 1) == '-' then return string.sub(p, 2) end
	if p == '0' then return '0' end
	return '-' .. p
end
${GROUP_PRELUDE}
-- A due waiting task into P waiting, or its group's parked set while the group has one (group-limit.ts).
local function toWaiting(id, seq, prio)
	local score, m = wscore(prio), member(seq, id)
	if not parkWithGroup(id, score, m) then redis.call('ZADD', P .. 'waiting', score, m) end
end
-- due: when the task becomes claimable, on the script's clock (a number or a string).
local function enqueue(id, seq, prio, due, now)
	if tonumber(due) > tonumber(now) then
		redis.call('ZADD', P .. 'delayed', ms(tonumber(due)), id)
	else
		toWaiting(id, seq, prio)
	end
end
local function dequeue(id, seq)
	redis.call('ZREM', P .. 'delayed', id)
	redis.call('ZREM', P .. 'waiting', member(seq, id))
	unparkOne(id, member(seq, id))
end
local function isFinal(s) return s == 'succeeded' or s == 'failed' or s == 'stopped' end
local function isActive(s) return s == 'running' or s == 'exporting' end
${CHANGES_PRELUDE}
${RESERVATION_PRELUDE}
-- A task that is deleted or replaced gives up its deduplication key (if the key still names it).
local function releaseKey(id)
	local key = redis.call('HGET', tkey(id), 'key')
	if key and key ~= 'null' and key ~= '' and redis.call('HGET', P .. 'keys', key) == id then
		redis.call('HDEL', P .. 'keys', key)
	end
end
-- A task that joined final status st after its hash was written: indexed in P x:st when it has its own rule for st
-- (its retention field, JSON, 'null' for none), scored by when the rule lapses.
local function indexExpiry(id, st)
	local f = redis.call('HMGET', tkey(id), 'retention', 'finishedAt')
	if not f[1] or f[1] == 'null' or f[1] == '' then return end
	local rule = cjson.decode(f[1])[st]
	if type(rule) ~= 'number' then return end
	redis.call('ZADD', P .. 'x:' .. st, ms((tonumber(f[2]) or 0) + rule), id)
end
-- Delete a finished task (remove, clean): its hash and its index entries.
local function dropFinished(id, st)
	releaseKey(id)
	redis.call('DEL', tkey(id), P .. 'l:' .. id)
	redis.call('ZREM', P .. 'all', id)
	redis.call('ZREM', P .. 's:' .. st, id)
	redis.call('ZREM', P .. 'x:' .. st, id)
end
-- Active tasks have no s: set (they are the members of P running); exporting ones are counted in P n:exporting.
local function restatus(id, seq, from, to)
	if from ~= to then
		if isActive(from) then
			if from == 'exporting' then redis.call('DECR', P .. 'n:exporting') end
		else
			redis.call('ZREM', P .. 's:' .. from, id)
			if isFinal(from) then redis.call('ZREM', P .. 'x:' .. from, id) end
		end
		if isActive(to) then
			if to == 'exporting' then redis.call('INCR', P .. 'n:exporting') end
		else
			redis.call('ZADD', P .. 's:' .. to, seq, id)
			if isFinal(to) then indexExpiry(id, to) end
		end
	end
end
-- A slot was freed: claimers the global limit held back are woken, once per script call (see publishWake).
local slotFreed = false
local function freed() slotFreed = true end
-- n + 1 for the small counts a hash holds (attempts, v): Lua's tostring of a number is a printf, the dearest step
-- of a claim after its reads. Any other value is counted as before.
-- The table is made at its first use in a script call (the scripts that count nothing do not pay for it).
local NEXT = nil
local function nextOf(n)
	if NEXT == nil then NEXT = { ${Array.from({ length: 20 }, (_, i) => `['${i}'] = '${i + 1}'`).join(', ')} } end
	return NEXT[n]
end
local function plusOne(n) return nextOf(n) or tostring(tonumber(n) + 1) end
-- The version every write of a task hash bumps (see known-records.ts).
local function bump(v) return nextOf(v) or tostring((tonumber(v) or 0) + 1) end
-- A task's version as the container names it ('<seq>:<v>', seq telling a re-added task apart: versionOf in
-- known-records.ts): what a transition compares with the version it was sent.
local function versionTag(seq, v) return (seq or '') .. ':' .. (v or '') end
local function publishWake()
	if slotFreed and redis.call('DEL', P .. 'starved') == 1 then wake = true end
	if wake then redis.call('PUBLISH', P .. 'events', 'wake') end
end
-- A variadic command over a long list, in slices (Lua's unpack stops at a few thousand values); step is even.
local function sliced(command, key, list)
	local step = 1000
	for i = 1, #list, step do redis.call(command, key, unpack(list, i, math.min(i + step - 1, #list))) end
end
-- The index entries of the tasks adds wrote (add-script.ts), made for all of them at once (variadic ZADDs): at the
-- end of an add, or of a call of releases, and before anything reads these sets (pushIdle's claims). addPairs: seq, id
-- pairs for P all and P s:waiting; queuePairs: score, member pairs for P waiting.
local addPairs, queuePairs, nAddPairs, nQueuePairs = {}, {}, 0, 0
local function flushAdded()
	if nAddPairs > 0 then
		sliced('ZADD', P .. 'all', addPairs)
		sliced('ZADD', P .. 's:waiting', addPairs)
		addPairs, nAddPairs = {}, 0
	end
	if nQueuePairs > 0 then
		sliced('ZADD', P .. 'waiting', queuePairs)
		queuePairs, nQueuePairs = {}, 0
	end
end
-- Moves popped waiting members (member, score pairs) into running for owner; returns each packed in one string
-- (codec.ts unpackClaimed). A task nothing wrote since its add (v 0, no attempt, no transition) with the add's packed
-- copy (codec.ts PACKED_FIELD) is read as five fields and sent in the packed form; any other reads the fields the
-- claim does not overwrite (see CLAIM_READS).
local function claimPopped(popped, owner, now, lease)
	local out, leases, ids = {}, {}, {}
	local tail = '\\31' .. owner .. '\\31'
	for i = 1, #popped, 2 do
		local c = (i + 1) / 2
		local m = popped[i]
		local id = string.sub(m, 17)
		local k = tkey(id)
		local a = redis.call('HMGET', k, 'v', 'attempts', '${PACKED_FIELD}', 'item', 'lastTransition')
		-- The copy is the add's while nothing wrote the hash since: version 0, no attempt, no transition. 0.1.0 writes
		-- neither the version nor the copy, but its claim counts an attempt and its transitions set lastTransition.
		if a[1] == '0' and a[2] == '0' and a[3] and (not a[5] or a[5] == '') then
			local attempts = plusOne(a[2])
			redis.call('HSET', k, 'status', 'running', 'owner', owner, 'leaseUntil', lease, 'startedAt', now, 'updatedAt', now, 'attempts', attempts, 'v', '1', '${PACKED_FIELD}', '')
			out[c] = '\\30\\31' .. a[3] .. '\\31' .. (a[4] or '') .. '\\31' .. attempts .. '\\31' .. lease .. '\\31' .. now .. tail .. id
		else
			local g = redis.call('HMGET', k, ${CLAIM_READS.map((f) => `'${f}'`).join(', ')})
			local attempts = plusOne(g[${CLAIM_READS.indexOf('attempts') + 1}])
			local v = bump(g[${CLAIM_READS.indexOf('v') + 1}])
			redis.call('HSET', k, 'status', 'running', 'owner', owner, 'leaseUntil', lease, 'startedAt', now, 'updatedAt', now, 'attempts', attempts, 'v', v)
			out[c] = ${CLAIMED_VALUES} .. tail .. id
		end
		recordChange(id, 'started', now, k)
		leases[i], leases[i + 1] = lease, id
		ids[c] = id
	end
	-- One ZADD and one ZREM for the whole claim (variadic), not one of each per task.
	sliced('ZADD', P .. 'running', leases)
	sliced('ZREM', P .. 's:waiting', ids)
	sliced('SADD', okey(owner), ids)
	return out
end
-- Pops up to max due tasks into running for owner.
local function claimDue(max, owner, now, lease)
	-- A queue-wide pause (setPaused) holds every claim, claim-ahead included.
	if redis.call('EXISTS', P .. 'paused') == 1 then return {} end
	return claimPopped(redis.call('ZPOPMIN', P .. 'waiting', max), owner, now, lease)
end
${IDLE_PUSH_PRELUDE}
`;

/**
 * ARGV: max, owner, now (the caller's), leaseMs, globalLimit (0 = none), rateMax and rateIntervalMs (0 = none; see
 * rate-limit.ts), groupMax and groupIntervalMs (0 = none; see group-limit.ts), and '1' when a short claim may
 * register its owner as idle (idle-push.ts; never with a limit), then the channel its container listens on for the
 * liveness check ('' for none); with either limit the reply starts
 * with when to claim again. Promotes due delayed tasks, then pops up to `max` waiting tasks (highest priority, then
 * oldest) into running. Returns their records (RECORD_FIELDS values).
 */
export const CLAIM = script(
	'claim',
	`
${GROUP_CLAIM}
local max = tonumber(ARGV[1])
local owner = ARGV[2]
local now = clock(ARGV[3])
local lease = ms(tonumber(now) + tonumber(ARGV[4]))
local limit = tonumber(ARGV[5])
local groupMax = tonumber(ARGV[8] or '0')
local limited = tonumber(ARGV[6]) > 0 or groupMax > 0
local due = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
	redis.call('ZREM', P .. 'delayed', id)
	local f = redis.call('HMGET', tkey(id), 'seq', 'priority', 'status')
	if f[3] == 'waiting' then toWaiting(id, f[1], f[2]) end
end
if limit > 0 then
	local free = limit - redis.call('ZCARD', P .. 'running')
	if free < max then
		redis.call('SET', P .. 'starved', '1')
		if free <= 0 then
			if limited then return { '-1' } end
			return {}
		end
		max = free
	end
end
-- With a rate or group limit the reply's first element says how long until the claim should be made again, when
-- the rate window cut it short (ms on the script's clock until it reopens) or the group scan bound did (0), else
-- -1; the claimed tasks follow.
local rateMax = tonumber(ARGV[6])
local reopen = '-1'
local w, n = 0, 0
if rateMax > 0 then
	local interval = tonumber(ARGV[7])
	w = math.floor(tonumber(now) / interval) * interval
	local r = redis.call('HMGET', P .. 'rate', 'w', 'n')
	-- A later window already counted (a caller's clock behind another's): take nothing until ours reaches it.
	if tonumber(r[1]) and tonumber(r[1]) > w then return { ms(tonumber(r[1]) - tonumber(now)) } end
	if tonumber(r[1]) == w then n = tonumber(r[2]) or 0 end
	if n + max > rateMax then
		max = rateMax - n
		reopen = ms(w + interval - tonumber(now))
	end
	if max <= 0 then return { reopen } end
end
if not limited then
	local out = claimDue(max, owner, now, lease)
	-- A short claim with nothing left waiting registers its owner as idle (idle-push.ts); a full one, or one that
	-- may not register (ARGV[10] ~= '1'), drops the registration.
	local free = 0
	if ARGV[10] == '1' and limit <= 0 and #out < max then free = max - #out end
	registerIdle(owner, free, ARGV[4], now, ARGV[11] or '')
	return out
end
local out
if groupMax > 0 then
	local short
	out, short = claimGrouped(max, owner, now, tonumber(ARGV[4]), groupMax, tonumber(ARGV[9]))
	if short then reopen = '0' end
else
	out = claimDue(max, owner, now, lease)
end
if rateMax > 0 and #out > 0 then redis.call('HSET', P .. 'rate', 'w', ms(w), 'n', n + #out) end
table.insert(out, 1, reopen)
return out
`,
);

/** ARGV: owners. Drops their idle registrations (idle-push.ts). */
export const UNREGISTER = script('unregisterIdle', UNREGISTER_BODY);
