/**
 * Task changes are lossless for a follower whose connection breaks (issue 14 item 2): a follower reading through
 * a TCP proxy that cuts every connection every few hundred milliseconds (Redis, PostgreSQL), and one whose Redis
 * restarts (with its AOF), must still see every task's `added`, `started` and `succeeded`, in order, once each, with
 * no gap. And nobody following writes nothing: the stream or table stays empty.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Scheduler, TaskEvents, type TaskContainer } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startCuttingProxy, startRedis, type RedisServer } from '../support/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-gaps-'));
let redis: RedisServer;
let pg: PostgresServer;
beforeAll(async () => {
	[redis, pg] = await Promise.all([startRedis({ args: ['--appendonly', 'yes'] }), startPostgres()]);
}, 120_000);
afterAll(async () => {
	await Promise.all([redis?.close(), pg?.stop()]);
	rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function worker(container: TaskContainer): Scheduler<number, number> {
	const scheduler = new Scheduler({
		container,
		concurrency: 8,
		pollIntervalMs: 50,
		actuator: new FunctionActuator(async (n: number) => n + 1),
	});
	scheduler.on('error', () => {});
	return scheduler;
}

/** Follow `container`; `types` holds each task's change types in the order seen. */
async function follow(container: TaskContainer): Promise<{
	events: TaskEvents;
	types: Map<string, string[]>;
	gaps: number;
	until: (done: () => boolean) => Promise<void>;
}> {
	const events = new TaskEvents(container, { waitMs: 500 });
	const types = new Map<string, string[]>();
	const state = { gaps: 0 };
	events.on('change', (change) => {
		const seen = types.get(change.id) ?? [];
		seen.push(change.type);
		types.set(change.id, seen);
	});
	events.on('gap', () => state.gaps++);
	events.on('error', () => {});
	await events.ready();
	return {
		events,
		types,
		get gaps() {
			return state.gaps;
		},
		async until(done) {
			for (let i = 0; i < 300 && !done(); i++) await sleep(50);
		},
	};
}

/** Add `ids` through `scheduler`, a few at a time, retrying an add the outage refused. */
async function addAll(scheduler: Scheduler<number, number>, ids: readonly string[]): Promise<void> {
	for (let i = 0; i < ids.length; i += 5) {
		const batch = ids.slice(i, i + 5).map((id, j) => ({ id, item: i + j }));
		for (let tries = 0; ; tries++) {
			try {
				await scheduler.add(batch);
				break;
			} catch (error) {
				if (tries > 100) throw error;
				await sleep(100);
			}
		}
		await sleep(60);
	}
}

/** `close()` settles while the connection is being cut (it hung once: a read queued while ioredis reconnected). */
async function closeSettles(events: TaskEvents): Promise<void> {
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<string>((resolve) => {
		timer = setTimeout(() => resolve('close() still pending after 10 s'), 10_000);
	});
	const result = await Promise.race([events.close().then(() => 'closed'), late]);
	clearTimeout(timer);
	expect(result).toBe('closed');
}

function expectEveryChange(types: Map<string, string[]>, ids: readonly string[]): void {
	for (const id of ids) expect([id, types.get(id)]).toEqual([id, ['added', 'started', 'succeeded']]);
}

describe('a follower whose connection is cut every 250 ms loses no change', () => {
	it('on Redis', async () => {
		const proxy = await startCuttingProxy(redis.port, 250);
		const name = 'cut-redis';
		const follower = new RedisContainer({ redis: proxy.url, name, log: false });
		const run = worker(new RedisContainer({ redis: redis.url, name, log: false }));
		try {
			const f = await follow(follower);
			const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
			await addAll(run, ids);
			await f.until(() => ids.every((id) => f.types.get(id)?.includes('succeeded')));
			expect(proxy.cuts).toBeGreaterThan(0);
			expectEveryChange(f.types, ids);
			expect(f.gaps).toBe(0);
			await closeSettles(f.events);
		} finally {
			await run.close();
			await follower.close();
			await proxy.close();
		}
	}, 60_000);

	it('on PostgreSQL (LISTEN through the proxy too)', async () => {
		const proxy = await startCuttingProxy(pg.port, 250);
		const prefix = 'cut_';
		const follower = new SqlContainer({
			knex: { client: 'pg', connection: { ...pg.connection, port: proxy.port }, pool: { min: 0, max: 2 } },
			tablePrefix: prefix,
		});
		const run = worker(
			new SqlContainer({ knex: { client: 'pg', connection: pg.connection }, tablePrefix: prefix }),
		);
		try {
			const f = await follow(follower);
			const ids = Array.from({ length: 60 }, (_, i) => `p${i}`);
			await addAll(run, ids);
			await f.until(() => ids.every((id) => f.types.get(id)?.includes('succeeded')));
			expect(proxy.cuts).toBeGreaterThan(0);
			expectEveryChange(f.types, ids);
			expect(f.gaps).toBe(0);
			await closeSettles(f.events);
		} finally {
			await run.close();
			await follower.close();
			await proxy.close();
		}
	}, 60_000);
});

it('a follower whose Redis restarts (AOF on) resumes from its cursor and loses no change', async () => {
	const name = 'restart';
	const follower = new RedisContainer({ redis: redis.url, name, log: false });
	const run = worker(new RedisContainer({ redis: redis.url, name, log: false }));
	try {
		const f = await follow(follower);
		const first = Array.from({ length: 20 }, (_, i) => `a${i}`);
		await addAll(run, first);
		await f.until(() => first.every((id) => f.types.get(id)?.includes('succeeded')));
		await redis.restart();
		const second = Array.from({ length: 20 }, (_, i) => `b${i}`);
		await addAll(run, second);
		await f.until(() => second.every((id) => f.types.get(id)?.includes('succeeded')));
		expectEveryChange(f.types, [...first, ...second]);
		expect(f.gaps).toBe(0);
		await f.events.close();
	} finally {
		await run.close();
		await follower.close();
	}
}, 60_000);

