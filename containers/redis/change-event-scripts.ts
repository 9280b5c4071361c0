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
	if isFinal(typ) then
		-- A final change carries the whole record (as JSON of the stored values), so waitFor need not read it back.
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'i', id, 't', typ, 'a', at, 'n', f[1] or '0', 'd', f[2] or '', 'r', cjson.encode(record(k)))
	elseif dataField then
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'i', id, 't', typ, 'a', at, 'n', f[1] or '0', 'd', f[2] or '')
	else
		redis.call('XADD', s, 'MINID', '~', minid, '*', 'i', id, 't', typ, 'a', at, 'n', f[1] or '0')
	end
	redis.call('PEXPIRE', s, ${2 * CHANGE_RETENTION_MS})
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
 * Register the caller as a follower and read. ARGV: after ('' for now), limit, the follow window (ms). Returns
 * {next, lapsed, gap, entries}: `lapsed` 1 when nobody followed (the key had expired: changes may not have been
 * recorded), `gap` 1 when the stream was trimmed past `after`; entries as XRANGE gives them, after `after`.
 */
export const READ_CHANGES_BODY = `
local s = P .. 'changes'
local old = redis.call('SET', P .. 'followers', '1', 'PX', ARGV[3], 'GET')
local lapsed = 0
if not old then lapsed = 1 end
local last, deleted = '0-0', '0-0'
if redis.call('EXISTS', s) == 1 then
	local info = redis.call('XINFO', 'STREAM', s)
	for i = 1, #info, 2 do
		if info[i] == 'last-generated-id' then last = info[i + 1]
		elseif info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
	end
end
local after = ARGV[1]
if after == '' then return { last, 0, 0, {} } end
local function parts(id)
	local dash = string.find(id, '-', 1, true)
	if not dash then return tonumber(id) or 0, 0 end
	return tonumber(string.sub(id, 1, dash - 1)) or 0, tonumber(string.sub(id, dash + 1)) or 0
end
local function newer(a, b)
	local am, as = parts(a)
	local bm, bs = parts(b)
	return am > bm or (am == bm and as > bs)
end
local gap = 0
if newer(deleted, after) or newer(after, last) then gap = 1 end
local from = '(' .. after
if newer(after, last) then from = '-' end
local entries = redis.call('XRANGE', s, from, '+', 'COUNT', tonumber(ARGV[2]))
return { last, lapsed, gap, entries }
`;
