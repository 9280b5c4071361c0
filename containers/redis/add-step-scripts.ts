/**
 * The scripts of an add in steps (stepped-add.ts; the reservations are described in reservations.ts). Each takes
 * a bounded slice of the add, so each runs for milliseconds whatever the size of the add.
 */
import { ADD_BODY } from './add-script.js';
import { script } from './scripts.js';

/**
 * ARGV: token, then ids. Reserves each id for the add `token`, or returns {'dup', id} for one that is waiting,
 * running or exporting, {'dup', id, 'reserved'} for one another add in progress reserved (this slice's earlier
 * ids stay reserved: the caller releases them, or they lapse with the add).
 */
export const RESERVE_IDS = script(
	'reserveIds',
	`
local token = ARGV[1]
touchAdd(token)
for i = 2, #ARGV do
	local id = ARGV[i]
	local st = redis.call('HGET', tkey(id), 'status')
	if st and not isFinal(st) then return reservationReply({'dup', id}) end
	if idReserved(id, token) then return reservationReply({'dup', id, 'reserved'}) end
	redis.call('HSET', P .. 'reserved', id, token)
end
return reservationReply({'ok'})
`,
);

/**
 * ARGV: token, then id and deduplication key (JSON text) pairs. Reserves each key for its task, or returns
 * {'dupkey', key, id} naming the task of this add that reserved it first, a waiting or running holder, or (with
 * 'reserved') the task of another add in progress that reserved it.
 */
export const RESERVE_KEYS = script(
	'reserveKeys',
	`
local token = ARGV[1]
touchAdd(token)
for i = 2, #ARGV, 2 do
	local id, key = ARGV[i], ARGV[i + 1]
	local tok, rid = keyReservation(key)
	if tok == token and rid ~= id then return reservationReply({'dupkey', key, rid}) end
	local holder = redis.call('HGET', P .. 'keys', key)
	if holder then
		local hs = redis.call('HGET', tkey(holder), 'status')
		if hs and not isFinal(hs) then return reservationReply({'dupkey', key, holder}) end
	end
	if tok and liveAdd(tok, token) then return reservationReply({'dupkey', key, rid, 'reserved'}) end
	redis.call('HSET', P .. 'reservedKeys', key, token .. '|' .. id)
end
return reservationReply({'ok'})
`,
);

/**
 * ARGV: token, the number of ids, the ids, then keys. Drops the add's reservations of them (those still its own);
 * with no ids and no keys, ends the add (its marker goes: whatever it still reserved is free).
 */
export const RELEASE = script(
	'releaseAdd',
	`
local token = ARGV[1]
local n = tonumber(ARGV[2])
for i = 3, 2 + n do
	if redis.call('HGET', P .. 'reserved', ARGV[i]) == token then redis.call('HDEL', P .. 'reserved', ARGV[i]) end
end
for i = 3 + n, #ARGV do
	local tok = keyReservation(ARGV[i])
	if tok == token then redis.call('HDEL', P .. 'reservedKeys', ARGV[i]) end
end
if #ARGV == 2 then redis.call('DEL', P .. 'adding:' .. token) end
return 1
`,
);

/**
 * One step of the add's writes: the add's body (scripts.ts ADD_BODY) on ARGV, its reservations kept alive (not
 * revived: a step ioredis sends again after the add gave up must not reserve again what the add released).
 */
export const ADD_STEP = script('addStep', `local A = ARGV\nkeepAdd(A[2])\n${ADD_BODY}`);
