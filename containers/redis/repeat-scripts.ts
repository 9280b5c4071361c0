/**
 * The Redis container's repeats: a hash per repeat (`P r:<key>`: spec as JSON text, nextRunAt, createdAt,
 * updatedAt; an empty nextRunAt is null) and the set of keys (`P repeats`). A tick moves nextRunAt by
 * compare-and-set and adds its task in the same script (the add's own body, ADD_BODY), so each tick adds exactly
 * one task however many schedulers share the server.
 */
import type { RepeatRecord } from 'lightsched/kit';
import { ADD_BODY } from './add-script.js';
import { script } from './scripts.js';

/**
 * A compare-and-set (see `TaskContainer.putRepeat`). ARGV: key, spec, nextRunAt ('' = null), createdAt,
 * updatedAt, then '0' (store only when none has the key) or '1' with the expected nextRunAt ('' = null) and
 * updatedAt. Returns 1 when stored, 0 when not; a replacement keeps createdAt.
 */
export const PUT_REPEAT = script(
	'putRepeat',
	`
local rkey = P .. 'r:' .. ARGV[1]
local cur = redis.call('HMGET', rkey, 'nextRunAt', 'updatedAt')
if ARGV[6] == '0' then
	if cur[2] then return 0 end
	redis.call('HSET', rkey, 'createdAt', ARGV[4])
elseif not cur[2] or cur[1] ~= ARGV[7] or tonumber(cur[2]) ~= tonumber(ARGV[8]) then
	return 0
end
redis.call('HSET', rkey, 'spec', ARGV[2], 'nextRunAt', ARGV[3], 'updatedAt', ARGV[5])
redis.call('SADD', P .. 'repeats', ARGV[1])
return 1
`,
);

/** ARGV: key. Returns 1 when it existed. */
export const REMOVE_REPEAT = script(
	'removeRepeat',
	`
redis.call('DEL', P .. 'r:' .. ARGV[1])
return redis.call('SREM', P .. 'repeats', ARGV[1])
`,
);

/** Returns {key, spec, nextRunAt, createdAt, updatedAt} per repeat, sorted by key. */
export const LIST_REPEATS = script(
	'listRepeats',
	`
local keys = redis.call('SMEMBERS', P .. 'repeats')
table.sort(keys)
local out = {}
for _, key in ipairs(keys) do
	local r = redis.call('HMGET', P .. 'r:' .. key, 'spec', 'nextRunAt', 'createdAt', 'updatedAt')
	if r[1] then out[#out + 1] = { key, r[1], r[2], r[3], r[4] } end
end
return out
`,
);

/**
 * ARGV: key, expected nextRunAt, next nextRunAt ('' = null), updatedAt, then the add's arguments (now, token, the
 * task's fields; none for a tick that adds no task). Returns {'moved'}, {'stale'}, or {'dup', id} / {'dupkey', key,
 * id} (nothing changed).
 */
export const ADVANCE_REPEAT = script(
	'advanceRepeat',
	`
local rkey = P .. 'r:' .. ARGV[1]
local at = redis.call('HGET', rkey, 'nextRunAt')
if not at or at == '' or tonumber(at) ~= tonumber(ARGV[2]) then return {'stale'} end
if #ARGV > 6 then
	local A = {}
	for i = 5, #ARGV do A[#A + 1] = ARGV[i] end
	local function addAll()
${ADD_BODY}
	end
	local added = addAll()
	if added[1] == 'dup' or added[1] == 'dupkey' then return added end
end
redis.call('HSET', rkey, 'nextRunAt', ARGV[3], 'updatedAt', ARGV[4])
return {'moved'}
`,
);

/** A repeat from its stored values. */
export function decodeRepeat(values: readonly (string | null)[]): RepeatRecord {
	const [key, spec, nextRunAt, createdAt, updatedAt] = values;
	return {
		key: key ?? '',
		spec: JSON.parse(spec ?? 'null') as unknown,
		nextRunAt: nextRunAt === null || nextRunAt === '' || nextRunAt === undefined ? null : Number(nextRunAt),
		createdAt: Number(createdAt),
		updatedAt: Number(updatedAt),
	};
}
