/**
 * The Redis container's lease scripts: renewing an owner's leases (and finding the tasks it holds that it does not
 * know of), reclaiming expired leases, and the earliest due time of a delayed task. Same prelude as scripts.ts.
 */
import { LeaseExpiredError, type TaskRecord } from 'lightsched/kit';
import { decodeRecord } from './codec.js';
import type { ScriptRun } from './script-runner.js';
import { script } from './scripts.js';

/** Tasks one reclaim script moves at most (it runs again while a call comes back full). */
const RECLAIM_BATCH = 1000;
/** The reclaim script writes the `LeaseExpiredError` message around the task's owner. */
const [LEASE_MESSAGE_HEAD = '', LEASE_MESSAGE_TAIL = ''] = new LeaseExpiredError('\u0000').message.split('\u0000');

/** See `TaskContainer.reclaimExpired`: RECLAIM in calls of `RECLAIM_BATCH` tasks until one comes back short. */
export async function reclaimExpired(run: ScriptRun, now: number): Promise<TaskRecord[]> {
	const moved: TaskRecord[] = [];
	for (;;) {
		const args = [String(now), String(RECLAIM_BATCH), LEASE_MESSAGE_HEAD, LEASE_MESSAGE_TAIL];
		const reply = (await run(RECLAIM, args)) as (string | null)[][];
		for (const flat of reply) moved.push(decodeRecord(flat));
		if (reply.length < RECLAIM_BATCH) return moved;
	}
}

/**
 * ARGV: owner, now (the caller's), leaseMs, ids... Returns {lost, stopRequested, unknown, attempts, versions}: unknown
 * are the tasks the owner holds (P o:<owner>) that are not among ids (a claim whose reply was lost), attempts and
 * versions (`<seq>:<v>`) theirs, so a hand-back moves only the claim read here; their leases are not extended.
 * Members of P o:<owner> that are no longer the owner's active tasks are dropped on the way.
 */
export const RENEW = script(
	'renew',
	`
local owner = ARGV[1]
local now = clock(ARGV[2])
local lease = ms(tonumber(now) + tonumber(ARGV[3]))
local lost, stop, given = {}, {}, {}
for i = 4, #ARGV do
	local id = ARGV[i]
	given[id] = true
	local k = tkey(id)
	local f = redis.call('HMGET', k, 'status', 'owner', 'stopRequested', 'v')
	if f[2] == owner and isActive(f[1]) then
		redis.call('HSET', k, 'leaseUntil', lease, 'v', bump(f[4]))
		redis.call('ZADD', P .. 'running', lease, id)
		if f[3] == '1' then stop[#stop + 1] = id end
	else
		lost[#lost + 1] = id
	end
end
local unknown, attempts, versions = {}, {}, {}
local held = okey(owner)
for _, id in ipairs(redis.call('SMEMBERS', held)) do
	if not given[id] then
		local f = redis.call('HMGET', tkey(id), 'status', 'owner', 'attempts', 'seq', 'v')
		if f[2] == owner and isActive(f[1]) then
			unknown[#unknown + 1] = id
			attempts[#attempts + 1] = f[3]
			versions[#versions + 1] = versionTag(f[4], f[5])
		else
			redis.call('SREM', held, id)
		end
	end
end
return {lost, stop, unknown, attempts, versions}
`,
);

/**
 * ARGV: now, limit, error message head, error message tail (around the id). Expired leases: stopped when a stop
 * was requested, waiting when attempts are left, else failed with ERR_LEASE_EXPIRED. Returns the moved records.
 */
export const RECLAIM = script(
	'reclaim',
	`
local now = clock(ARGV[1])
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', P .. 'running', '-inf', '(' .. now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(ids) do
	local k = tkey(id)
	local f = redis.call('HMGET', k, 'status', 'stopRequested', 'attempts', 'maxAttempts', 'seq', 'priority', 'owner')
	redis.call('ZREM', P .. 'running', id)
	if f[7] and f[7] ~= '' then redis.call('SREM', okey(f[7]), id) end
	if isActive(f[1]) then
		local to
		redis.call('HSET', k, 'owner', '', 'leaseUntil', '', 'updatedAt', now)
		if f[2] == '1' then
			to = 'stopped'
			redis.call('HSET', k, 'finishedAt', now)
		elseif tonumber(f[3]) < tonumber(f[4]) then
			to = 'waiting'
			redis.call('HSET', k, 'runAt', now)
			enqueue(id, f[5], f[6], now, now)
			wake = true
		else
			to = 'failed'
			local err = cjson.encode({ message = ARGV[3] .. id .. ARGV[4], code = 'ERR_LEASE_EXPIRED' })
			redis.call('HSET', k, 'finishedAt', now, 'error', err)
		end
		redis.call('HSET', k, 'status', to)
		redis.call('HINCRBY', k, 'v', 1)
		restatus(id, f[5], f[1], to)
		changeOf(id, f[1], to, now, k, false)
		out[#out + 1] = record(k)
	end
end
if #ids > 0 then freed() end
publishWake()
return out
`,
);

/**
 * ARGV: now (the caller's). The earliest due time of a delayed task (now or past for one that came due since the
 * last claim, which promotes it: the scheduler then claims at once), or of a parked group's window reopening
 * (group-limit.ts; now if one already reopened), on the caller's clock (the script's clock minus the offset), or
 * false.
 */
export const NEXT_DUE = script(
	'nextDueAt',
	`
local now, offset = clock(ARGV[1])
if redis.call('EXISTS', P .. 'paused') == 1 then return false end
-- The earliest delayed task, due or not: one that came due since the last claim waits here until a claim promotes
-- it, so its time (now or past) tells the scheduler to claim at once rather than sleep.
local r = redis.call('ZRANGE', P .. 'delayed', 0, 0, 'WITHSCORES')
local at = tonumber(r[2])
local g = redis.call('ZRANGE', P .. 'gparked', 0, 0, 'WITHSCORES')
if g[2] ~= nil then
	local reopen = math.max(tonumber(g[2]), tonumber(now))
	if at == nil or reopen < at then at = reopen end
end
if at == nil then return false end
return ms(at - offset)
`,
);