describe('nobody following writes no change', () => {
	it('on Redis: no stream, no follower key', async () => {
		const name = 'quiet';
		const container = new RedisContainer({ redis: redis.url, name, log: false });
		const run = worker(container);
		const admin = new Redis(redis.url);
		const keys = [`lightsched:{${name}}:changes`, `lightsched:{${name}}:followers`];
		try {
			await run.add(Array.from({ length: 10 }, (_, i) => ({ id: `q${i}`, item: i })));
			await run.onIdle();
			expect(await admin.exists(...keys)).toBe(0);
			// Followed, the same container records: the test can fail.
			const f = await follow(container);
			await run.add({ id: 'followed', item: 1 });
			await f.until(() => f.types.get('followed')?.includes('succeeded') === true);
			expect(await admin.exists(...keys)).toBe(2);
			await f.events.close();
		} finally {
			await run.close();
			admin.disconnect();
		}
	});

	it.each([['PostgreSQL'], ['SQLite']])('on %s: the changes table stays empty', async (kind) => {
		const knex =
			kind === 'PostgreSQL'
				? { client: 'pg', connection: pg.connection }
				: {
						client: 'sqlite3',
						connection: { filename: ':memory:' },
						useNullAsDefault: true,
						pool: { min: 1, max: 1 },
					};
		const container = new SqlContainer({ knex, tablePrefix: 'quiet_' });
		const run = worker(container);
		try {
			await run.add(Array.from({ length: 10 }, (_, i) => ({ id: `q${i}`, item: i })));
			await run.onIdle();
			const count = async (): Promise<number> =>
				Number((await container.knex('quiet_changes').count({ n: '*' }))[0]?.['n']);
			expect(await count()).toBe(0);
			// Followed, the same container records: the test can fail.
			const f = await follow(container);
			await run.add({ id: 'followed', item: 1 });
			await f.until(() => f.types.get('followed')?.includes('succeeded') === true);
			expect(await count()).toBeGreaterThan(0);
			await f.events.close();
		} finally {
			await run.close();
		}
	});
});

describe('a loss is reported as a gap, never skipped silently', () => {
	const add = (c: TaskContainer, id: string): Promise<void> =>
		c.add([createTaskRecord({ id, item: 1 }, 'task', { maxAttempts: 1 }, Date.now())]);
	const page = (c: TaskContainer, after: string | null) =>
		(c.readChanges as NonNullable<TaskContainer['readChanges']>).call(c, { after, limit: 100, waitMs: 0 });

	it('on Redis: when nobody followed for a while (the key lapsed), and when the stream was trimmed past the cursor', async () => {
		const name = 'gaps';
		const c = new RedisContainer({ redis: redis.url, name, log: false });
		const admin = new Redis(redis.url);
		try {
			const start = await page(c, null);
			await add(c, 'g1');
			const first = await page(c, start.next);
			expect(first).toMatchObject({ gap: false, changes: [{ id: 'g1', type: 'added' }] });
			await admin.del(`lightsched:{${name}}:followers`); // the follow window lapsed: g2 is not recorded
			await add(c, 'g2');
			const lapsed = await page(c, first.next);
			expect(lapsed).toMatchObject({ gap: true, changes: [] });
			await add(c, 'g3');
			const after = await page(c, lapsed.next);
			expect(after).toMatchObject({ gap: false, changes: [{ id: 'g3' }] });
			await add(c, 'g4');
			await admin.xtrim(`lightsched:{${name}}:changes`, 'MAXLEN', 0);
			expect(await page(c, after.next)).toMatchObject({ gap: true });
		} finally {
			admin.disconnect();
			await c.close();
		}
	});

	it.each([['PostgreSQL'], ['SQLite']])(
		'on %s: a lapsed follow window, and rows pruned past the cursor',
		async (kind) => {
			const knex =
				kind === 'PostgreSQL'
					? { client: 'pg', connection: pg.connection }
					: { client: 'sqlite3', connection: { filename: join(dir, 'gaps.sqlite') }, useNullAsDefault: true };
			const c = new SqlContainer({ knex, tablePrefix: 'gaps_' });
			try {
				const start = await page(c, null);
				await add(c, 'g1');
				const first = await page(c, start.next);
				expect(first).toMatchObject({ gap: false, changes: [{ id: 'g1', type: 'added' }] });
				// Another follower's view: a fresh container reads after the window lapsed (nothing was recorded meanwhile).
				await c.knex('gaps_change_state').update({ follow_until: 0 });
				await add(c, 'g2');
				const other = new SqlContainer({ knex, tablePrefix: 'gaps_' });
				try {
					expect(await page(other, first.next)).toMatchObject({ gap: true, changes: [] });
				} finally {
					await other.close();
				}
				await add(c, 'g3');
				const rows = await c.knex('gaps_changes').max({ pos: 'pos' });
				// Pruned up to the newest row: a cursor before it has lost changes.
				await c.knex('gaps_change_state').update({ pruned_tx: 0, pruned_pos: Number(rows[0]?.['pos']) });
				if (kind === 'PostgreSQL') {
					const tx = await c.knex('gaps_changes').max({ tx: 'tx' });
					await c.knex('gaps_change_state').update({ pruned_tx: Number(tx[0]?.['tx']) });
				}
				expect(await page(c, first.next)).toMatchObject({ gap: true });
			} finally {
				await c.close();
			}
		},
	);
});
