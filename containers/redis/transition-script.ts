/**
 * The `transition` script: a batch of compare-and-set moves in one call (see scripts.ts for the key layout and
 * the prelude it runs on).
 */
import { script } from './scripts.js';

/** How many values each transition's array has before its patch pairs (see TRANSITION). */
export const TRANSITION_HEAD = 8;
/** In a usual success's skips (see TRANSITION): the known version's error is null, or its output the same. */
export const SUCCESS_SKIPS_ERROR = 1;
export const SUCCESS_SKIPS_OUTPUT = 2;
/** How many values a usual success's short form has (see TRANSITION). */
const SUCCESS_LENGTH = 7;

/**
 * A batch of transitions in one call (the container coalesces those issued in the same tick). ARGV[1] is the batch
 * as one JSON array: now (the caller's), token prefix, the usual owner and claim-ahead lease (see below), then one
 * array per transition: id, from, to, flags (1 = compare the owner, 2 = claim ahead, 4 = compare the version too:
 * the move applies only to the stored version given, 8 = compare the claim too, `ClaimGuard`), owner, token number,
 * the claim ahead's lease length in ms ('' for none), the version the caller knows (`<seq>:<v>` or ''), with flag 8
 * the claim's attempts and startedAt ('' for null), then the patch's field/value pairs. The usual end
 * of a task, a running task's success for the usual owner and lease with the success patch (output, error null,
 * finishedAt, no owner nor lease), comes in a short form of 7 values instead (SUCCESS_LENGTH): id, token number, the
 * seq and v the caller knows ('' and '' for none), finishedAt, output (stored form), and skips: the fields the
 * caller's version holds already (the sum of SUCCESS_SKIPS_ERROR, error null, and SUCCESS_SKIPS_OUTPUT, that
 * output), not written again when the stored version is that one: fewer strings for Redis to decode and fewer hash
 * writes per task, the same compare-and-set. One JSON string each way instead of some twenty RESP strings per
 * transition: Redis decodes and encodes it in C (cjson), and the client sends one argument and parses one reply natively, where
 * building and decoding RESP strings one by one was the largest part of its cost. Returns, as one JSON array,
 * [entries, claimed, now]: one entry per transition, in order: false (the compare-and-set lost on a task not
 * active or gone), or {held = owner, seq = seq} (it lost on a task still running or exporting: its stored owner and
 * seq, so the caller can tell whether a claim it handed out still stands; a late report of another owner, refused,
 * says nothing of that claim), [record], or {err = message} when that transition alone failed (the others still
 * apply; a wake is published once for the batch), or true when the stored version was the one the caller knows: it
 * has the rest and rebuilds the record with the script's now (known-records.ts); then the tasks claimed ahead, as
 * [owner, [packed records]] per owner (an empty list may come back as {}: cjson cannot tell an empty array from an
 * empty object); then the script's now.
 *
 * Each transition is a compare-and-set on status (and owner, with flag 1). With flag 2 an owner's task reaching a
 * final status also claims the next due task for the same owner (leased for the given length from the script's
 * now): the slot the finished task frees is refilled in the same round trip, as a busy scheduler's next claim
 * would. These claims are made once the whole batch applied, one pop per owner for as many tasks as its
 * transitions freed. The token (prefix:number) is unique per call and remembered (`lastTransition`): when ioredis sends
 * the same call again after a reconnect (the reply was lost, not the effect), the repeat returns the record and
 * applies nothing (not false, so the scheduler still reports the task's end; not applied again, even when the
 * compare-and-set would pass: the same owner may hold a later claim of the task by then). Any other call, even an
 * identical one, is compared afresh.
 */
