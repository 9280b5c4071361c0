/**
 * Hand-off to idle claimers (containers/redis/idle-push.ts), against a real redis-server: an add claims its tasks
 * for a scheduler known to be idle and sends them over the wake-up channel. What a user relies on stays true: each
 * task runs once, in priority order, its attempt counted once; a scheduler that is paused, closed, or whose
 * subscriber connection dropped does not sit on a task handed to it (it runs elsewhere at once, not after the lease).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Scheduler, type TaskRecord } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { createTaskRecord } from 'lightsched/kit';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startWorker } from '../support/redis-worker.js';

let server: RedisServer;
let admin: Redis;
let n = 0;
const fresh = (): string => `push${process.pid}-${++n}`;
/** Long enough that a task waiting for its lease to lapse would fail the time bounds below. */
const LEASE_MS = 30_000;

beforeAll(async () => {
	server = await startRedis();
	admin = new Redis(server.url);
});
afterAll(async () => {
	admin?.disconnect();
	await server?.close();
});

interface Worker {
	readonly scheduler: Scheduler<string, string>;
	readonly container: RedisContainer;
	readonly started: string[];
}

async function worker(name: string, concurrency = 4, handOff?: boolean): Promise<Worker> {
	const container = new RedisContainer({
		redis: server.url,
		name,
		log: false,
		...(handOff === undefined ? {} : { handOff }),
	});
	const started: string[] = [];
	const scheduler = new Scheduler<string, string>({
		container,
		concurrency,
		leaseMs: LEASE_MS,
		actuator: new FunctionActuator((item: string) => {
			started.push(item);
			return item;
		}),
	});
	await container.ready();
	return { scheduler, container, started };
}

/** Wait until `owner` is registered as idle on the queue `name` (its last claim came back short). */
async function registered(name: string, owner: string): Promise<void> {
	for (let i = 0; i < 200; i++) {
		if ((await admin.zscore(`lightsched:{${name}}:idle`, owner)) !== null) return;
		await sleep(10);
	}
	throw new Error(`${owner} never registered as idle`);
}

async function finished(container: RedisContainer, id: string, withinMs: number): Promise<TaskRecord> {
	const deadline = Date.now() + withinMs;
	for (;;) {
		const task = await container.get(id);
		if (task?.status === 'succeeded') return task;
		if (Date.now() > deadline) throw new Error(`task ${id} is ${task?.status ?? 'missing'} after ${withinMs} ms`);
		await sleep(10);
	}
}

/** Make the worker idle and registered: run one task through it (its claim after finishing registers it). */
async function warm(name: string, w: Worker): Promise<void> {
	await w.scheduler.add({ id: `warm-${w.scheduler.id}`, item: 'warm' });
	await finished(w.container, `warm-${w.scheduler.id}`, 5_000);
	await registered(name, w.scheduler.id);
}

