/**
 * RedisContainer: transitions issued in the same tick are sent as one script call (transition-batch.ts), and each
 * keeps its own compare-and-set, fencing, lost-reply token and error; a task this container claimed comes back
 * without its record when nothing else wrote it (known-records.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import { successPatch } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { aroundScriptCalls, type SendScript } from '../support/script-calls.js';

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `b${process.pid}-${++n}`;
const done = (): { finishedAt: number; owner: null; leaseUntil: null } => ({
	finishedAt: Date.now(),
	owner: null,
	leaseUntil: null,
});

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

type Call = SendScript;

/** An ioredis client whose script calls are recorded, and optionally changed by `around`. */
function recordingClient(
	around?: (send: Call, command: string, args: readonly (string | number)[]) => Promise<unknown>,
): {
	client: Redis;
	scripts: string[][];
	replies: unknown[];
} {
	const client = new Redis(server.url);
	const scripts: string[][] = [];
	const replies: unknown[] = [];
	aroundScriptCalls(client, async (command, args, send) => {
		scripts.push(args.map(String));
		const reply = await (around === undefined ? send(command, args) : around(send, command, args));
		replies.push(reply);
		return reply;
	});
	return { client, scripts, replies };
}

describe('RedisContainer: transitions of the same tick in one script call', () => {
	it('sends them in one call, each with its own compare-and-set and owner check', async () => {
		const { client, scripts } = recordingClient();
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		const later = Date.now() + 60_000;
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
				{ id: 'd', item: 4, runAt: later },
			]),
		);
		expect((await c.claim(10, 'me', 10_000, Date.now())).map((t) => t.id)).toEqual(['a', 'b', 'c']);
		expect(await c.transition('missing', 'running', 'succeeded', done())).toBeNull(); // loads the script
		const before = scripts.length;
		const results = await Promise.all([
			c.transition('a', 'running', 'succeeded', { ...done(), output: 'A' }, 'me'),
			c.transition('b', 'running', 'succeeded', done(), 'someone-else'),
			c.transition('c', 'waiting', 'stopped', done()),
			c.transition('d', 'waiting', 'stopped', done()),
		]);
		expect(scripts.length - before).toBe(1);
		expect(results.map((r) => r?.status ?? null)).toEqual(['succeeded', null, null, 'stopped']);
		expect(results[0]).toMatchObject({ id: 'a', output: 'A', owner: null, leaseUntil: null });
		expect(await c.get('b')).toMatchObject({ status: 'running', owner: 'me' });
		expect(await c.counts()).toMatchObject({ running: 2, succeeded: 1, stopped: 1, waiting: 0 });
		await c.close();
		client.disconnect();
	});

	it('claims ahead once per owner for the whole batch: each owner gets as many next tasks as it finished', async () => {
		const { client, scripts } = recordingClient();
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		await c.add(records(Array.from({ length: 12 }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, item: i }))));
		// Full claims: both owners have a backlog, so their finishing transitions claim ahead.
		const a = await c.claim(3, 'A', 10_000, Date.now());
		const b = await c.claim(2, 'B', 10_000, Date.now());
		const before = scripts.length;
		const finished = await Promise.all([
			...a.map((t) => c.transition(t.id, 'running', 'succeeded', done(), 'A')),
			...b.map((t) => c.transition(t.id, 'running', 'succeeded', done(), 'B')),
		]);
		expect(finished.map((r) => r?.status)).toEqual(Array(5).fill('succeeded'));
		expect(scripts.length - before).toBe(1);
		// The next claims are served from what that one call claimed ahead: no script call, the oldest tasks, per owner.
		const nextA = await c.claim(3, 'A', 10_000, Date.now());
		const nextB = await c.claim(2, 'B', 10_000, Date.now());
		expect(scripts.length - before).toBe(1);
		expect(nextA.map((t) => t.id)).toEqual(['t05', 't06', 't07']);
		expect(nextB.map((t) => t.id)).toEqual(['t08', 't09']);
		expect(nextA.every((t) => t.owner === 'A' && t.status === 'running' && t.attempts === 1)).toBe(true);
		expect(await c.get('t08')).toMatchObject({ status: 'running', owner: 'B' });
		expect(await c.counts()).toMatchObject({ succeeded: 5, running: 5, waiting: 2 });
		await c.close();
		client.disconnect();
	});

	it("claims 5,000 tasks in one call (the lease set and status set written in slices, past Lua's unpack limit)", async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		const ids = Array.from({ length: 5000 }, (_, i) => `big-${i}`);
		await c.add(records(ids.map((id) => ({ id, item: null }))));
		const claimed = await c.claim(5000, 'me', 10_000, Date.now());
		expect(claimed).toHaveLength(5000);
		expect(await c.counts()).toMatchObject({ waiting: 0, running: 5000 });
		expect((await c.list({ status: 'running', limit: 3 })).tasks.map((t) => t.id)).toEqual([
			'big-0',
			'big-1',
			'big-2',
		]);
		await Promise.all(claimed.map((t) => c.transition(t.id, 'running', 'succeeded', done(), 'me')));
		expect(await c.counts()).toMatchObject({ running: 0, succeeded: 5000 });
		await c.close();
	});

	it('fails only the transition that failed on the server; the others of its batch apply', async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, log: false });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
			]),
		);
		await c.claim(2, 'me', 10_000, Date.now());
		// A task key holding the wrong type makes that transition's HMGET fail inside the script.
		await admin.set(`${c.keyPrefix}t:broken`, 'not a hash');
		const [a, broken, b] = await Promise.allSettled([
			c.transition('a', 'running', 'succeeded', done(), 'me'),
			c.transition('broken', 'running', 'succeeded', done(), 'me'),
			c.transition('b', 'running', 'failed', { ...done(), error: { message: 'boom', code: 'E' } }, 'me'),
		]);
		expect(a).toMatchObject({ status: 'fulfilled', value: { id: 'a', status: 'succeeded' } });
		expect(broken).toMatchObject({
			status: 'rejected',
			reason: { name: 'ContainerError', message: expect.stringMatching(/WRONGTYPE/) },
		});
		expect(b).toMatchObject({
			status: 'fulfilled',
			value: { id: 'b', status: 'failed', error: { message: 'boom' } },
		});
		expect(await c.counts()).toMatchObject({ running: 0, succeeded: 1, failed: 1 });
		await c.close();
	});

	it('carries any id and value through the batch (JSON both ways): quotes, backslashes, control and non-BMP characters, lone surrogates', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		// A lone surrogate in an id is refused at add (test/validation/task-input.test.ts); in a value it travels escaped.
		const ids = ['q"uote', 'back\\slash', 'esc\\ud800aped', 'unit\u001fsep', 'emoji😀', 'lone\ufffd'];
		await c.add(records(ids.map((id, i) => ({ id, item: i }))));
		expect(await c.claim(10, 'me', 10_000, Date.now())).toHaveLength(ids.length);
		const output = { text: 'line\nbreak \\ "quoted" \u001f 😀 \\ud800', n: 1.5 };
		const results = await Promise.all(
			ids.map((id) => c.transition(id, 'running', 'succeeded', { ...done(), output }, 'me')),
		);
		expect(results.map((r) => r?.id)).toEqual(ids);
		for (const r of results) expect(r).toMatchObject({ status: 'succeeded', output });
		expect(await c.get('esc\\ud800aped')).toMatchObject({ status: 'succeeded', output });
		expect(await c.counts()).toMatchObject({ succeeded: ids.length, running: 0 });
		await c.close();
	});

	it('answers a batch sent again after its reply was lost with each applied result (per-item tokens)', async () => {
		let armed = false;
		let resent = 0;
		const { client } = recordingClient(async (send, command, args) => {
			const reply = await send(command, args);
			// The armed batch: drop its reply and send the very same call again, as ioredis does after a reconnect.
			if (armed && command === 'EVALSHA') {
				armed = false;
				resent++;
				return send(command, args);
			}
			return reply;
		});
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		expect(await c.transition('missing', 'running', 'succeeded', done())).toBeNull(); // loads the script
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
			]),
		);
		await c.claim(3, 'me', 10_000, Date.now());
		armed = true;
		const results = await Promise.all([
			c.transition('a', 'running', 'succeeded', { ...done(), output: 1 }, 'me'),
			c.transition('b', 'running', 'waiting', { owner: null, leaseUntil: null, runAt: Date.now() }, 'me'),
			c.transition('c', 'running', 'succeeded', done(), 'not-the-owner'),
		]);
		expect(resent).toBe(1);
		// b's hand-back applied once: the first run of the batch also claimed b ahead for 'me' (a freed a slot), and
		// the repeat, which finds b running for 'me' again, moves nothing (before, it handed that claim back too).
		expect(results.map((r) => r?.status ?? null)).toEqual(['succeeded', 'running', null]);
		// A new call with the same arguments is compared afresh: the compare-and-set now fails.
		expect(await c.transition('a', 'running', 'succeeded', done(), 'me')).toBeNull();
		expect(await c.counts()).toMatchObject({ succeeded: 1, waiting: 0, running: 2 });
		// That claim ahead never reached this container (its reply was the lost one): the next renewal hands it back.
		await c.renew('me', ['c'], 10_000, Date.now());
		const until = Date.now() + 5000;
		while ((await c.get('b'))?.status !== 'waiting' && Date.now() < until)
			await new Promise((resolve) => setTimeout(resolve, 10));
		expect(await c.counts()).toMatchObject({ succeeded: 1, waiting: 1, running: 1 });
		await c.close();
		client.disconnect();
	});

	it('sends the transitions still queued when close() is called', async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, log: false });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
			]),
		);
		await c.claim(2, 'me', 10_000, Date.now());
		const pending = [
			c.transition('a', 'running', 'succeeded', done(), 'me'),
			c.transition('b', 'running', 'succeeded', done(), 'me'),
		];
		await c.close();
		expect((await Promise.all(pending)).map((r) => r?.status)).toEqual(['succeeded', 'succeeded']);
		const reader = new RedisContainer({ redis: server.url, name, log: false });
		expect(await reader.counts()).toMatchObject({ succeeded: 2, running: 0 });
		await reader.close();
	});
});