export const TRANSITION = script(
	'transition',
	`
local batch = cjson.decode(ARGV[1])
local now, offset = clock(batch[1])
local tprefix = batch[2]
local usualOwner, usualLease = batch[3], batch[4]
local H = ${TRANSITION_HEAD}
-- An active task reaching a final status (the common case) leaves P running and joins P s:<status>: those index
-- writes are gathered and made once per batch (variadic ZREM and ZADDs) before any other kind of transition, so
-- every transition still sees the indexes as the ones before it left them.
local leaving, joining, dropping, expiring = {}, {}, {}, {}
local function flushIndexes()
	sliced('ZREM', P .. 'running', leaving)
	leaving = {}
	for status, members in pairs(joining) do sliced('ZADD', P .. 's:' .. status, members) end
	joining = {}
	-- Those with a retention rule of their own (read with the compare-and-set's fields) join P x:<status> too.
	for i = 1, #expiring, 2 do indexExpiry(expiring[i], expiring[i + 1]) end
	expiring = {}
	for o, ids in pairs(dropping) do sliced('SREM', okey(o), ids) end
	dropping = {}
end
-- Any other transition: the status sets, the queues, the lease set and the owners' sets, at once. A runAt in the
-- patch is the caller's time (indexed at offset); without one a task moved to waiting is due at once (on the
-- caller's clock: at its stored runAt, as before).
local function reindex(id, seq, from, to, prio, runAt, lease, oldOwner, t, p0, p1)
	local due = runAt
	if SERVER_CLOCK then due = now end
	local newOwner = oldOwner
	for i = p0, p1, 2 do
		local field = t[i]
		if field == 'runAt' then due = tonumber(t[i + 1]) + offset
		elseif field == 'leaseUntil' then lease = t[i + 1]
		elseif field == 'priority' then prio = t[i + 1]
		elseif field == 'owner' then newOwner = t[i + 1] end
	end
	if isActive(from) and oldOwner and oldOwner ~= '' and (not isActive(to) or newOwner ~= oldOwner) then
		redis.call('SREM', okey(oldOwner), id)
	end
	if isActive(to) and newOwner and newOwner ~= '' and (not isActive(from) or newOwner ~= oldOwner) then
		redis.call('SADD', okey(newOwner), id)
	end
	restatus(id, seq, from, to)
	if from == 'waiting' then dequeue(id, seq) end
	if isActive(from) and not isActive(to) then
		redis.call('ZREM', P .. 'running', id)
		freed()
	end
	if to == 'waiting' then
		enqueue(id, seq, prio, due, now)
		if from ~= 'waiting' then wake = true end
	elseif isActive(to) then
		-- Every active task is in P running (list and counts rely on it); without a lease it never expires.
		if not lease or lease == '' then lease = '+inf' end
		redis.call('ZADD', P .. 'running', lease, id)
	end
end
-- Claims ahead wanted per owner: made after the whole batch, one ZPOPMIN per owner instead of one per task.
local ahead, owners = {}, {}
-- A lost compare-and-set: false, or the holder of a task still active (see above).
local function refused(f)
	if isActive(f[1]) then return { held = f[2] or '', seq = f[3] or '' } end
	return false
end
local function one(t)
	local n = #t
	local usual = n == ${SUCCESS_LENGTH}
	local id, from, to, flags, owner, aheadMs
	if usual then
		id, from, to, owner, aheadMs = t[1], 'running', 'succeeded', usualOwner, usualLease
		flags = 1
		if aheadMs ~= '' then flags = 3 end
	else
		id, from, to, flags, owner, aheadMs = t[1], t[2], t[3], tonumber(t[4]), t[5], t[7]
	end
	local token
	if usual then token = tprefix .. ':' .. t[2] else token = tprefix .. ':' .. t[6] end
	local checkOwner = flags % 2 == 1
	local aheadWanted = math.floor(flags / 2) % 2 == 1
	local exact = math.floor(flags / 4) % 2 == 1
	local guarded = flags >= 8
	-- Where the patch pairs start: after the head, and after the claim's two values when guarded.
	local p0 = H + 1
	if guarded then p0 = H + 3 end
	local k = tkey(id)
	-- Only what every transition needs (each field is a look-up in the hash): the token on a lost compare, the
	-- indexed fields when it is not the common end of an active task (reindex).
	local f = redis.call('HMGET', k, 'status', 'owner', 'seq', 'v', 'retention', 'lastTransition')
	-- This very call, already applied: ioredis sent it again after a reconnect lost the reply. Report its result, and
	-- apply nothing, even when the compare would pass again: the task may have been claimed again by the same owner
	-- since (a hand-back applied twice would hand back that later claim while it runs).
	if f[6] == token then return {record(k)} end
	if f[1] ~= from or (checkOwner and f[2] ~= owner) then return refused(f) end
	if guarded then
		-- Only the claim named (attempts and startedAt, compared as numbers: '' and a missing field alike as none).
		local c = redis.call('HMGET', k, 'attempts', 'startedAt')
		if tonumber(c[1]) ~= tonumber(t[H + 1]) or tonumber(c[2]) ~= tonumber(t[H + 2]) then return refused(f) end
	end
	local seq = f[3]
	local known
	if usual then known = t[3] == seq and t[4] == f[4] else known = t[8] == versionTag(seq, f[4]) end
	-- A hand-back of the claim a renewal read (orphans.ts): a later claim of the task (a new version) is not its to move.
	if exact and not known then return refused(f) end
	local ending = isActive(from) and isFinal(to)
	if not ending then flushIndexes() end
	local ix = nil
	if not ending then ix = redis.call('HMGET', k, 'priority', 'runAt', 'leaseUntil') end
	if usual then
		-- The success patch, less what the known version holds already (skips).
		local skips = t[7]
		if not known then skips = '0' end
		if skips == '${SUCCESS_SKIPS_ERROR | SUCCESS_SKIPS_OUTPUT}' then
			redis.call('HSET', k, 'status', to, 'updatedAt', now, 'lastTransition', token, 'v', bump(f[4]), 'finishedAt', t[5], 'owner', '', 'leaseUntil', '')
		elseif skips == '${SUCCESS_SKIPS_ERROR}' then
			redis.call('HSET', k, 'status', to, 'updatedAt', now, 'lastTransition', token, 'v', bump(f[4]), 'finishedAt', t[5], 'owner', '', 'leaseUntil', '', 'output', t[6])
		elseif skips == '${SUCCESS_SKIPS_OUTPUT}' then
			redis.call('HSET', k, 'status', to, 'updatedAt', now, 'lastTransition', token, 'v', bump(f[4]), 'finishedAt', t[5], 'owner', '', 'leaseUntil', '', 'error', 'null')
		else
			redis.call('HSET', k, 'status', to, 'updatedAt', now, 'lastTransition', token, 'v', bump(f[4]), 'finishedAt', t[5], 'owner', '', 'leaseUntil', '', 'output', t[6], 'error', 'null')
		end
		if following ~= false then changeOf(id, from, to, now, k, false) end
	else
		redis.call('HSET', k, 'status', to, 'updatedAt', now, 'lastTransition', token, 'v', bump(f[4]), unpack(t, p0, n))
		if following ~= false then changeOf(id, from, to, now, k, patches(t, p0, n, 'progress')) end
	end
	if ending then
		if from == 'exporting' then redis.call('DECR', P .. 'n:exporting') end
		leaving[#leaving + 1] = id
		local members = joining[to]
		if members == nil then
			members = {}
			joining[to] = members
		end
		members[#members + 1], members[#members + 2] = seq, id
		if f[5] and f[5] ~= 'null' and f[5] ~= '' then expiring[#expiring + 1], expiring[#expiring + 2] = id, to end
		if f[2] and f[2] ~= '' then
			local held = dropping[f[2]]
			if held == nil then
				held = {}
				dropping[f[2]] = held
			end
			held[#held + 1] = id
		end
		freed()
	else
		reindex(id, seq, from, to, ix[1], ix[2], ix[3], f[2], t, p0, n)
	end
	if aheadWanted and checkOwner and isFinal(to) then
		local a = ahead[owner]
		if a == nil then
			a = { n = 0, lease = ms(tonumber(now) + tonumber(aheadMs)) }
			ahead[owner] = a
			owners[#owners + 1] = owner
		end
		a.n = a.n + 1
	end
	if known and not exact then return true end
	return {record(k)}
end
-- One pcall for the run of transitions up to the first that fails (not one per transition); a failed one gets its
-- error entry and the rest run on in a new pcall.
local out = {}
local at = 5
local function run()
	for i = at, #batch do
		out[#out + 1] = one(batch[i])
		at = i + 1
	end
end
while at <= #batch do
	local ok, res = pcall(run)
	if not ok then
		if type(res) == 'table' and res.err then
			out[#out + 1] = { err = res.err }
		else
			out[#out + 1] = { err = tostring(res) }
		end
		at = at + 1
	end
end
flushIndexes()
local claimed = {}
for _, o in ipairs(owners) do
	local ok, got = pcall(claimDue, ahead[o].n, o, now, ahead[o].lease)
	if ok and #got > 0 then claimed[#claimed + 1] = { o, got } end
end
publishWake()
return cjson.encode({ out, claimed, now })
`,
);
