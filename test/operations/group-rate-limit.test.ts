/**
 * Per-group rate limits (issue 14 item 4): the shared `describeGroupRateLimit` cases on Redis, SQLite and
 * PostgreSQL (real servers, the caller's clock), and the option's checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidTaskError, Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { CombinedContainer } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { describeGroupRateLimit, records } from 'lightsched/testing';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-group-'));
let redis: RedisServer;
let pg: PostgresServer;
let pgUrl: string;
const open = new Set<TaskContainer>();
let n = 0;

beforeAll(async () => {
	[redis, pg] = await Promise.all([startRedis(), startPostgres()]);
	const db = `grp_${Date.now()}`;
	await pg.createDatabase(db);
	pgUrl = `${pg.url.replace(/\/postgres$/, '')}/${db}`;
}, 120_000);
afterAll(async () => {
	await Promise.all([...open].map((c) => c.close()));
	await Promise.all([redis?.close(), pg?.stop()]);
	rmSync(dir, { recursive: true, force: true });
});

function keep<T extends TaskContainer>(c: T): T {
	open.add(c);
	return c;
}

describe('groupRateLimit on Redis', () => {
	describeGroupRateLimit(async (groupRateLimit) =>
		keep(new RedisContainer({ redis: redis.url, name: `grp${n++}`, clock: 'caller', log: false, groupRateLimit })),
	);
});

describe('groupRateLimit on SQLite', () => {
	describeGroupRateLimit(async (groupRateLimit) => {
		const knex = {
			client: 'sqlite3',
			connection: { filename: join(dir, `g${n++}.sqlite`) },
			useNullAsDefault: true,
		};
		const c = keep(new SqlContainer({ knex, groupRateLimit }));
		await c.migrate();
		return c;
	});
});

describe('groupRateLimit on PostgreSQL', () => {
	describeGroupRateLimit(async (groupRateLimit) => {
		const c = keep(
			new SqlContainer({
				knex: { client: 'pg', connection: pgUrl, pool: { min: 0, max: 4 } },
				tablePrefix: `g${n++}_`,
				clock: 'caller',
				groupRateLimit,
			}),
		);
		await c.migrate();
		return c;
	});
});

describe('schema 6 (task groups)', () => {
	it.each(['SQLite', 'PostgreSQL'])(
		'on %s, runs again over its own result and keeps the groups and parked tasks',
		async (kind) => {
			const prefix = `m${n++}_`;
			const knex =
				kind === 'SQLite'
					? {
							client: 'sqlite3',
							connection: { filename: join(dir, `${prefix}.sqlite`) },
							useNullAsDefault: true,
						}
					: { client: 'pg', connection: pgUrl, pool: { min: 0, max: 2 } };
			const groupRateLimit = { max: 1, intervalMs: 1_000 };
			const T = 1_800_000_000_000;
			const first = keep(new SqlContainer({ knex, tablePrefix: prefix, clock: 'caller', groupRateLimit }));
			await first.migrate();
			await first.add(
				records([
					{ id: 'a', item: 1, group: 'g' },
					{ id: 'b', item: 2, group: 'g' },
				]),
			);
			expect((await first.claim(5, 'o', 60_000, T)).map((t) => t.id)).toEqual(['a']);
			// Version 6 recorded as not applied: the next migrate runs it again over its own tables and indexes.
			await first.knex.raw(`DELETE FROM "${prefix}migrations" WHERE version = 6`);
			await first.close();
			open.delete(first);
			const again = keep(new SqlContainer({ knex, tablePrefix: prefix, clock: 'caller', groupRateLimit }));
			await again.migrate();
			expect(await again.get('b')).toMatchObject({ status: 'waiting', group: 'g' });
			expect(await again.claim(5, 'o', 60_000, T + 1)).toEqual([]);
			expect((await again.claim(5, 'o', 60_000, T + 1_000)).map((t) => t.id)).toEqual(['b']);
		},
	);
});

describe('groupRateLimit and group checks', () => {
	it('refuses bad limits, and CombinedContainer refuses a limited SQL part', () => {
		const knex = { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true };
		expect(() => new SqlContainer({ knex, groupRateLimit: { max: 0, intervalMs: 10 } })).toThrow(
			/`groupRateLimit.max`/,
		);
		expect(() => new SqlContainer({ knex, groupRateLimit: 5 as never })).toThrow(TypeError);
		expect(
			() =>
				new RedisContainer({
					redis: 'redis://127.0.0.1:1',
					name: 'x',
					groupRateLimit: { max: 1, intervalMs: 1.5 },
				}),
		).toThrow(/`groupRateLimit.intervalMs`/);
		expect(
			() =>
				new RedisContainer({
					redis: 'redis://127.0.0.1:1',
					name: 'x',
					groupRateLimit: { max: 1, interval: 10 } as never,
				}),
		).toThrow(/did you mean `intervalMs`/);
		const persistent = new SqlContainer({ knex, groupRateLimit: { max: 1, intervalMs: 10 } });
		expect(() => new CombinedContainer(new QueueContainer(), persistent)).toThrow(/groupRateLimit/);
	});

	it('refuses a group that is not a non-empty string of at most 512 characters, naming it', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => null),
		});
		try {
			for (const group of ['', 7, 'x'.repeat(513), {}]) {
				const refused = await scheduler.add({ item: 1, group: group as never }).then(
					() => null,
					(error: unknown) => error,
				);
				expect(refused).toBeInstanceOf(InvalidTaskError);
				expect((refused as Error).message).toMatch(/`task.group`/);
			}
			expect((await scheduler.add({ item: 1, group: 'x'.repeat(512) })).group).toBe('x'.repeat(512));
		} finally {
			await scheduler.close();
		}
	});
});

describe('the in-memory containers', () => {
	it('refuse groupRateLimit (and the other cross-process limits), naming it', () => {
		for (const limit of ['groupRateLimit', 'rateLimit', 'globalConcurrency']) {
			expect(() => new QueueContainer({ [limit]: { max: 1, intervalMs: 10 } } as never)).toThrow(
				new RegExp(`Expected no \`${limit}\``),
			);
		}
	});
});

describe.each(['Redis', 'SQLite'])('a scheduler on %s with only held-back tasks due', (kind) => {
	it('sleeps until the group window reopens instead of claiming again and again', async () => {
		const groupRateLimit = { max: 1, intervalMs: 1_000 };
		let container: RedisContainer | SqlContainer;
		if (kind === 'Redis') {
			container = keep(new RedisContainer({ redis: redis.url, name: `spin${n++}`, log: false, groupRateLimit }));
		} else {
			const knex = {
				client: 'sqlite3',
				connection: { filename: join(dir, `spin${n++}.sqlite`) },
				useNullAsDefault: true,
			};
			container = keep(new SqlContainer({ knex, groupRateLimit }));
			await container.migrate();
		}
		let claims = 0;
		const claim = container.claim.bind(container);
		container.claim = (...args) => {
			claims++;
			return claim(...args);
		};
		const started: number[] = [];
		const scheduler = new Scheduler({
			container,
			concurrency: 4,
			// Polling far apart: only the reopening can wake it in time.
			pollIntervalMs: 60_000,
			actuator: new FunctionActuator(() => void started.push(Date.now())),
		});
		try {
			await scheduler.add([1, 2, 3].map((i) => ({ item: i, group: 'g' })));
			const deadline = Date.now() + 10_000;
			while (started.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
			expect(started).toHaveLength(3);
			// Three windows: a handful of claims each (the add's wake, the finished task's slot, the reopening),
			// not one per loop turn.
			expect(claims).toBeLessThan(30);
			console.log(`${kind}: ${claims} claims for 3 tasks in 3 windows`);
			// By the stored start times (the container's clock, the windows' own): one start per window.
			const done = (await container.list()).tasks;
			expect(done.every((task) => task.startedAt !== null)).toBe(true);
			const windows = new Set(
				done.map((task) => Math.floor((task.startedAt as number) / groupRateLimit.intervalMs)),
			);
			expect(windows.size).toBe(3);
		} finally {
			await scheduler.close();
		}
	}, 20_000);
});
