/**
 * The Lua scripts of `RedisWorkflowStore` (workflow-store.ts). KEYS[1] is the store's key prefix
 * (`lightsched:{name}:`, the same as a `RedisContainer` with that name, so a store and its container share one Redis
 * Cluster hash slot); every key a script touches starts with it. Each change is one script: atomic, one round trip.
 *
 * Keys under the prefix P (none collides with the container's, see scripts.ts):
 * - `P wf:r:<id>`      hash: the run. `body` (the record as JSON, its steps' fields at their defaults left out:
 *                      workflows/run-body.ts), `rev`, `tok` (the token of the write that stored this rev), `ctok` (the
 *                      create's), and what the indexes need: `def`, `status`, `key` (absent for no key), `open`
 *                      ('1' or '0'), `created` (createdAt), `held` (the unique key the run holds, absent when it
 *                      holds none)
 * - `P wf:all`         sorted set of every run: score createdAt, member id (equal scores sort by id)
 * - `P wf:d:<name>`    sorted set of the runs of a definition, same scores
 * - `P wf:s:<status>`  sorted set of the runs in a status, same scores
 * - `P wf:k:<key>`     sorted set of the runs with a business key, same scores
 * - `P wf:open`        sorted set of the open runs, same scores (`open()` reads its head)
 * - `P wf:held`        hash: unique key -> the id of the unfinished unique-key run holding it
 * - `P wf:defs`        hash: `<version>:<name>` -> the definition's body as JSON (first writer wins)
 * - `P wf:tmp:u`, `P wf:tmp:i`: scratch sets of `list` (made and deleted inside one script call)
 *
 * A run's fields in ARGV (create and update): id, rev, def, status, hasKey ('1'/'0'), key, open ('1'/'0'),
 * created, holds ('1'/'0': a unique-key run in a status that is not final), body, token (unique per call: a call
 * that ioredis sends again after its reply was lost finds its own token stored and replies as the first time did).
 */
import { createHash } from 'node:crypto';

/** A script with its SHA1, for EVALSHA with an EVAL fallback. */
export interface WorkflowScript {
	readonly name: string;
	readonly source: string;
	readonly sha: string;
}

/** The store's Lua helpers (key names, the run in ARGV, indexes, the update's check and write). */
export const WORKFLOW_PRELUDE = `
local P = KEYS[1]
local HELD = P .. 'wf:held'
local function rkey(id) return P .. 'wf:r:' .. id end
local function dkey(def) return P .. 'wf:d:' .. def end
local function skey(status) return P .. 'wf:s:' .. status end
local function kkey(key) return P .. 'wf:k:' .. key end
-- The run in ARGV from position i (see the file's comment); key is false for none.
local function fields(i)
	local run = { id = ARGV[i], rev = ARGV[i + 1], def = ARGV[i + 2], status = ARGV[i + 3], key = false,
		open = ARGV[i + 6], created = ARGV[i + 7], holds = ARGV[i + 8] == '1', body = ARGV[i + 9], tok = ARGV[i + 10] }
	if ARGV[i + 4] == '1' then run.key = ARGV[i + 5] end
	return run
end
local function index(id, def, status, key, open, created)
	redis.call('ZADD', P .. 'wf:all', created, id)
	redis.call('ZADD', dkey(def), created, id)
	redis.call('ZADD', skey(status), created, id)
	if key then redis.call('ZADD', kkey(key), created, id) end
	if open == '1' then redis.call('ZADD', P .. 'wf:open', created, id) end
end
local function unindex(id, def, status, key)
	redis.call('ZREM', P .. 'wf:all', id)
	redis.call('ZREM', dkey(def), id)
	redis.call('ZREM', skey(status), id)
	if key then redis.call('ZREM', kkey(key), id) end
	redis.call('ZREM', P .. 'wf:open', id)
end
-- The id of another unfinished run holding key, or false. An entry whose run no longer holds it is stale.
local function holderOf(key, id)
	local holder = redis.call('HGET', HELD, key)
	if holder and holder ~= id and redis.call('HGET', rkey(holder), 'held') == key then return holder end
	return false
end
-- An update's compare-and-set (the rev, and the creation time: a run removed and created again under its id
-- restarts its revs) and unique-key check, writing nothing: the stored fields the write needs, or false and the
-- reply ({'stale'}: another rev, another run under the id, or gone; {'dupkey', holder id}; {'ok'}: this very
-- write is stored already, its rev and token, sent again by ioredis after its reply was lost).
local function checkUpdate(expected, run)
	local cur = redis.call('HMGET', rkey(run.id), 'rev', 'def', 'status', 'key', 'open', 'created', 'held', 'tok')
	if cur[1] ~= expected or cur[6] ~= run.created then
		if cur[1] == run.rev and cur[8] == run.tok then return false, {'ok'} end
		return false, {'stale'}
	end
	if run.holds then
		local holder = holderOf(run.key, run.id)
		if holder then return false, {'dupkey', holder} end
	end
	return cur, false
end
-- The write of a checked update (cur: what checkUpdate returned): the record, its indexes, its unique key. Only the
-- hash fields whose value changed are written (a step's end changes body, rev and tok; the others stay as stored).
local function applyUpdate(run, cur)
	local oldHeld = cur[7]
	if oldHeld and not (run.holds and oldHeld == run.key) and redis.call('HGET', HELD, oldHeld) == run.id then
		redis.call('HDEL', HELD, oldHeld)
	end
	-- (Its createdAt is the stored one: checkUpdate refuses another, so no index's score changes.)
	local k = rkey(run.id)
	redis.call('HSET', k, 'body', run.body, 'rev', run.rev, 'tok', run.tok)
	if cur[2] ~= run.def then
		redis.call('ZREM', dkey(cur[2]), run.id)
		redis.call('ZADD', dkey(run.def), run.created, run.id)
		redis.call('HSET', k, 'def', run.def)
	end
	if cur[3] ~= run.status then
		redis.call('ZREM', skey(cur[3]), run.id)
		redis.call('ZADD', skey(run.status), run.created, run.id)
		redis.call('HSET', k, 'status', run.status)
	end
	if cur[4] ~= run.key then
		if cur[4] then redis.call('ZREM', kkey(cur[4]), run.id) end
		if run.key then
			redis.call('ZADD', kkey(run.key), run.created, run.id)
			redis.call('HSET', k, 'key', run.key)
		else
			redis.call('HDEL', k, 'key')
		end
	end
	if cur[5] ~= run.open then
		if run.open == '1' then redis.call('ZADD', P .. 'wf:open', run.created, run.id)
		else redis.call('ZREM', P .. 'wf:open', run.id) end
		redis.call('HSET', k, 'open', run.open)
	end
	if run.holds then
		if oldHeld ~= run.key then redis.call('HSET', k, 'held', run.key) end
		redis.call('HSET', HELD, run.key, run.id)
	elseif oldHeld then
		redis.call('HDEL', k, 'held')
	end
end
`;

