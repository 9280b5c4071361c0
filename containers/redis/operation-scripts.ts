/**
 * The Redis container's scripts outside the claim and lease path (operations.ts runs them): a stop request, removal,
 * the task list and counts, the queue-wide pause flag (`P paused`, which every claim checks, see `claimDue` in
 * scripts.ts) and bulk clean of finished tasks. Same prelude as scripts.ts.
 */
import { script } from './scripts.js';

/** ARGV: '1' to pause, '0' to resume. Resuming wakes every scheduler (once, when the flag was set). */
export const SET_PAUSED = script(
	'setPaused',
	`
if ARGV[1] == '1' then
	redis.call('SET', P .. 'paused', '1')
elseif redis.call('DEL', P .. 'paused') == 1 then
	redis.call('PUBLISH', P .. 'events', 'wake')
end
return redis.call('EXISTS', P .. 'paused')
`,
);

/**
 * ARGV: status, limit, keep ('' for none), finishedBefore ('' for none), exceptOwnRule ('1' or ''). Deletes up to
 * limit finished tasks of the status, the oldest by arrival first, selected by the rule of \`cleanSelects\`
 * (src/clean-rule.ts): beyond the newest keep, or finished before finishedBefore, or every one when neither is
 * given; with exceptOwnRule, tasks in \`P x:<status>\` (their own rule for it) are neither selected nor counted.
 * Looks at a bounded number of the oldest entries (a task that arrived early but finished recently is passed over,
 * and taken once it is old enough). Returns the ids deleted.
 */
export const CLEAN = script(
	'clean',
	`
local st, limit = ARGV[1], tonumber(ARGV[2])
local keep, before = tonumber(ARGV[3]), tonumber(ARGV[4])
local except = ARGV[5] == '1'
local key = P .. 's:' .. st
local xkey = P .. 'x:' .. st
local excess = 0
if keep then
	local total = redis.call('ZCARD', key)
	if except then total = total - redis.call('ZCARD', xkey) end
	excess = math.max(total - keep, 0)
end
local budget = math.max(limit * 4, 1000)
local picked, pos, scanned = {}, 0, 0
while #picked < limit and scanned < budget do
	local ids = redis.call('ZRANGE', key, scanned, scanned + 199)
	if #ids == 0 then break end
	for _, id in ipairs(ids) do
		scanned = scanned + 1
		if not (except and redis.call('ZSCORE', xkey, id)) then
			local sel
			if not keep and not before then sel = true
			elseif pos < excess then sel = true
			elseif before then
				local f = tonumber(redis.call('HGET', tkey(id), 'finishedAt'))
				sel = f ~= nil and f < before
			else sel = false end
			pos = pos + 1
			if sel then
				picked[#picked + 1] = id
				if #picked >= limit then break end
			end
		end
	end
	-- Without an age rule nothing past the newest keep is selected.
	if not before and keep and pos >= excess then break end
end
for _, id in ipairs(picked) do dropFinished(id, st) end
return picked
`,
);

/**
 * ARGV: status, limit, expiredBy, then ids (none: any). Deletes up to limit tasks of the status whose own retention
 * rule for it has lapsed by expiredBy (their score in \`P x:<status>\`, finishedAt + rule, is <= expiredBy), the
 * soonest lapsed first; with ids, only among those. Returns the ids deleted.
 */
export const CLEAN_EXPIRED = script(
	'cleanExpired',
	`
local st, limit, by = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local xkey = P .. 'x:' .. st
local picked = {}
if #ARGV > 3 then
	for i = 4, #ARGV do
		local at = tonumber(redis.call('ZSCORE', xkey, ARGV[i]))
		if at and at <= tonumber(by) and #picked < limit then picked[#picked + 1] = ARGV[i] end
	end
else
	picked = redis.call('ZRANGEBYSCORE', xkey, '-inf', by, 'LIMIT', 0, limit)
end
for _, id in ipairs(picked) do dropFinished(id, st) end
return picked
`,
);

/** ARGV: id. Sets stopRequested on a running task and tells its owner; returns the record or false. */
export const REQUEST_STOP = script(
	'requestStop',
	`
local id = ARGV[1]
local k = tkey(id)
if not isActive(redis.call('HGET', k, 'status')) then return false end
redis.call('HSET', k, 'stopRequested', '1')
redis.call('HINCRBY', k, 'v', 1)
redis.call('PUBLISH', P .. 'events', 'stop:' .. id)
return record(k)
`,
);

/** ARGV: id. Returns 1 (removed), 0 (missing) or the status of an unfinished task. */
export const REMOVE = script(
	'remove',
	`
local id = ARGV[1]
local k = tkey(id)
local st = redis.call('HGET', k, 'status')
if not st then return 0 end
if not isFinal(st) then return st end
dropFinished(id, st)
return 1
`,
);

/** ARGV: order ('asc'/'desc'), offset, limit, statuses... (none = all). Returns {total, {records}}. */
export const LIST = script(
	'list',
	`
local order, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local keys = {}
local active = {}
if #ARGV == 3 then
	keys[1] = P .. 'all'
else
	for i = 4, #ARGV do
		if isActive(ARGV[i]) then active[ARGV[i]] = true else keys[#keys + 1] = P .. 's:' .. ARGV[i] end
	end
end
-- Running and exporting tasks: the members of P running in those statuses, with their seq (a small set).
local cand = {}
if next(active) then
	for _, id in ipairs(redis.call('ZRANGE', P .. 'running', 0, -1)) do
		local f = redis.call('HMGET', tkey(id), 'status', 'seq')
		if f[1] and active[f[1]] then cand[#cand + 1] = { id, tonumber(f[2]) } end
	end
end
local total = #cand
for _, key in ipairs(keys) do total = total + redis.call('ZCARD', key) end
if limit <= 0 or offset >= total then return {total, {}} end
local cmd = 'ZRANGE'
if order == 'desc' then cmd = 'ZREVRANGE' end
local ids
if #keys == 1 and #cand == 0 then
	ids = redis.call(cmd, keys[1], offset, offset + limit - 1)
else
	for _, key in ipairs(keys) do
		local r = redis.call(cmd, key, 0, offset + limit - 1, 'WITHSCORES')
		for i = 1, #r, 2 do cand[#cand + 1] = { r[i], tonumber(r[i + 1]) } end
	end
	if order == 'desc' then
		table.sort(cand, function(a, b) return a[2] > b[2] end)
	else
		table.sort(cand, function(a, b) return a[2] < b[2] end)
	end
	ids = {}
	for i = offset + 1, math.min(#cand, offset + limit) do ids[#ids + 1] = cand[i][1] end
end
local recs = {}
for _, id in ipairs(ids) do recs[#recs + 1] = record(tkey(id)) end
return {total, recs}
`,
);

/** No ARGV. Returns the six status counts in TASK_STATUSES order (all O(1): ZCARDs and a counter). */
export const COUNTS = script(
	'counts',
	`
local exporting = tonumber(redis.call('GET', P .. 'n:exporting') or '0')
local running = redis.call('ZCARD', P .. 'running') - exporting
local out = { redis.call('ZCARD', P .. 's:waiting'), running, exporting }
for _, s in ipairs({'succeeded', 'failed', 'stopped'}) do
	out[#out + 1] = redis.call('ZCARD', P .. 's:' .. s)
end
return out
`,
);
