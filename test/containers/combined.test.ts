import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { CombinedContainer } from 'lightsched/containers/combined';
import { SqlContainer } from 'lightsched/containers/sql';
import { FunctionActuator } from 'lightsched/actuators/function';
import { describeContainerContract, records } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-combined-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = (): string => join(dir, `tasks-${++files}.sqlite`);
const openSqlite = (filename: string): SqlContainer =>
	new SqlContainer({ knex: { client: 'sqlite3', connection: { filename } } });

describeContainerContract(
	'CombinedContainer(queue+sql)',
	() => new CombinedContainer(new QueueContainer(), openSqlite(newFile())),
	{
		priority: false,
		json: true,
		operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	},
);
describeContainerContract(
	'CombinedContainer(ordered-map+sql)',
	() => new CombinedContainer(new OrderedMapContainer(), openSqlite(newFile())),
	{ priority: true, json: true, operations: { pause: true, clean: true, repeats: true, logs: true, events: true } },
);

/** A persistent container whose chosen methods throw while `failing` names them (or only the nth call). */
function flaky(inner: TaskContainer): {
	container: TaskContainer;
	fail: (method: string, nth?: number | number[]) => void;
	heal: () => void;
} {
	const failing = new Map<string, { nth: number[] | undefined; calls: number }>();
	const container = new Proxy(inner, {
		get(target, prop) {
			const value = Reflect.get(target, prop) as unknown;
			if (typeof value !== 'function' || typeof prop !== 'string') return value;
			return (...args: unknown[]) => {
				const rule = failing.get(prop);
				if (rule !== undefined) {
					rule.calls++;
					if (rule.nth === undefined || rule.nth.includes(rule.calls)) {
						return Promise.reject(Object.assign(new Error(`disk full (${prop})`), { code: 'E_DISK' }));
					}
				}
				return (value as (...a: unknown[]) => unknown).apply(target, args);
			};
		},
	});
	return {
		container,
		fail: (method, nth) => failing.set(method, { nth: typeof nth === 'number' ? [nth] : nth, calls: 0 }),
		heal: () => failing.clear(),
	};
}

