/**
 * The Lua of task changes on Redis (the reader is change-events.ts). Every script that changes a task records the
 * change in the stream `P changes` in the same script, so a follower never sees a change that was not made, nor
 * misses one made while it follows. Only while `P followers` exists: a follower's every read sets it with a TTL of
 * the follow window, so nobody following costs one EXISTS per script call and writes nothing.
 *
 * An entry's fields: `i` the task id, `t` the change type, `a` the time (the script's now, ms), `n` the attempts,
 * and `d` the stored JSON of the output (`succeeded`), the error (`failed`, `retrying`) or the progress; a final change
 * also `r`, the record's stored values (RECORD_FIELDS order) as one JSON array. The stream
 * is trimmed by age (`MINID ~`, the retention window) at every write, and expires a window after its last write.
 */
import { CHANGE_RETENTION_MS } from 'lightsched/kit';

/** Key helpers the scripts' prelude gains (after `isFinal` and `isActive`). */
export const CHANGES_PRELUDE = `
local following = nil
-- Record change typ of task id (hash k) at time at, with the hash field dataField as its data.
local function recordChange(id, typ, at, k, dataField)
	if following == nil then following = redis.call('EXISTS', P .. 'followers') == 1 end
	if not following then return end
	local t = redis.call('TIME')
	local minid = string.format('%.0f', tonumber(t[1]) * 1000 - ${CHANGE_RETENTION_MS}) .. '-0'
	local f = redis.call('HMGET', k, 'attempts', dataField or 'attempts')
	local s = P .. 'changes'
	-- Every entry is numbered (P changes:n): a reader tells a trimmed entry after its cursor by a missing number.
	local num = redis.call('INCR', P .. 'changes:n')
	if isFinal(typ) then
		-- A final change carries the whole record (as JSON of the stored values), so waitFor need not read it back.
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'k', num, 'i', id, 't', typ, 'a', at, 'n', f[1] or '0', 'd', f[2] or '', 'r', cjson.encode(record(k)))
	elseif dataField then
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'k', num, 'i', id, 't', typ, 'a', at, 'n', f[1] or '0', 'd', f[2] or '')
	else
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'k', num, 'i', id, 't', typ, 'a', at, 'n', f[1] or '0')
	end
	redis.call('PEXPIRE', s, ${2 * CHANGE_RETENTION_MS})
	redis.call('PEXPIRE', P .. 'changes:n', ${2 * CHANGE_RETENTION_MS})
end
-- The change a move records (src/task-change.ts changeTypeOf, stated again), if any.
local function changeOf(id, from, to, at, k, progressed)
	local typ = nil
	if to == 'waiting' then
		if isActive(from) then typ = 'retrying' elseif from ~= 'waiting' then typ = 'added' end
	elseif to == 'running' then
		if from == 'waiting' then typ = 'started' elseif from == 'running' and progressed then typ = 'progress' end
	elseif isFinal(to) then
		typ = to
	end
	if typ == nil then return end
	local data = nil
	if typ == 'succeeded' then data = 'output'
	elseif typ == 'failed' or typ == 'retrying' then data = 'error'
	elseif typ == 'progress' then data = 'progress' end
	recordChange(id, typ, at, k, data)
end
-- Whether the field/value pairs t[p0..p1] set field.
local function patches(t, p0, p1, field)
	for i = p0, p1, 2 do
		if t[i] == field then return true end
	end
	return false
end
`;

/**
 * Register the caller as a follower and read. ARGV: after ('' for now; else `<stream id>:<entry number>`), limit, the
 * follow window (ms). Returns {now, lapsed, gap, entries}: `now` the cursor of the newest entry; `lapsed` 1 when
 * nobody followed (the key had expired: changes may not have been recorded); `gap` 1 when entries after `after` were
 * trimmed (the first one kept after it is not the next number) or the numbering started again (the stream expired,
 * or a restart without data): the entries then start from the oldest kept; entries as XRANGE gives them.
 */
export const READ_CHANGES_BODY = `
local s = P .. 'changes'
local old = redis.call('SET', P .. 'followers', '1', 'PX', ARGV[3], 'GET')
local lapsed = 0
if not old then lapsed = 1 end
local n = tonumber(redis.call('GET', P .. 'changes:n') or '0')
local last = '0-0'
if redis.call('EXISTS', s) == 1 then
	local info = redis.call('XINFO', 'STREAM', s)
	for i = 1, #info, 2 do
		if info[i] == 'last-generated-id' then last = info[i + 1] end
	end
end
local now = last .. ':' .. n
if ARGV[1] == '' then return { now, 0, 0, {} } end
local after, kc = string.match(ARGV[1], '^([^:]+):(%d+)$')
kc = tonumber(kc)
local gap, from = 0, '(' .. after
if kc > n then
	gap, from = 1, '-'
end
local entries = redis.call('XRANGE', s, from, '+', 'COUNT', tonumber(ARGV[2]))
if gap == 0 then
	if #entries > 0 then
		local fields = entries[1][2]
		for i = 1, #fields, 2 do
			if fields[i] == 'k' and tonumber(fields[i + 1]) > kc + 1 then gap = 1 end
		end
	elseif n > kc then
		gap = 1
	end
end
return { now, lapsed, gap, entries }
`;
