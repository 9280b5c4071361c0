/**
 * The Redis container's `groupRateLimit` option: at most `max` claims of the tasks of each group
 * (`TaskRecord.group`) in each `intervalMs` window, across every scheduler sharing the container. Tasks with no
 * group are not limited by it. Enforced inside the claim script, after `globalConcurrency` and `rateLimit` cut
 * the claim's size, on the script's clock.
 *
 * Keys under the prefix P (the group's stored form, its JSON text, names it):
 * - `P gr:<group>`  hash: the group's current window, `w` its start (aligned to the epoch), `n` its claims; it
 *                   expires a second after its window ends on the server's clock (kept on the caller's clock)
 * - `P gp:<group>`  sorted set: the group's parked waiting tasks, scored and named as in `P waiting`
 * - `P gparked`     sorted set: the groups with parked tasks, scored by when their window reopens
 * - `P gclock`      string: the time the last group claim judged by (a claim judges by the later of it and its own
 *                   clock, so windows never go back when callers' clocks disagree)
 *
 * Parking, so that a saturated group blocks nobody and costs little. The claim pops waiting tasks in order; a
 * task whose group has no room left in its window is moved from `P waiting` to `P gp:<group>` (parked) and the
 * claim goes on with the next. While a group is in `P gparked` its new and retried tasks go straight to its
 * parked set (`enqueue`), so its order holds and later claims never meet them. A claim first un-parks the groups
 * whose window reopened: at most `max` tasks of each (the most it may start in the new window) go back to
 * `P waiting`, and a group with more parked tasks stays in `P gparked` until the window after. So each task is
 * moved at most once per window it cannot start in, and a claim handles at most `GROUP_SCAN` popped tasks and
 * `GROUP_UNPARK` groups (if the scan bound stops it short, it asks to be called again at once).
 * `nextDueAt` answers the earliest reopening in `P gparked`, so schedulers sleep until then.
 */

/** The most waiting tasks one claim pops (claimed or parked) before it stops and asks to be called again. */
export const GROUP_SCAN = 1000;
/** The most reopened groups one claim un-parks. */
export const GROUP_UNPARK = 100;

/**
 * Lua helpers for the shared prelude (after `tkey`, before `enqueue`): whether a task joins its group's parked
 * set instead of `P waiting`, and its removal from there.
 */
export const GROUP_PRELUDE = `
-- The stored group (JSON text) of a task, or nil.
local function groupOf(id)
	local g = redis.call('HGET', tkey(id), 'group')
	if not g or g == '' or g == 'null' then return nil end
	return g
end
-- Whether any group has parked tasks: read once per script call (an add of many tasks checks one key once);
-- the group claim, which changes P gparked, says so.
local anyParked = nil
local function groupsParked()
	if anyParked == nil then anyParked = redis.call('EXISTS', P .. 'gparked') == 1 end
	return anyParked
end
-- A due waiting task whose group has parked tasks joins them (see group-limit.ts); true when it did.
local function parkWithGroup(id, score, m)
	if not groupsParked() then return false end
	local g = groupOf(id)
	if g and redis.call('ZSCORE', P .. 'gparked', g) then
		redis.call('ZADD', P .. 'gp:' .. g, score, m)
		return true
	end
	return false
end
local function unparkOne(id, m)
	if not groupsParked() then return end
	local g = groupOf(id)
	if g then redis.call('ZREM', P .. 'gp:' .. g, m) end
end
`;

/**
 * Lua for the claim script (after the prelude): `claimGrouped(max, owner, now, leaseMs, gmax, ginterval)` returns
 * the packed claimed tasks and whether the scan bound stopped it short.
 */
export const GROUP_CLAIM = `
local function claimGrouped(max, owner, now, leaseMs, gmax, ginterval)
	if redis.call('EXISTS', P .. 'paused') == 1 then return {}, false end
	-- Windows never go back: judged by the later of this claim's clock and the last group claim's (P gclock; the
	-- server's clock only goes forward, a caller's may not).
	local nowN = math.max(tonumber(now), tonumber(redis.call('GET', P .. 'gclock') or '0'))
	now = ms(nowN)
	redis.call('SET', P .. 'gclock', now)
	local lease = ms(nowN + leaseMs)
	local w = math.floor(nowN / ginterval) * ginterval
	local reopen = ms(w + ginterval)
	-- Groups whose window reopened: up to gmax of their parked tasks back into waiting, in their order.
	for _, g in ipairs(redis.call('ZRANGEBYSCORE', P .. 'gparked', '-inf', now, 'LIMIT', 0, ${GROUP_UNPARK})) do
		local k = P .. 'gp:' .. g
		local back = redis.call('ZPOPMIN', k, gmax)
		for i = 1, #back, 2 do redis.call('ZADD', P .. 'waiting', back[i + 1], back[i]) end
		if redis.call('EXISTS', k) == 1 then
			redis.call('ZADD', P .. 'gparked', reopen, g)
		else
			redis.call('ZREM', P .. 'gparked', g)
			anyParked = nil
		end
	end
	local counts, changed = {}, {}
	local take = {}
	local scanned = 0
	while #take < max * 2 and scanned < ${GROUP_SCAN} do
		local popped = redis.call('ZPOPMIN', P .. 'waiting', math.min(max - #take / 2, ${GROUP_SCAN} - scanned))
		if #popped == 0 then break end
		scanned = scanned + #popped / 2
		for i = 1, #popped, 2 do
			local m, score = popped[i], popped[i + 1]
			local g = groupOf(string.sub(m, 17))
			if g == nil then
				take[#take + 1], take[#take + 2] = m, score
			else
				if counts[g] == nil then
					local r = redis.call('HMGET', P .. 'gr:' .. g, 'w', 'n')
					counts[g] = 0
					if tonumber(r[1]) == w then counts[g] = tonumber(r[2]) or 0 end
				end
				if counts[g] < gmax then
					counts[g] = counts[g] + 1
					changed[g] = true
					take[#take + 1], take[#take + 2] = m, score
				else
					redis.call('ZADD', P .. 'gp:' .. g, score, m)
					redis.call('ZADD', P .. 'gparked', reopen, g)
					anyParked = true
				end
			end
		end
	end
	for g in pairs(changed) do
		local k = P .. 'gr:' .. g
		redis.call('HSET', k, 'w', ms(w), 'n', counts[g])
		if SERVER_CLOCK then redis.call('PEXPIRE', k, ginterval + 1000) end
	end
	local short = #take < max * 2 and scanned >= ${GROUP_SCAN}
	return claimPopped(take, owner, now, lease), short
end
`;
