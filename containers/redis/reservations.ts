/**
 * The reservations of an add in steps (stepped-add.ts), as Lua the scripts' prelude gains. A large add first
 * reserves its ids and deduplication keys in short scripts, then writes its tasks in short scripts; every add (one
 * script or in steps, a repeat's tick too) refuses an id or key another add in progress has reserved, so no add can
 * take them between the two phases and the second phase finds nothing in its way.
 *
 * Keys under the prefix P:
 * - `P adding:<token>`  string with a TTL (`RESERVATION_TTL_MS`, set again at every step): the add `token` is in
 *                       progress. Its reservations hold while it exists: an add whose process died mid-way stops
 *                       holding anything once it lapses, with nothing to clean up.
 * - `P reserved`        hash: id -> the token of the add that reserved it
 * - `P reservedKeys`    hash: deduplication key (JSON text, as in `P keys`) -> `<token>|<id>`
 * Both hashes get the same TTL at every step, so once no add in steps is in progress they lapse whole (entries
 * of a dead add are otherwise dropped when met: they no longer hold).
 */

/** How long a reservation outlives the last step of its add (the longest pause between two steps). */
export const RESERVATION_TTL_MS = 30_000;

/** Lua helpers (after `tkey`); `own` is the calling add's token ('' for none). */
export const RESERVATION_PRELUDE = `
local RTTL = ${RESERVATION_TTL_MS}
-- Whether the add tok, not the caller's own, is in progress.
local function liveAdd(tok, own) return tok ~= own and redis.call('EXISTS', P .. 'adding:' .. tok) == 1 end
-- Whether any add in steps holds reservations (one EXISTS a script call for adds that meet none: no script that adds
-- makes reservations, and one that finds some and sees them dropped meanwhile only reads them again).
local reservationsSeen = nil
local function anyReservation()
	if reservationsSeen == nil then reservationsSeen = redis.call('EXISTS', P .. 'reserved') == 1 end
	return reservationsSeen
end
-- Whether another add in progress reserved id.
local function idReserved(id, own)
	local tok = redis.call('HGET', P .. 'reserved', id)
	return tok and liveAdd(tok, own)
end
-- The token and id of the reservation of key, or nil.
local function keyReservation(key)
	local v = redis.call('HGET', P .. 'reservedKeys', key)
	if not v then return nil, nil end
	local bar = string.find(v, '|', 1, true)
	return string.sub(v, 1, bar - 1), string.sub(v, bar + 1)
end
-- The id another add in progress reserved key for, or nil.
local function keyReserver(key, own)
	local tok, id = keyReservation(key)
	if tok and liveAdd(tok, own) then return id end
	return nil
end
-- The reservation hashes last as long as the longest-lived add in progress.
local function keepReservations()
	redis.call('PEXPIRE', P .. 'reserved', RTTL)
	redis.call('PEXPIRE', P .. 'reservedKeys', RTTL)
end
-- The reply of a reservation slice: the hashes' TTL set again first (this slice may have created them).
local function reservationReply(reply)
	keepReservations()
	return reply
end
-- Marks the add tok in progress (again), for another TTL.
local function touchAdd(tok)
	redis.call('SET', P .. 'adding:' .. tok, '1', 'PX', RTTL)
	keepReservations()
end
-- Keeps the add tok in progress for another TTL if it still is.
local function keepAdd(tok)
	if redis.call('PEXPIRE', P .. 'adding:' .. tok, RTTL) == 1 then keepReservations() end
end
`;