describe('RedisContainer: transitions of tasks this container claimed', () => {
	it('get no record back when nothing else wrote the task, and rebuild it exactly as stored', async () => {
		const { client, replies } = recordingClient();
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		await c.add(
			records([
				{ id: 'a', item: { n: 1 }, priority: 3 },
				{ id: 'b', item: 2, runAt: Date.now() + 60_000 },
			]),
		);
		await c.claim(5, 'me', 10_000, Date.now());
		const progressed = await c.transition('a', 'running', 'running', { progress: { pct: 50 }, ref: 'job-7' }, 'me');
		expect(JSON.parse(replies.at(-1) as string)).toEqual([[true], {}, expect.any(String)]);
		expect(progressed).toEqual(await c.get('a'));
		expect(progressed).toMatchObject({
			item: { n: 1 },
			priority: 3,
			progress: { pct: 50 },
			ref: 'job-7',
			owner: 'me',
			attempts: 1,
		});
		const finished = await c.transition('a', 'running', 'succeeded', { ...done(), output: [1, 2] }, 'me');
		expect(JSON.parse(replies.at(-1) as string)).toEqual([[true], {}, expect.any(String)]);
		expect(finished).toEqual(await c.get('a'));
		expect(finished).toMatchObject({
			status: 'succeeded',
			output: [1, 2],
			progress: { pct: 50 },
			owner: null,
			leaseUntil: null,
		});
		// Not claimed here: the whole record comes back.
		expect(await c.transition('b', 'waiting', 'stopped', done())).toEqual(await c.get('b'));
		expect(JSON.parse(replies.at(-1) as string)).toEqual([[[expect.any(Array)]], {}, expect.any(String)]);
		await c.close();
		client.disconnect();
	});

	it("end with the scheduler's success patch in the short form: fields the known version holds are skipped only while it is the stored one", async () => {
		const { client, scripts, replies } = recordingClient();
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
			]),
		);
		await c.claim(3, 'me', 10_000, Date.now());
		// Another process wrote `a` since the claim (a new version): an error and an output this container never saw.
		const key = `${c.keyPrefix}t:a`;
		await admin.hset(key, 'error', '{"message":"elsewhere"}', 'output', '"elsewhere"');
		await admin.hincrby(key, 'v', 1);
		const results = await Promise.all([
			c.transition('a', 'running', 'succeeded', successPatch(null), 'me'),
			c.transition('b', 'running', 'succeeded', successPatch(null), 'me'),
			c.transition('c', 'running', 'succeeded', successPatch({ n: 3 }), 'me'),
		]);
		// Each went in its short form (7 values after the batch's head), in one call.
		const batch = JSON.parse(scripts.at(-1)?.at(-1) ?? '[]') as unknown[];
		expect(batch.slice(4).map((item) => (item as unknown[]).length)).toEqual([7, 7, 7]);
		const [entries] = JSON.parse(replies.at(-1) as string) as [unknown[]];
		expect(entries.map((entry) => entry === true)).toEqual([false, true, true]);
		for (const [i, id] of ['a', 'b', 'c'].entries()) expect(results[i]).toEqual(await c.get(id));
		expect(results.map((r) => [r?.status, r?.error, r?.output, r?.owner, r?.leaseUntil])).toEqual([
			['succeeded', null, null, null, null],
			['succeeded', null, null, null, null],
			['succeeded', null, { n: 3 }, null, null],
		]);
		await c.close();
		client.disconnect();
	});

	it('get the stored record back after another write: a stop request, a renewal, a re-added task', async () => {
		const name = fresh();
		// The caller's clock: the renewal's lease is checked to the millisecond.
		const c = new RedisContainer({ redis: server.url, name, log: false, clock: 'caller' });
		const other = new RedisContainer({ redis: server.url, name, log: false, clock: 'caller' });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 'old' },
			]),
		);
		await c.claim(5, 'me', 10_000, Date.now());
		await other.requestStop('a');
		const stopAsked = await c.transition('a', 'running', 'running', { progress: 1 }, 'me');
		expect(stopAsked).toMatchObject({ stopRequested: true, progress: 1 });
		expect(stopAsked).toEqual(await c.get('a'));
		const until = Date.now() + 99_000;
		await other.renew('me', ['b'], 99_000, until - 99_000);
		const renewed = await c.transition('b', 'running', 'running', { progress: 2 }, 'me');
		expect(renewed).toMatchObject({ leaseUntil: until, progress: 2 });
		expect(renewed).toEqual(await c.get('b'));
		// `c` finished elsewhere and added again (a new seq, the version counted from 0 again), then claimed by another.
		await other.transition('c', 'running', 'succeeded', done());
		await other.add(records([{ id: 'c', item: 'new' }]));
		await other.claim(1, 'me', 10_000, Date.now());
		await other.claim(1, 'me', 10_000, Date.now());
		const current = await c.transition('c', 'running', 'running', { progress: 3 }, 'me');
		expect(current).toMatchObject({ item: 'new', progress: 3 });
		expect(current).toEqual(await c.get('c'));
		await c.close();
		await other.close();
	});

	it('claims any id and item intact (claimed tasks travel packed in one string)', async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, log: false });
		const odd = ['a\u001fb', '\u001f', 'ü {x}:\n', 'z'.repeat(300)];
		await c.add(records(odd.map((id) => ({ id, item: { text: `${id}\u001f\u0000end` } }))));
		const owner = 'own\u001fer';
		const claimed = await c.claim(2, owner, 10_000, Date.now());
		expect(claimed.map((t) => [t.id, t.item, t.owner])).toEqual(
			odd.slice(0, 2).map((id) => [id, { text: `${id}\u001f\u0000end` }, owner]),
		);
		for (const task of claimed) expect(task).toEqual(await c.get(task.id));
		// Claimed ahead in a transition: packed the same way.
		await c.transition(odd[0] as string, 'running', 'succeeded', done(), owner);
		expect(await c.claim(1, owner, 10_000, Date.now())).toEqual([await c.get(odd[2] as string)]);
		await c.close();
	});
});