describe('RedisContainer hand-off to idle schedulers', () => {
	it('is on by default, and can be turned off: then an idle scheduler is not registered, and a task added to it is claimed as before', async () => {
		// On by default: an idle scheduler is registered (warm waits for it).
		const defaultName = fresh();
		const byDefault = await worker(defaultName);
		try {
			await warm(defaultName, byDefault);
		} finally {
			await byDefault.scheduler.close();
		}
		const name = fresh();
		const w = await worker(name, 4, false);
		try {
			await w.scheduler.add({ id: 'warm', item: 'warm' });
			await finished(w.container, 'warm', 5_000);
			// Its claim after finishing came back short; with the option off it registers nothing.
			await sleep(100);
			expect(await admin.exists(`lightsched:{${name}}:idle`)).toBe(0);
			await w.scheduler.add({ id: 'b', item: 'b' });
			expect((await finished(w.container, 'b', 5_000)).attempts).toBe(1);
			expect(await admin.exists(`lightsched:{${name}}:idle`)).toBe(0);
		} finally {
			await w.scheduler.close();
		}
	});

	it('refuses a handOff that is not a boolean, naming the option', () => {
		expect(
			() => new RedisContainer({ redis: server.url, name: fresh(), handOff: 'yes' as unknown as boolean }),
		).toThrow(/Expected `handOff` to be a boolean, got/);
	});

	it('runs a task added to an idle scheduler once, claimed for it by the add (running, its lease set)', async () => {
		const name = fresh();
		const w = await worker(name);
		try {
			await warm(name, w);
			await w.scheduler.add({ id: 'a', item: 'a' });
			const task = await finished(w.container, 'a', 5_000);
			expect(task.attempts).toBe(1);
			expect(w.started).toEqual(['warm', 'a']);
		} finally {
			await w.scheduler.close();
		}
	});

	it('hands over in priority order, up to the free slots, and leaves the rest waiting for a claim', async () => {
		const name = fresh();
		const w = await worker(name, 1);
		try {
			await warm(name, w);
			await w.scheduler.add([
				{ id: 'low', item: 'low', priority: 1 },
				{ id: 'high', item: 'high', priority: 9 },
				{ id: 'mid', item: 'mid', priority: 5 },
			]);
			for (const id of ['low', 'high', 'mid']) expect((await finished(w.container, id, 5_000)).attempts).toBe(1);
			expect(w.started).toEqual(['warm', 'high', 'mid', 'low']);
		} finally {
			await w.scheduler.close();
		}
	});

	it('a paused scheduler hands a task back uncounted, and another runs it at once', async () => {
		const name = fresh();
		const idle = await worker(name);
		const other = await worker(name);
		try {
			await warm(name, idle);
			idle.scheduler.pause();
			// Make sure the add chooses the paused one: the other has not claimed since the warm-up.
			await admin.zrem(`lightsched:{${name}}:idle`, other.scheduler.id);
			const began = Date.now();
			await other.scheduler.add({ id: 'p', item: 'p' });
			const task = await finished(other.container, 'p', 5_000);
			expect(Date.now() - began).toBeLessThan(LEASE_MS / 10);
			expect(task.attempts).toBe(1);
			expect(idle.started).not.toContain('p');
		} finally {
			await idle.scheduler.close();
			await other.scheduler.close();
		}
	});

	it('a closed scheduler is no longer handed tasks: a task added after close runs elsewhere at once', async () => {
		const name = fresh();
		const closing = await worker(name);
		const other = await worker(name);
		try {
			await warm(name, closing);
			await closing.scheduler.close();
			expect(await admin.zscore(`lightsched:{${name}}:idle`, closing.scheduler.id)).toBeNull();
			const began = Date.now();
			await other.scheduler.add({ id: 'c', item: 'c' });
			const task = await finished(other.container, 'c', 5_000);
			expect(Date.now() - began).toBeLessThan(LEASE_MS / 10);
			expect(task.attempts).toBe(1);
		} finally {
			await other.scheduler.close();
		}
	});

	it('a hand-off lost with the subscriber connection is handed back uncounted and runs, not after the lease', async () => {
		const name = fresh();
		const w = await worker(name);
		const producer = new Scheduler<string, string>({
			container: new RedisContainer({ redis: server.url, name, log: false }),
			actuator: new FunctionActuator((item: string) => item),
			autoStart: false,
		});
		try {
			await warm(name, w);
			// Drop every subscriber connection, and make the registration one without its liveness channel (as a
			// container of an earlier version registers): the add below then claims the task for the scheduler and
			// publishes it to nobody. (With the channel the add would see that nobody listens and hand nothing over:
			// the next test.) A message can still be lost this way when the connection drops after the add ran.
			await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
			const key = `lightsched:{${name}}:idlen`;
			const reg = (await admin.hget(key, w.scheduler.id)) ?? '';
			await admin.hset(key, w.scheduler.id, reg.split(':').slice(0, 2).join(':'));
			const began = Date.now();
			await producer.add({ id: 'lost', item: 'lost', maxAttempts: 1 });
			const task = await finished(w.container, 'lost', 10_000);
			expect(Date.now() - began).toBeLessThan(LEASE_MS / 3);
			// maxAttempts 1: an attempt counted for the lost hand-off would have failed it instead.
			expect(task.attempts).toBe(1);
			expect(w.started).toContain('lost');
		} finally {
			await producer.close();
			await w.scheduler.close();
		}
	});

	it('a scheduler process that died while registered as idle is handed nothing: the task waits for a live claimer', async () => {
		const name = fresh();
		const child = startWorker({
			url: server.url,
			name,
			concurrency: 4,
			maxAttempts: 1,
			leaseMs: LEASE_MS,
			handOff: true,
		});
		const container = new RedisContainer({ redis: server.url, name, log: false });
		try {
			await child.ready;
			await container.add([
				createTaskRecord({ id: 'warm', item: 'warm' }, 'task', { maxAttempts: 1 }, Date.now()),
			]);
			await finished(container, 'warm', 5_000);
			const idle = `lightsched:{${name}}:idle`;
			let owner: string | undefined;
			for (let i = 0; i < 200 && owner === undefined; i++) {
				owner = (await admin.zrangebyscore(idle, '-inf', '+inf'))[0];
				if (owner === undefined) await sleep(10);
			}
			if (owner === undefined) throw new Error('the worker never registered as idle');
			const reg = (await admin.hget(`lightsched:{${name}}:idlen`, owner)) ?? '';
			const live = reg.split(':').slice(2).join(':');
			expect(live).toContain(':live:');
			expect(await admin.call('PUBSUB', 'NUMSUB', live)).toEqual([live, 1]);

			await child.kill();
			// Redis drops a dead process's subscriptions once it sees its connection closed.
			for (let i = 0; i < 200; i++) {
				if (((await admin.call('PUBSUB', 'NUMSUB', live)) as [string, number])[1] === 0) break;
				await sleep(10);
			}
			// The registration outlives the process by up to a second; keep it current so the add below must judge it.
			await admin.zadd(idle, String(Date.now() + 3_600_000), owner);

			await container.add([
				createTaskRecord(
					{ id: 'after', item: 'after', maxAttempts: 1 },
					'task',
					{ maxAttempts: 1 },
					Date.now(),
				),
			]);
			const stored = await container.get('after');
			// Not claimed for the dead owner (it would be running, its only attempt spent, until its lease lapsed).
			expect(stored?.status).toBe('waiting');
			expect(stored?.attempts).toBe(0);
			expect(await admin.zscore(idle, owner)).toBeNull();

			const w = await worker(name);
			try {
				expect((await finished(container, 'after', 5_000)).attempts).toBe(1);
				expect(w.started).toEqual(['after']);
			} finally {
				await w.scheduler.close();
			}
		} finally {
			await child.kill();
			await container.close();
		}
	});
});
