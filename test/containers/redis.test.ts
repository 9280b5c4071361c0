import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Scheduler, type ContainerSignal, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, type RedisContainerWarning } from 'lightsched/containers/redis';
import { describeContainerContract, records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startWorker } from '../support/redis-worker.js';

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `t${process.pid}-${++n}`;

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

// The contract controls time through the `now` arguments: the caller's clock. The server's clock is tested below.
describeContainerContract(
	'RedisContainer',
	() => new RedisContainer({ redis: server.url, name: fresh(), log: false, clock: 'caller' }),
	{
		priority: true,
		json: true,
		operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	},
);

/** Resolves with the first signal that matches. */
function nextSignal(container: RedisContainer, match: (signal: ContainerSignal) => boolean): Promise<ContainerSignal> {
	return new Promise((resolve) => {
		const stop = container.watch((signal) => {
			if (match(signal)) {
				stop();
				resolve(signal);
			}
		});
	});
}

describe('RedisContainer', () => {
	it('keeps every key under one prefix with a {hashtag}', async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, prefix: 'myapp', log: false });
		expect(c.keyPrefix).toBe(`myapp:{${name}}:`);
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2, runAt: Date.now() + 60_000 },
			]),
		);
		await c.claim(1, 'o', 10_000, Date.now());
		const keys = await admin.keys(`*${name}*`);
		expect(keys.length).toBeGreaterThan(3);
		for (const key of keys) expect(key.startsWith(`myapp:{${name}}:`)).toBe(true);
		await c.close();
	});

	it('rejects bad options naming the field', () => {
		expect(() => new RedisContainer({ redis: server.url, name: 'a{b}' })).toThrow(/`name`/);
		expect(() => new RedisContainer({ redis: server.url, name: 'x', prefix: '' })).toThrow(/`prefix`/);
		expect(() => new RedisContainer({ redis: server.url, name: 'x', globalConcurrency: 0 })).toThrow(
			/`globalConcurrency`/,
		);
		expect(() => new RedisContainer({ redis: 42 as never, name: 'x' })).toThrow(/`redis`/);
	});

	it('warns when Redis may evict task keys (maxmemory-policy is not noeviction)', async () => {
		const quiet: RedisContainerWarning[] = [];
		const ok = new RedisContainer({
			redis: server.url,
			name: fresh(),
			log: (m) => quiet.push({ code: 'maxmemory-policy', message: m }),
		});
		ok.on('warning', (w) => quiet.push(w));
		await ok.ready();
		expect(quiet).toEqual([]);
		await ok.close();

		await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
		try {
			const logged: string[] = [];
			const warned: RedisContainerWarning[] = [];
			const c = new RedisContainer({ redis: server.url, name: fresh(), log: (m) => logged.push(m) });
			c.on('warning', (w) => warned.push(w));
			await c.ready();
			expect(warned).toEqual([expect.objectContaining({ code: 'maxmemory-policy', policy: 'allkeys-lru' })]);
			expect(logged[0]).toMatch(/allkeys-lru.*evict/);
			await c.close();
		} finally {
			await admin.config('SET', 'maxmemory-policy', 'noeviction');
		}
	});

	it('leaves a given ioredis instance open on close, and closes what it made', async () => {
		const client = new Redis(server.url);
		const c = new RedisContainer({ redis: client, name: fresh(), log: false });
		const unwatch = c.watch(() => {});
		await c.ready();
		await c.add(records([{ id: 'a', item: 1 }]));
		unwatch();
		await c.close();
		await c.close();
		expect(await client.ping()).toBe('PONG');
		await expect(c.add(records([{ id: 'b', item: 1 }]))).rejects.toMatchObject({ code: 'ERR_SCHEDULER_CLOSED' });
		client.disconnect();
	});

	it('signals wake on add from another connection, and stop requests with the id', async () => {
		const name = fresh();
		const listener = new RedisContainer({ redis: server.url, name, log: false });
		const other = new RedisContainer({ redis: server.url, name, log: false });
		const woke = nextSignal(listener, (s) => s.type === 'wake');
		await listener.ready();
		await other.add(records([{ id: 'a', item: 1 }]));
		expect(await woke).toEqual({ type: 'wake' });
		await other.claim(1, 'o', 10_000, Date.now());
		const stop = nextSignal(listener, (s) => s.type === 'stop');
		await other.requestStop('a');
		expect(await stop).toEqual({ type: 'stop', id: 'a' });
		await listener.close();
		await other.close();
	});

	it('reports the wake-up channel down when its connection breaks, and up when it is back', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false });
		const seen: ContainerSignal[] = [];
		c.watch((s) => seen.push(s));
		await c.ready();
		const down = nextSignal(c, (s) => s.type === 'channel' && !s.ok);
		const up = down.then(() => nextSignal(c, (s) => s.type === 'channel' && s.ok));
		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
		const signal = await down;
		expect(signal).toMatchObject({ type: 'channel', ok: false, error: expect.any(Error) });
		await up;
		// Subscribed again: wakes arrive.
		const woke = nextSignal(c, (s) => s.type === 'wake');
		await c.add(records([{ id: 'a', item: 1 }]));
		await woke;
		expect(seen.filter((s) => s.type === 'channel').map((s) => (s as { ok: boolean }).ok)).toEqual([
			true,
			false,
			true,
		]);
		await c.close();
	});

	it('rejects a late transition from an owner that lost its lease (fencing)', async () => {
		const c = new RedisContainer({ redis: server.url, name: fresh(), log: false, clock: 'caller' });
		const now = Date.now();
		await c.add(records([{ id: 'a', item: 1 }]));
		await c.claim(1, 'slow', 1_000, now);
		await c.reclaimExpired(now + 1_001);
		await c.claim(1, 'fast', 10_000, now + 1_002);
		expect((await c.renew('slow', ['a'], 1_000, now + 1_003)).lost).toEqual(['a']);
		expect(
			await c.transition('a', 'running', 'failed', { error: { message: 'late', code: 'E' } }, 'slow'),
		).toBeNull();
		expect(await c.transition('a', 'running', 'succeeded', { output: 'ok' }, 'fast')).toMatchObject({
			status: 'succeeded',
			output: 'ok',
		});
		await c.close();
	});

	it("claims a busy owner's next task in the round trip that finishes one, and hands it back when not taken", async () => {
		const name = fresh();
		const c = new RedisContainer({ redis: server.url, name, log: false });
		const other = new RedisContainer({ redis: server.url, name, log: false });
		await c.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
				{ id: 'd', item: 4 },
				{ id: 'e', item: 5 },
			]),
		);
		const done = { finishedAt: Date.now(), owner: null, leaseUntil: null };
		expect((await c.claim(1, 'busy', 10_000, Date.now())).map((t) => t.id)).toEqual(['a']);
		await c.transition('a', 'running', 'succeeded', done, 'busy');
		expect(await other.get('b')).toMatchObject({ status: 'running', owner: 'busy', attempts: 1 });
		expect((await c.claim(1, 'busy', 10_000, Date.now())).map((t) => [t.id, t.attempts])).toEqual([['b', 1]]);
		// Not taken (the scheduler paused): handed back to waiting, the attempt not counted, claimers woken.
		const woke = nextSignal(other, (s) => s.type === 'wake');
		await c.transition('b', 'running', 'succeeded', done, 'busy');
		expect(await other.get('c')).toMatchObject({ status: 'running', owner: 'busy' });
		await woke;
		expect(await other.get('c')).toMatchObject({ status: 'waiting', owner: null, attempts: 0 });
		expect((await other.claim(1, 'other', 10_000, Date.now())).map((t) => [t.id, t.attempts])).toEqual([['c', 1]]);
		// Held at close: handed back too.
		expect((await c.claim(1, 'busy', 10_000, Date.now())).map((t) => t.id)).toEqual(['d']);
		await other.transition('c', 'running', 'succeeded', done);
		await c.transition('d', 'running', 'succeeded', done, 'busy');
		expect(await other.get('e')).toMatchObject({ status: 'running', owner: 'busy' });
		await c.close();
		expect(await other.get('e')).toMatchObject({ status: 'waiting', owner: null, attempts: 0 });
		expect(await other.counts()).toMatchObject({ succeeded: 4, running: 0, waiting: 1 });
		await other.close();
	});

	it('wakes a scheduler in another process, sleeping on an empty queue, when a task is added', async () => {
		const name = fresh();
		const worker = startWorker({ url: server.url, name, concurrency: 1, report: true, pollIntervalMs: 600_000 });
		const adder = new RedisContainer({ redis: server.url, name, log: false });
		try {
			await worker.ready;
			const started = new Map<string, (at: number) => void>();
			worker.onStarted((id, at) => started.get(id)?.(at));
			const latencies: number[] = [];
			for (let i = 0; i < 20; i++) {
				await sleep(20);
				const id = `w${i}`;
				const start = new Promise<number>((resolve) => started.set(id, resolve));
				const addedAt = Date.now();
				await adder.add(records([{ id, item: i }]));
				latencies.push((await start) - addedAt);
			}
			latencies.sort((a, b) => a - b);
			console.log(`add-to-start across processes (ms): median ${latencies[10]}, max ${latencies[19]}`);
		} finally {
			await worker.stop();
			await adder.close();
		}
	});

	it('keeps the global concurrency limit across schedulers', async () => {
		const name = fresh();
		let running = 0;
		let peak = 0;
		const make = (): Scheduler<unknown, void> =>
			new Scheduler({
				container: new RedisContainer({ redis: server.url, name, globalConcurrency: 3, log: false }),
				concurrency: 5,
				actuator: new FunctionActuator(async () => {
					running++;
					peak = Math.max(peak, running);
					await sleep(30);
					running--;
				}),
			});
		const a = make();
		const b = make();
		await a.add(Array.from({ length: 30 }, (_, i) => ({ id: `g${i}`, item: i })));
		await Promise.all([a.onIdle(), b.onIdle()]);
		expect(await a.counts()).toMatchObject({ succeeded: 30, waiting: 0, running: 0 });
		expect(peak).toBe(3);
		await a.close();
		await b.close();
	});

	it('stops a task running in another scheduler: its work is aborted and the task ends stopped', async () => {
		const name = fresh();
		let aborted: unknown;
		let markStarted = (): void => {};
		const started = new Promise<void>((resolve) => {
			markStarted = resolve;
		});
		const a = new Scheduler({
			container: new RedisContainer({ redis: server.url, name, log: false }),
			actuator: new FunctionActuator(
				(_item, { signal }) =>
					new Promise((_resolve, reject) => {
						markStarted();
						signal.addEventListener('abort', () => {
							aborted = signal.reason;
							reject(signal.reason as Error);
						});
					}),
			),
		});
		const b = new Scheduler({
			container: new RedisContainer({ redis: server.url, name, log: false }),
			actuator: new FunctionActuator(() => 'never'),
			autoStart: false,
		});
		const stopped = new Promise<TaskRecord>((resolve) => a.on('task:stopped', ({ task }) => resolve(task)));
		await a.add({ id: 'long', item: null });
		await started;
		const asked = await b.stop('long');
		expect(asked).toMatchObject({ status: 'running', stopRequested: true });
		expect(await stopped).toMatchObject({ id: 'long', status: 'stopped' });
		expect(aborted).toMatchObject({ code: 'ERR_TASK_STOPPED' });
		expect(await b.get('long')).toMatchObject({ status: 'stopped', owner: null });
		await a.close();
		await b.close();
	});

	it('takes over the tasks of a scheduler that died, once its lease lapses', async () => {
		const name = fresh();
		const worker = startWorker({ url: server.url, name, concurrency: 2, leaseMs: 600, workMs: 60_000 });
		await worker.ready;
		const adder = new RedisContainer({ redis: server.url, name, log: false });
		await adder.add(
			records([
				{ id: 'x', item: 1 },
				{ id: 'y', item: 2 },
			]),
		);
		while ((await adder.counts()).running < 2) await sleep(20);
		await worker.kill();
		const killedAt = Date.now();
		const b = new Scheduler({
			container: new RedisContainer({ redis: server.url, name, log: false }),
			leaseMs: 600,
			concurrency: 2,
			actuator: new FunctionActuator(() => 'done'),
		});
		await b.onIdle();
		console.log(`takeover after SIGKILL: ${Date.now() - killedAt} ms (lease 600 ms)`);
		expect(await b.get('x')).toMatchObject({ status: 'succeeded', attempts: 2, output: 'done' });
		expect(await b.get('y')).toMatchObject({ status: 'succeeded', attempts: 2 });
		await b.close();
		await adder.close();
	});
});
