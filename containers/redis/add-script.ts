/**
 * The `add` script: the task hash in the order the claim and transition scripts read it, and the add's body, shared
 * with the stepped add, a repeat's tick and a workflow step's release (same prelude as scripts.ts).
 */
import { ADD_FIELDS, isJsonField, PACKED_FIELD, PACKED_FIELDS, PACKED_LIMIT, storedNone } from './codec.js';
import { script } from './scripts.js';

/**
 * The order `add` writes a task hash in. A small hash is a listpack that every field look-up scans from its head,
 * so the fields the claim and transition scripts read and write come first, the caller's payloads last (but `item`,
 * which a task's first claim reads with the packed copy); the script's own fields are `status`, `v`, `seq`,
 * `addToken` and the packed copy (codec.ts PACKED_FIELD, left out when too long). `lastTransition` is written by
 * the first transition (an add left it empty before; a missing field reads the same). Fields that hold none are
 * left out (`NONE_AT_ADD`, `NONE_UNLESS_GIVEN`).
 */
const HASH_ORDER = [
	'status',
	'v',
	'owner',
	'seq',
	'retention',
	'attempts',
	PACKED_FIELD,
	'item',
	'leaseUntil',
	'priority',
	'runAt',
	'stopRequested',
	'updatedAt',
	'startedAt',
	'finishedAt',
	'maxAttempts',
	'timeoutMs',
	'error',
	'output',
	'id',
	'createdAt',
	'progress',
	'ref',
	'key',
	'trace',
	'group',
	'addToken',
] as const;
const SCRIPT_VALUES: Record<string, string> = {
	status: "'waiting'",
	v: "'0'",
	seq: 'seqText',
	addToken: 'token',
	[PACKED_FIELD]: 'packed',
};
for (const field of ADD_FIELDS) {
	if (!(HASH_ORDER as readonly string[]).includes(field)) throw new Error(`HASH_ORDER misses the add field ${field}`);
}
/**
 * Fields a new task's hash leaves out while they hold their value for none, each with that stored value: those only
 * a claim or an end sets (always none at an add, but for a record handed over whole), and the caller's optional
 * ones (as a rule none). Every reader takes a missing field for none: the scripts (`or ''`, nil checks, `f ~=
 * token`), codec.ts `decodeRecord` and `unpackClaimed`, and 0.1.0's decoder alike. A no-op task's hash is ~330
 * bytes shorter, in memory and in the append-only file (docs/benchmarks.md).
 */
const NONE_AT_ADD: readonly (readonly [field: string, none: string])[] = [
	'startedAt',
	'finishedAt',
	'error',
	'output',
	'progress',
	'owner',
	'leaseUntil',
	'stopRequested',
].map((field) => [field, storedNone(field)] as const);
const NONE_UNLESS_GIVEN: readonly (readonly [field: string, none: string])[] = [
	'timeoutMs',
	'ref',
	'key',
	'trace',
	'group',
	'retention',
].map((field) => [field, storedNone(field)] as const);
/** The Lua test that each of `fields` holds its value for none. */
const allNone = (fields: readonly (readonly [string, string])[]): string =>
	fields
		.map(([field, none]) => `A[b + ${(ADD_FIELDS as readonly string[]).indexOf(field)}] == '${none}'`)
		.join(' and ');
const hsetFields = (withPacked: boolean, leftOut: ReadonlySet<string>): string =>
	HASH_ORDER.filter((field) => (withPacked || field !== PACKED_FIELD) && !leftOut.has(field))
		.map((field) => {
			const at = (ADD_FIELDS as readonly string[]).indexOf(field);
			return `'${field}', ${at >= 0 ? `A[b + ${at}]` : SCRIPT_VALUES[field]}`;
		})
		.join(', ');
/**
 * The task hash's HSET: one of four static calls (no table built per task) by whether the fields of `NONE_AT_ADD`
 * and of `NONE_UNLESS_GIVEN` all hold none.
 */