describe('RedisContainer: running and exporting tasks listed and counted from the lease set', () => {
	it('pages running and exporting tasks in arrival order, mixed with other statuses, with exact totals and counts', async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, log: false });
		const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
		await c.add(records(ids.map((id, i) => ({ id, item: i }))));
		// Claimed in one call: a..e running; then b exporting, d finished, f stays waiting, g stopped while waiting.
		expect((await c.claim(5, 'me', 600_000, Date.now())).map((t) => t.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
		await c.transition('b', 'running', 'exporting', { ref: 'x' }, 'me');
		// (Finished without the owner: an owner's finish would claim f ahead, its claim came back full.)
		await c.transition('d', 'running', 'succeeded', done());
		await c.transition('g', 'waiting', 'stopped', done());
		// e keeps running without a lease: still listed and counted (and never reclaimed).
		await c.transition('e', 'running', 'running', { leaseUntil: null }, 'me');
		expect(await c.reclaimExpired(Date.now() + 120_000)).toEqual([]);
		expect(await c.counts()).toEqual({ waiting: 1, running: 3, exporting: 1, succeeded: 1, failed: 0, stopped: 1 });
		const page = async (status: Parameters<typeof c.list>[0]): Promise<[number, string[]]> => {
			const p = await c.list(status);
			return [p.total, p.tasks.map((t) => t.id)];
		};
		expect(await page({ status: 'running' })).toEqual([3, ['a', 'c', 'e']]);
		expect(await page({ status: 'running', order: 'desc', offset: 1, limit: 1 })).toEqual([3, ['c']]);
		expect(await page({ status: 'exporting' })).toEqual([1, ['b']]);
		expect(await page({ status: ['running', 'exporting'], offset: 1, limit: 2 })).toEqual([4, ['b', 'c']]);
		expect(await page({ status: ['waiting', 'running', 'succeeded'] })).toEqual([5, ['a', 'c', 'd', 'e', 'f']]);
		expect(await page({ status: ['exporting', 'stopped'], order: 'desc' })).toEqual([2, ['g', 'b']]);
		expect(await page({ status: 'running', offset: 3 })).toEqual([3, []]);
		// Leaving exporting and running is counted too.
		await c.transition('b', 'exporting', 'succeeded', done());
		await c.transition('e', 'running', 'failed', done());
		expect(await c.counts()).toEqual({ waiting: 1, running: 2, exporting: 0, succeeded: 2, failed: 1, stopped: 1 });
		expect(await page({ status: ['running', 'exporting'] })).toEqual([2, ['a', 'c']]);
		await c.close();
	});
});