function script(name: string, body: string): WorkflowScript {
	const source = `${WORKFLOW_PRELUDE}\n${body}`;
	return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** How many values one run takes in ARGV (create), and one update (the expected rev, then the run). */
export const RUN_VALUES = 11;
export const UPDATE_VALUES = 12;

/**
 * Replies of a script that applies several changes each on its own: `one(i)` for the change at ARGV[i], in a pcall
 * (a change the server fails gets its error entry, the others apply), one reply per change, in order.
 */
const EACH = (width: number): string => `
local replies = {}
for i = 1, #ARGV, ${width} do
	local ok, reply = pcall(one, i)
	if not ok then
		if type(reply) == 'table' and reply.err then reply = { err = reply.err } else reply = { err = tostring(reply) } end
	end
	replies[#replies + 1] = reply
end
return replies
`;

/**
 * Several creates (the store gathers those issued in the same tick, see workflow-store.ts), each on its own: ARGV
 * is ${RUN_VALUES} values per run. One reply per run: {'ok'} (also for this very create stored already, sent again
 * after its reply was lost), {'dup'} (the id exists) or {'dupkey', holder id}.
 */
export const CREATE_RUNS = script(
	'workflow create',
	`
local function one(i)
	local run = fields(i)
	if redis.call('EXISTS', rkey(run.id)) == 1 then
		-- This very create, sent again after its reply was lost (its token is kept whatever writes came since).
		if redis.call('HGET', rkey(run.id), 'ctok') == run.tok then return {'ok'} end
		return {'dup'}
	end
	if run.holds then
		local holder = holderOf(run.key, run.id)
		if holder then return {'dupkey', holder} end
	end
	-- A new hash: its fields in one HSET (write's, then ctok), nothing to delete.
	local k = rkey(run.id)
	if not run.key then
		redis.call('HSET', k, 'body', run.body, 'rev', run.rev, 'def', run.def, 'status', run.status,
			'open', run.open, 'created', run.created, 'tok', run.tok, 'ctok', run.tok)
	elseif run.holds then
		redis.call('HSET', k, 'body', run.body, 'rev', run.rev, 'def', run.def, 'status', run.status,
			'open', run.open, 'created', run.created, 'tok', run.tok, 'key', run.key, 'held', run.key, 'ctok', run.tok)
		redis.call('HSET', HELD, run.key, run.id)
	else
		redis.call('HSET', k, 'body', run.body, 'rev', run.rev, 'def', run.def, 'status', run.status,
			'open', run.open, 'created', run.created, 'tok', run.tok, 'key', run.key, 'ctok', run.tok)
	end
	index(run.id, run.def, run.status, run.key, run.open, run.created)
	return {'ok'}
end
${EACH(RUN_VALUES)}`,
);

/**
 * Several updates, gathered as creates are, each its own compare-and-set: ARGV is, per update, the expected rev
 * then the run (its rev the new one). One reply per update: {'ok'} (also for this very update stored already, sent
 * again after its reply was lost), {'stale'} (another rev, or gone) or {'dupkey', holder id}; nothing of an update
 * is written unless 'ok'.
 */
export const UPDATE_RUNS = script(
	'workflow update',
	`
local function one(i)
	local run = fields(i + 1)
	local cur, refused = checkUpdate(ARGV[i], run)
	if refused then return refused end
	applyUpdate(run, cur)
	return {'ok'}
end
${EACH(UPDATE_VALUES)}`,
);

/**
 * ARGV: id, then for a compare-and-set the rev and created the run must have. Returns 1 (deleted), 0 (no such run, or
 * not the one expected) or the status of an open run (not deleted).
 */
export const REMOVE_RUN = script(
	'workflow remove',
	`
local id = ARGV[1]
local k = rkey(id)
local cur = redis.call('HMGET', k, 'def', 'status', 'key', 'open', 'held', 'rev', 'created')
if not cur[2] then return 0 end
if ARGV[2] and (cur[6] ~= ARGV[2] or cur[7] ~= ARGV[3]) then return 0 end
if cur[4] == '1' then return cur[2] end
if cur[5] and redis.call('HGET', HELD, cur[5]) == id then redis.call('HDEL', HELD, cur[5]) end
unindex(id, cur[1], cur[2], cur[3])
redis.call('DEL', k)
return 1
`,
);

/**
 * ARGV: order ('asc'/'desc'), offset, limit, min score ('-inf' or from), max score ('+inf' or '(' .. to), hasDef,
 * def, hasKey, key, then the statuses (none: any). Intersects the indexes the filters name (the smallest drives
 * ZINTERSTORE; several statuses are their union), counts the window and reads one page. Returns {total, body1,
 * rev1, body2, rev2, …}.
 */
export const LIST_RUNS = script(
	'workflow list',
	`
local order, offset, limit, min, max = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sets = {}
if ARGV[6] == '1' then sets[#sets + 1] = dkey(ARGV[7]) end
if ARGV[8] == '1' then sets[#sets + 1] = kkey(ARGV[9]) end
local statuses = #ARGV - 9
local tmpU, tmpI = P .. 'wf:tmp:u', P .. 'wf:tmp:i'
if statuses == 1 then
	sets[#sets + 1] = skey(ARGV[10])
elseif statuses > 1 then
	local union = {}
	for i = 10, #ARGV do union[#union + 1] = skey(ARGV[i]) end
	local n = #union
	union[n + 1] = 'AGGREGATE'
	union[n + 2] = 'MIN'
	redis.call('ZUNIONSTORE', tmpU, n, unpack(union))
	sets[#sets + 1] = tmpU
end
local src = P .. 'wf:all'
if #sets == 1 then
	src = sets[1]
elseif #sets > 1 then
	sets[#sets + 1] = 'AGGREGATE'
	sets[#sets + 1] = 'MIN'
	redis.call('ZINTERSTORE', tmpI, #sets - 2, unpack(sets))
	src = tmpI
end
local total = redis.call('ZCOUNT', src, min, max)
local ids
if order == 'desc' then
	ids = redis.call('ZREVRANGEBYSCORE', src, max, min, 'LIMIT', offset, limit)
else
	ids = redis.call('ZRANGEBYSCORE', src, min, max, 'LIMIT', offset, limit)
end
redis.call('DEL', tmpU, tmpI)
local out = { total }
for _, id in ipairs(ids) do
	local v = redis.call('HMGET', rkey(id), 'body', 'rev')
	out[#out + 1] = v[1]
	out[#out + 1] = v[2]
end
return out
`,
);

/** ARGV: limit (>= 1). The oldest open runs: {body1, rev1, body2, rev2, …}. */
export const OPEN_RUNS = script(
	'workflow open',
	`
local ids = redis.call('ZRANGE', P .. 'wf:open', 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
	local v = redis.call('HMGET', rkey(id), 'body', 'rev')
	out[#out + 1] = v[1]
	out[#out + 1] = v[2]
end
return out
`,
);

/** ARGV: `<version>:<name>`, body. Stores the body unless one is stored; returns the stored one. */
export const PUT_DEFINITION = script(
	'workflow putDefinition',
	`
redis.call('HSETNX', P .. 'wf:defs', ARGV[1], ARGV[2])
return redis.call('HGET', P .. 'wf:defs', ARGV[1])
`,
);
