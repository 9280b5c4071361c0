/**
 * The Redis container's task logs: a list per task (`P l:<id>`, the newest `maxLines` lines) and the count of
 * dropped older lines in the task's hash (`logDropped`). Both go with the task's hash (deleted, or replaced by a
 * re-run: see `dropFinished` and the add body in scripts.ts).
 */
import { script } from './scripts.js';

/** The most lines one append call sends (Lua's unpack has a limit). */
export const LOG_LINES_PER_CALL = 1_000;

/** ARGV: id, maxLines, lines... Appends unless the task is gone; returns 1 when appended. */
export const APPEND_LOGS = script(
	'appendLogs',
	`
local id = ARGV[1]
local k = tkey(id)
if redis.call('EXISTS', k) == 0 then return 0 end
local lk = P .. 'l:' .. id
local n = redis.call('RPUSH', lk, unpack(ARGV, 3))
local max = tonumber(ARGV[2])
if n > max then
	redis.call('LTRIM', lk, n - max, -1)
	redis.call('HINCRBY', k, 'logDropped', n - max)
end
return 1
`,
);

/**
 * ARGV: id, offset ('' = the oldest kept), limit. Returns {start, total, dropped, lines}: the window of
 * \`logWindow\` (src/log-window.ts), the same rule, computed here so the page and its numbers agree.
 */
export const GET_LOGS = script(
	'getLogs',
	`
local id = ARGV[1]
local lk = P .. 'l:' .. id
local dropped = tonumber(redis.call('HGET', tkey(id), 'logDropped') or '0')
local total = dropped + redis.call('LLEN', lk)
local limit = tonumber(ARGV[3])
local from = dropped
if ARGV[2] ~= '' then
	from = tonumber(ARGV[2])
	if from < 0 then from = total + from end
end
local start = math.min(math.max(from, dropped), total)
local stop = math.min(start + limit, total)
local lines = {}
if stop > start then lines = redis.call('LRANGE', lk, start - dropped, stop - dropped - 1) end
return { start, total, dropped, lines }
`,
);