describe('CombinedContainer', () => {
	it('validates its arguments', () => {
		const sql = openSqlite(newFile());
		expect(() => new CombinedContainer(null as unknown as TaskContainer, sql)).toThrow(
			/`memory` to be a TaskContainer/,
		);
		expect(() => new CombinedContainer(new QueueContainer(), {} as TaskContainer)).toThrow(
			/`persistent.add` to be a function/,
		);
		expect(() => new CombinedContainer(new QueueContainer(), sql, { restorePageSize: 0 })).toThrow(
			/`restorePageSize`/,
		);
		const queue = new QueueContainer();
		expect(() => new CombinedContainer(queue, queue)).toThrow(/two different containers/);
		return sql.close();
	});

	it('refuses a persistent part with claim limits, which its claims from memory would not hold', async () => {
		const knex = { client: 'sqlite3', connection: { filename: newFile() }, useNullAsDefault: true };
		const limited = [
			new SqlContainer({ knex, globalConcurrency: 2 }),
			new SqlContainer({ knex, rateLimit: { max: 5, intervalMs: 1_000 } }),
			new SqlContainer({ knex, groupRateLimit: { max: 5, intervalMs: 1_000 } }),
		];
		for (const sql of limited) {
			expect(sql.claimLimited).toBe(true);
			expect(() => new CombinedContainer(new QueueContainer(), sql)).toThrow(
				/without `globalConcurrency`, `rateLimit` or `groupRateLimit`/,
			);
			await sql.close();
		}
	});

	it('restores 100,000 waiting tasks in bounded pages, in arrival order, all claimable', async () => {
		const file = newFile();
		const total = 100_000;
		const seed = openSqlite(file);
		const now = Date.now();
		for (let start = 0; start < total; start += 10_000) {
			await seed.add(
				records(
					Array.from({ length: 10_000 }, (_, i) => ({ id: `t${start + i}`, item: { n: start + i } })),
					now,
				),
			);
		}
		await seed.close();

		const memory = new QueueContainer();
		const persistent = openSqlite(file);
		const pages: number[] = [];
		const counted = new Proxy(persistent, {
			get(target, prop) {
				const value = Reflect.get(target, prop) as unknown;
				if (prop !== 'list' || typeof value !== 'function')
					return typeof value === 'function' ? value.bind(target) : value;
				return async (query: { limit?: number }) => {
					pages.push(query.limit ?? 100);
					return (value as (q: unknown) => Promise<unknown>).call(target, query);
				};
			},
		});
		const combined = new CombinedContainer(memory, counted);
		const result = await combined.restore();
		console.log(`restore of ${total} waiting tasks: ${result.durationMs} ms in ${pages.length} reads`);
		expect(result).toMatchObject({ restored: total, recovered: 0, failed: 0 });
		expect(Math.max(...pages)).toBeLessThanOrEqual(1000);
		expect((await memory.counts()).waiting).toBe(total);
		// Everything is claimable, in arrival order (straight from memory: the order is the point here).
		const all = await memory.claim(total, 'check', 10_000, Date.now());
		expect(all.length).toBe(total);
		expect(all.every((task, i) => task.id === `t${i}`)).toBe(true);
		await combined.close();

		// And through the combined container, which stores each claim.
		const again = new CombinedContainer(new QueueContainer(), openSqlite(file));
		const claimed = await again.claim(5, 'me', 10_000, Date.now());
		expect(claimed.map((t) => t.id)).toEqual(['t0', 't1', 't2', 't3', 't4']);
		expect(await again.counts()).toMatchObject({ waiting: total - 5, running: 5 });
		await again.close();
	}, 150_000);

	it('keeps priority and arrival order across a restart', async () => {
		const file = newFile();
		const first = new CombinedContainer(new OrderedMapContainer(), openSqlite(file));
		await first.add(
			records([
				{ id: 'low', item: 1, priority: -5 },
				{ id: 'mid-1', item: 1 },
				{ id: 'high-1', item: 1, priority: 7 },
				{ id: 'mid-2', item: 1 },
				{ id: 'high-2', item: 1, priority: 7 },
			]),
		);
		await first.close();
		const second = new CombinedContainer(new OrderedMapContainer(), openSqlite(file));
		const order = (await second.claim(10, 'o', 10_000, Date.now())).map((t) => t.id);
		expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low']);
		await second.close();
	});

	it('recovers tasks that were running or exporting when the process died, in both containers', async () => {
		const file = newFile();
		const now = Date.now();
		const dead = new CombinedContainer(new QueueContainer(), openSqlite(file));
		await dead.add([
			...records(
				[
					{ id: 'r1', item: 1 },
					{ id: 'r2', item: 2 },
					{ id: 'exp', item: 3 },
					{ id: 'stop', item: 4 },
					{ id: 'w', item: 5 },
				],
				now,
				3,
			),
			...records([{ id: 'spent', item: 6 }], now, 1),
		]);
		const claimed = await dead.claim(5, 'dead-owner', 60_000, now);
		expect(claimed.map((t) => t.id)).toEqual(['r1', 'r2', 'exp', 'stop', 'w']);
		await dead.transition(
			'w',
			'running',
			'waiting',
			{ runAt: now + 60_000, owner: null, leaseUntil: null },
			'dead-owner',
		);
		await dead.transition('exp', 'running', 'exporting', {}, 'dead-owner');
		await dead.requestStop('stop');
		expect((await dead.claim(1, 'dead-owner', 60_000, now)).map((t) => t.id)).toEqual(['spent']);
		// The process dies here: `dead` is dropped without close; its leases have not even expired.

		const memory = new QueueContainer();
		const persistent = openSqlite(file);
		const alive = new CombinedContainer(memory, persistent);
		const result = await alive.restore();
		expect(result).toMatchObject({ recovered: 3, failed: 1, stopped: 1, restored: 4 });
		for (const id of ['r1', 'r2', 'exp']) {
			for (const where of [memory, persistent]) {
				expect(await where.get(id)).toMatchObject({
					status: 'waiting',
					attempts: 1,
					owner: null,
					leaseUntil: null,
				});
			}
		}
		expect(await persistent.get('spent')).toMatchObject({ status: 'failed', error: { code: 'ERR_LEASE_EXPIRED' } });
		expect(await alive.get('spent')).toMatchObject({ status: 'failed' });
		expect(await alive.get('stop')).toMatchObject({ status: 'stopped' });
		expect(await memory.get('w')).toMatchObject({ status: 'waiting', runAt: now + 60_000 });
		const again = await alive.claim(10, 'alive', 10_000, Date.now());
		expect(again.map((t) => [t.id, t.attempts])).toEqual([
			['r1', 2],
			['r2', 2],
			['exp', 2],
		]);
		expect(await persistent.get('r1')).toMatchObject({ status: 'running', owner: 'alive', attempts: 2 });
		await alive.close();
	});

	it('leaves memory untouched when the persistent write fails, and surfaces the error', async () => {
		const { container: persistent, fail, heal } = flaky(openSqlite(newFile()));
		const memory = new QueueContainer();
		const combined = new CombinedContainer(memory, persistent);

		fail('add');
		await expect(combined.add(records([{ id: 'a', item: 1 }]))).rejects.toThrow(/disk full/);
		expect(await memory.get('a')).toBeNull();
		heal();
		await combined.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
			]),
		);

		// A claim whose persistent write fails puts the task back in memory.
		fail('transition');
		await expect(combined.claim(1, 'o', 10_000, Date.now())).rejects.toThrow(/disk full/);
		expect(await memory.get('a')).toMatchObject({ status: 'waiting', attempts: 0, owner: null });
		expect(await persistent.get('a')).toMatchObject({ status: 'waiting', attempts: 0 });

		// One failure in a claim of three hands all three back, in both containers.
		fail('transition', 2);
		await expect(combined.claim(3, 'o', 10_000, Date.now())).rejects.toThrow(/disk full/);
		for (const id of ['a', 'b', 'c']) {
			expect(await memory.get(id)).toMatchObject({ status: 'waiting', attempts: 0 });
			expect(await persistent.get(id)).toMatchObject({ status: 'waiting', attempts: 0 });
		}
		heal();
		const claimed = await combined.claim(3, 'o', 10_000, Date.now());
		expect(claimed.map((t) => t.id).sort()).toEqual(['a', 'b', 'c']);

		fail('transition');
		await expect(combined.transition('a', 'running', 'succeeded', { finishedAt: 1 }, 'o')).rejects.toThrow(
			/disk full/,
		);
		expect(await memory.get('a')).toMatchObject({ status: 'running', attempts: 1 });
		heal();
		expect(await combined.transition('a', 'running', 'succeeded', { finishedAt: 1 }, 'o')).toMatchObject({
			status: 'succeeded',
		});
		expect(await memory.get('a')).toMatchObject({ status: 'succeeded' });
		expect(await persistent.get('a')).toMatchObject({ status: 'succeeded' });
		await combined.close();
	});

	it('never gets stuck when a hand-back could not be stored: the store is brought in line by the next claim', async () => {
		const store = openSqlite(newFile());
		const { container: persistent, fail, heal } = flaky(store);
		const memory = new QueueContainer();
		const combined = new CombinedContainer(memory, persistent);
		await combined.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
				{ id: 'd', item: 4 },
			]),
		);
		// The claim of `a` is stored, storing `b` fails, and so does handing `a` back: the store keeps `a` running.
		fail('transition', [2, 3]);
		await expect(combined.claim(2, 'o', 10_000, Date.now())).rejects.toThrow(/disk full/);
		expect(await memory.get('a')).toMatchObject({ status: 'waiting', attempts: 0 });
		expect(await store.get('a')).toMatchObject({ status: 'running', owner: 'o' });
		heal();
		// Meanwhile the store says `c` was stopped and `d` is gone (memory never heard of either).
		await store.transition('c', 'waiting', 'stopped', { finishedAt: 5 });
		await store.transition('d', 'waiting', 'stopped', { finishedAt: 5 });
		await store.remove('d');
		const claimed = await combined.claim(10, 'o2', 10_000, Date.now());
		expect(claimed.map((t) => t.id).sort()).toEqual(['a', 'b']);
		for (const id of ['a', 'b'])
			expect(await store.get(id)).toMatchObject({ status: 'running', owner: 'o2', attempts: 1 });
		expect(await memory.get('c')).toMatchObject({ status: 'stopped', owner: null, finishedAt: 5 });
		expect(await memory.get('d')).toBeNull();
		expect(await combined.claim(10, 'o2', 10_000, Date.now())).toEqual([]);
		await combined.close();
	});

	it('runs a scheduler to the end and keeps every result in the persistent container', async () => {
		const file = newFile();
		const results: TaskRecord[] = [];
		const scheduler = new Scheduler({
			container: new CombinedContainer(new QueueContainer(), openSqlite(file)),
			actuator: new FunctionActuator(async (n: number) => n * 2),
			concurrency: 4,
			callback: (task) => {
				results.push(task);
			},
		});
		await scheduler.add(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, item: i })));
		await scheduler.onIdle();
		await scheduler.close();
		expect(results.length).toBe(50);
		const reopened = openSqlite(file);
		expect(await reopened.counts()).toMatchObject({ succeeded: 50, waiting: 0, running: 0 });
		expect(await reopened.get('t21')).toMatchObject({ output: 42 });
		await reopened.close();
	});
});
