/**
 * The containers' global `rateLimit` never counts in a window that is over: a claim judged by a clock older than
 * the window a claim before it counted in (a PostgreSQL claimer that waited for the limits row's lock judges by its
 * transaction's start; callers' clocks may disagree) takes nothing and asks to be called when its clock reaches
 * that window. Before, it counted in its own (ended) window as if empty: two starts in a window of one.
 * Driven with the caller's clock on Redis, SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from 'lightsched/testing';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-rate-clock-'));
let redis: RedisServer;
let pg: PostgresServer;
let pgUrl: string;
const open: TaskContainer[] = [];

beforeAll(async () => {
	[redis, pg] = await Promise.all([startRedis(), startPostgres()]);
	const db = `rclock_${Date.now()}`;
	await pg.createDatabase(db);
	pgUrl = `${pg.url.replace(/\/postgres$/, '')}/${db}`;
}, 120_000);
afterAll(async () => {
	await Promise.all(open.map((c) => c.close()));
	await Promise.all([redis?.close(), pg?.stop()]);
	rmSync(dir, { recursive: true, force: true });
});

const rateLimit = { max: 1, intervalMs: 1_000 };

async function make(kind: string): Promise<TaskContainer> {
	if (kind === 'Redis') {
		const c = new RedisContainer({ redis: redis.url, name: 'rclock', clock: 'caller', log: false, rateLimit });
		open.push(c);
		return c;
	}
	const knex =
		kind === 'SQLite'
			? { client: 'sqlite3', connection: { filename: join(dir, 'r.sqlite') }, useNullAsDefault: true }
			: { client: 'pg', connection: pgUrl, pool: { min: 0, max: 2 } };
	const c = new SqlContainer({ knex, clock: 'caller', rateLimit });
	open.push(c);
	await c.migrate();
	return c;
}

describe.each(['Redis', 'SQLite', 'PostgreSQL'])('the container rateLimit on %s', (kind) => {
	it('takes nothing on a clock behind a window already counted, and wakes when its clock reaches it', async () => {
		const c = await make(kind);
		const T = 1_800_000_000_000;
		await c.add(records(['a', 'b', 'c'].map((id) => ({ id, item: id }))));
		expect((await c.claim(5, 'o', 60_000, T + 10)).map((task) => task.id)).toEqual(['a']);
		expect((await c.claim(5, 'o', 60_000, T + 1_000)).map((task) => task.id)).toEqual(['b']);
		expect(await c.claim(5, 'o', 60_000, T + 999)).toEqual([]);
		expect(await c.nextDueAt(T + 999)).toBeLessThanOrEqual(T + 1_001);
		const windows = (await c.list()).tasks
			.filter((task) => task.startedAt !== null)
			.map((task) => Math.floor((task.startedAt as number) / rateLimit.intervalMs));
		expect(new Set(windows).size).toBe(windows.length);
		expect((await c.claim(5, 'o', 60_000, T + 2_000)).map((task) => task.id)).toEqual(['c']);
	});
});