const hsetTask = (withPacked: boolean): string => {
	const call = (atAdd: boolean, unlessGiven: boolean): string => {
		const leftOut = new Set<string>();
		if (atAdd) for (const [field] of NONE_AT_ADD) leftOut.add(field);
		if (unlessGiven) for (const [field] of NONE_UNLESS_GIVEN) leftOut.add(field);
		return `redis.call('HSET', k, ${hsetFields(withPacked, leftOut)})`;
	};
	return `if bare then
			if plain then ${call(true, true)} else ${call(true, false)} end
		elseif plain then ${call(false, true)} else ${call(false, false)} end`;
};
/**
 * The packed copy (codec.ts PACKED_FIELD) as one Lua concatenation (one string built, no table): a JSON field's
 * `null` as '', then seq.
 */
const packedValues = [
	...PACKED_FIELDS.map((field) => {
		const value = `A[b + ${ADD_FIELDS.indexOf(field)}]`;
		return isJsonField(field) ? `(${value} == 'null' and '' or ${value})` : value;
	}),
	'seqText',
].join(" .. '\\31' .. ");
const F = ADD_FIELDS.length;
const PRIORITY = ADD_FIELDS.indexOf('priority');
const RUN_AT = ADD_FIELDS.indexOf('runAt');
const KEY_AT = ADD_FIELDS.indexOf('key');

/**
 * The body of an add, on the argument list `A`: now, token, then ${F} values per task (ADD_FIELDS order). All or
 * nothing: returns {'dup', id} for an id that is waiting, running or exporting, {'dupkey', key, holder} for a key
 * such a task holds, before any write; likewise {'dup', id, 'reserved'} and {'dupkey', key, id, 'reserved'} for an
 * id or key an add in steps in progress reserved (reservations.ts). A task in a final status is replaced (a re-run). `token` is unique per add call and stored on each task: when ioredis sends the call
 * again after a reconnect (its reply was lost, not its effect), the repeat finds its own token and succeeds without
 * writing. ADD runs it on ARGV; a repeat's tick (repeat-scripts.ts) on the tail of its own arguments, in the same
 * script as its compare-and-set. `wake`: the Lua run when tasks are left waiting for a claim (`addBody`; a workflow
 * release defers it to the end of its call, workflow-release.ts).
 *
 * Each task's hash is read once, before the checks (its status and token); the write replaces a stored task by
 * that status, read again only for an id an earlier task of the same add wrote. `fresh`: the caller knows none of
 * the ids is stored (a release checks each, workflow-release.ts), so nothing is read: no token can be stored, no
 * status refuse or be replaced. The index entries of the tasks are gathered (scripts.ts `flushAdded`) and made at
 * the end, or, with `flush` false, by the caller (a call of releases makes those of all its adds at its end).
 */
export function addBody(
	wake: string,
	{ fresh = false, flush = true }: { fresh?: boolean; flush?: boolean } = {},
): string {
	return `
local now, offset = clock(A[1])
local token = A[2]
local F = ${F}
local n = (#A - 2) / F
${
	fresh
		? ''
		: `-- Each stored status (false for none), by task, for the checks and the writes below.
local olds = {}
for i = 0, n - 1 do
	local f = redis.call('HMGET', tkey(A[3 + i * F]), 'status', 'addToken')
	if f[2] == token then
		local seqs = {'ok'}
		for j = 0, n - 1 do seqs[#seqs + 1] = redis.call('HGET', tkey(A[3 + j * F]), 'seq') or '0' end
		return seqs
	end
	olds[i + 1] = f[1]
end`
}
-- Reservations of adds in steps in progress (reservations.ts): their ids and keys are taken.
local reservations = anyReservation()
for i = 0, n - 1 do
	local id = A[3 + i * F]
${
	fresh
		? ''
		: `	local st = olds[i + 1]
	if st and not isFinal(st) then return {'dup', id} end
`
}	if reservations and idReserved(id, token) then return {'dup', id, 'reserved'} end
end
-- Deduplication keys (stored as JSON text; 'null' for none): P keys maps each to the task that last took it, which
-- holds it while not finished.
local KEY = ${KEY_AT}
local taken = {}
for i = 0, n - 1 do
	local key = A[3 + i * F + KEY]
	if key ~= 'null' then
		if taken[key] then return {'dupkey', key, taken[key]} end
		taken[key] = A[3 + i * F]
		local holder = redis.call('HGET', P .. 'keys', key)
		if holder then
			local hs = redis.call('HGET', tkey(holder), 'status')
			if hs and not isFinal(hs) then return {'dupkey', key, holder} end
		end
		if reservations then
			local reserver = keyReserver(key, token)
			if reserver then return {'dupkey', key, reserver, 'reserved'} end
		end
	end
end
-- The reply: 'ok' and each task's seq, which add() sets on the records it was handed (then the bodies of the tasks
-- handed to idle claimers, see idle-push.ts).
local seqs = {'ok'}
-- The ids this add wrote so far: one given twice finds its first write stored.
local written = {}
-- The seqs of the add's tasks, in order (one INCRBY).
local seq0 = 0
if n > 0 then seq0 = redis.call('INCRBY', P .. 'seq', n) - n end
for i = 0, n - 1 do
	local b = 3 + i * F
	local id = A[b]
	local k = tkey(id)
	local old = ${fresh ? 'false' : 'olds[i + 1]'}
	if written[id] then old = redis.call('HGET', k, 'status') end
	written[id] = true
	if old then
		releaseKey(id)
		redis.call('ZREM', P .. 's:' .. old, id)
		if isFinal(old) then redis.call('ZREM', P .. 'x:' .. old, id) end
		redis.call('DEL', k, P .. 'l:' .. id)
	end
	local seq = seq0 + i + 1
	seqs[i + 2] = seq
	-- Its text made once (Lua makes a number's text anew at each use: a printf).
	local seqText = tostring(seq)
	local packed = ${packedValues}
	local bare = ${allNone(NONE_AT_ADD)}
	local plain = ${allNone(NONE_UNLESS_GIVEN)}
	if #packed <= ${PACKED_LIMIT} then
		${hsetTask(true)}
	else
		${hsetTask(false)}
	end
	addPairs[nAddPairs + 1], addPairs[nAddPairs + 2] = seqText, id
	nAddPairs = nAddPairs + 2
	if A[b + KEY] ~= 'null' then redis.call('HSET', P .. 'keys', A[b + KEY], id) end
	-- What is left of a reservation of this id or key is this add's own or a dead add's.
	if reservations then
		redis.call('HDEL', P .. 'reserved', id)
		if A[b + KEY] ~= 'null' then redis.call('HDEL', P .. 'reservedKeys', A[b + KEY]) end
	end
	-- enqueue (scripts.ts), its P waiting entry gathered with the others.
	local due = tonumber(A[b + ${RUN_AT}]) + offset
	if due > tonumber(now) then
		redis.call('ZADD', P .. 'delayed', ms(due), id)
	else
		local score, m = wscore(A[b + ${PRIORITY}]), member(seq, id)
		if not parkWithGroup(id, score, m) then
			queuePairs[nQueuePairs + 1], queuePairs[nQueuePairs + 2] = score, m
			nQueuePairs = nQueuePairs + 2
		end
	end
	recordChange(id, 'added', now, k)
end
-- Idle claimers get the due tasks handed to them (idle-push.ts), their messages' bodies after the seqs; a wake for
-- what is left waiting.
if n > 0 and pushIdle(now, seqs) then ${wake} end
${flush ? 'flushAdded()' : '-- (the caller makes the index entries)'}
return seqs
`;
}

/** The add's body (see `addBody`), publishing `wake` when tasks are left waiting. */
export const ADD_BODY = addBody("redis.call('PUBLISH', P .. 'events', 'wake')");

export const ADD = script('add', `local A = ARGV\n${ADD_BODY}`);
