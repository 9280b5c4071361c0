/**
 * SqlContainer's claim-ahead (containers/sql/claim-ahead.ts), on PostgreSQL and on SQLite through both drivers:
 * when an owner whose last claim came back full stores tasks reaching a final status, the same statement (SQLite on
 * better-sqlite3: the same transaction) claims as many due tasks for it, held for its next claim (answered without a
 * statement), handed back to waiting uncounted when not taken in time or on close, never reported as `unknown` by a
 * renewal, and never made while the queue is paused or a known delayed task is due (on PostgreSQL it is made when
 * only the periodic look for delayed tasks another process wrote is due: its statement makes that look).
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { claimAheadOff } from '../../containers/sql/claim-ahead.js';
import { STALE_MS } from '../../containers/sql/promotion.js';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const backends: Record<string, SqlBackend> = {};
beforeAll(async () => {
	backends['PostgreSQL'] = await postgresBackend();
	backends['SQLite, better-sqlite3'] = sqliteBackend('better-sqlite3');
	backends['SQLite, sqlite3'] = sqliteBackend('sqlite3');
}, 120_000);
afterAll(() => Promise.all(Object.values(backends).map((backend) => backend.stop())));

/** A fresh container with `n` waiting tasks t0…t(n-1), and the statements it sends from now on. */
async function setup(name: string, n: number): Promise<{ c: SqlContainer; statements: string[]; knex: Knex.Config }> {
	const knex = await (backends[name] as SqlBackend).freshDatabase();
	const c = new SqlContainer({ knex });
	await c.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
	const statements: string[] = [];
	c.knex.on('query', (q: { sql: string }) => statements.push(q.sql));
	return { c, statements, knex };
}

describe.each(['PostgreSQL', 'SQLite, better-sqlite3', 'SQLite, sqlite3'])('SqlContainer claim-ahead (%s)', (name) => {
	it('claims as many tasks as finished for an owner with a backlog, and answers its next claim without a statement', async () => {
		const { c, statements } = await setup(name, 6);
		try {
			const first = await c.claim(2, 'o', 30_000, Date.now());
			expect(first.map((t) => t.id)).toEqual(['t0', 't1']);
			await Promise.all(first.map((t) => c.transition(t.id, 'running', 'succeeded', DONE, 'o')));
			// Claimed ahead in the transitions' statements, and taken at once by the next claim, without a statement
			// (before anything else is awaited: a held task goes back to waiting after at most 250 ms).
			const before = statements.length;
			const next = await c.claim(2, 'o', 30_000, Date.now());
			expect(next.map((t) => t.id)).toEqual(['t2', 't3']);
			expect(statements.length).toBe(before);
			// Running for `o`, their attempt counted.
			const held = (await c.list({ status: 'running' })).tasks;
			expect(held.map((t) => [t.id, t.owner, t.attempts])).toEqual([
				['t2', 'o', 1],
				['t3', 'o', 1],
			]);
			// Another owner's claim takes what is left, in order.
			expect((await c.claim(5, 'p', 30_000, Date.now())).map((t) => t.id)).toEqual(['t4', 't5']);
		} finally {
			await c.close();
		}
	});

	it('claims ahead only for an owner whose last claim came back full, and only on a final transition', async () => {
		const { c } = await setup(name, 3);
		try {
			const [a] = await c.claim(1, 'o', 30_000, Date.now());
			const [b] = await c.claim(5, 'p', 30_000, Date.now()); // not full: p has no backlog
			await c.transition(b!.id, 'running', 'succeeded', DONE, 'p');
			await c.transition(a!.id, 'running', 'running', { progress: 1 }, 'o'); // not final
			await c.transition(a!.id, 'running', 'succeeded', DONE); // no owner named
			expect((await c.counts()).running).toBe(1);
		} finally {
			await c.close();
		}
	});

	it('hands a held task back to waiting, its attempt not counted, when its owner does not claim it in time', async () => {
		const { c } = await setup(name, 3);
		try {
			const [a] = await c.claim(1, 'o', 4_000, Date.now()); // held for a quarter of the lease: 1 s
			await c.transition(a!.id, 'running', 'succeeded', DONE, 'o');
			expect((await c.get('t1'))?.status).toBe('running');
			// Handed back once the hold lapses (a loaded machine fires the timer late: waited for, up to 10 s).
			const until = Date.now() + 10_000;
			while ((await c.get('t1'))?.status === 'running' && Date.now() < until)
				await new Promise((resolve) => setTimeout(resolve, 50));
			expect(await c.get('t1')).toMatchObject({ status: 'waiting', attempts: 0, owner: null, leaseUntil: null });
			// And it is claimed again in its place.
			expect((await c.claim(1, 'p', 30_000, Date.now())).map((t) => t.id)).toEqual(['t1']);
		} finally {
			await c.close();
		}
	});

	it('hands held tasks back on close', async () => {
		const { c, knex } = await setup(name, 3);
		const [a] = await c.claim(1, 'o', 30_000, Date.now());
		await c.transition(a!.id, 'running', 'succeeded', DONE, 'o');
		expect((await c.get('t1'))?.status).toBe('running');
		await c.close();
		const reader = new SqlContainer({ knex });
		try {
			expect(await reader.get('t1')).toMatchObject({ status: 'waiting', attempts: 0, owner: null });
		} finally {
			await reader.close();
		}
	});

	it('does not report held tasks as unknown to a renewal, and does report tasks of a lost reply', async () => {
		const { c } = await setup(name, 4);
		try {
			const [a] = await c.claim(1, 'o', 30_000, Date.now());
			await c.transition(a!.id, 'running', 'succeeded', DONE, 'o');
			expect((await c.get('t1'))?.status).toBe('running');
			expect((await c.renew('o', [], 30_000, Date.now())).unknown).toEqual([]);
			// A task leased to `o` that nothing here holds (a claim whose reply was lost) is reported.
			await c.knex.raw(
				`UPDATE lightsched_tasks SET status = 'running', owner = 'o', attempts = 1 WHERE id = 't3'`,
			);
			expect((await c.renew('o', [], 30_000, Date.now())).unknown).toEqual(['t3']);
		} finally {
			await c.close();
		}
	});

	it('claims nothing ahead while the queue is paused', async () => {
		const { c } = await setup(name, 3);
		try {
			const [a] = await c.claim(1, 'o', 30_000, Date.now());
			await c.setPaused(true);
			await c.transition(a!.id, 'running', 'succeeded', DONE, 'o');
			expect((await c.counts()).running).toBe(0);
		} finally {
			await c.close();
		}
	});

	it('claims ahead in priority order, and leaves a task of its own batch alone', async () => {
		const c = new SqlContainer({ knex: await (backends[name] as SqlBackend).freshDatabase() });
		try {
			await c.add(
				records([
					{ id: 'low', item: 0, priority: 0 },
					{ id: 'high', item: 0, priority: 9 },
					{ id: 'mid', item: 0, priority: 5 },
					{ id: 'first', item: 0, priority: 10 },
				]),
			);
			const [f] = await c.claim(1, 'o', 30_000, Date.now());
			expect(f?.id).toBe('first');
			// A transition on its way, so the next two share one statement: `first` finishes and `high` is stopped
			// while waiting. The claim ahead in it leaves `high` alone (a row changes once per statement) and takes `mid`.
			const busy = c.transition('none', 'waiting', 'stopped', { finishedAt: 1 });
			const done = c.transition('first', 'running', 'succeeded', DONE, 'o');
			const stopped = c.transition('high', 'waiting', 'stopped', { finishedAt: 1 });
			expect(await busy).toBeNull();
			expect(await done).toMatchObject({ status: 'succeeded' });
			expect(await stopped).toMatchObject({ status: 'stopped' });
			expect((await c.list({ status: 'running' })).tasks.map((t) => t.id)).toEqual(['mid']);
		} finally {
			await c.close();
		}
	});

	it('records both the finishes and the claims ahead of one statement in the change log', async () => {
		const { c, statements } = await setup(name, 4);
		try {
			const start = await c.readChanges({ after: null, limit: 10, waitMs: 0 });
			const first = await c.claim(2, 'o', 30_000, Date.now());
			const busy = c.transition('none', 'waiting', 'stopped', { finishedAt: 1 });
			const done = first.map((t) => c.transition(t.id, 'running', 'succeeded', DONE, 'o'));
			await Promise.all([busy, ...done]);
			// Claimed ahead: taken without a statement, before anything else is awaited (a held task goes back to
			// waiting after at most 250 ms).
			const before = statements.length;
			expect((await c.claim(2, 'o', 30_000, Date.now())).map((t) => t.id)).toEqual(['t2', 't3']);
			expect(statements.length).toBe(before);
			expect((await c.list({ status: 'running' })).tasks.map((t) => t.id)).toEqual(['t2', 't3']);
			const page = await c.readChanges({ after: start.next, limit: 100, waitMs: 0 });
			const seen = page.changes.map((change) => `${change.type} ${change.id}`).sort();
			expect(seen).toEqual([
				'started t0',
				'started t1',
				'started t2',
				'started t3',
				'succeeded t0',
				'succeeded t1',
			]);
		} finally {
			await c.close();
		}
	});

	it('is off for a container in claimAheadOff (the model test)', async () => {
		const { c } = await setup(name, 3);
		claimAheadOff.add(c);
		try {
			const [a] = await c.claim(1, 'o', 30_000, Date.now());
			await c.transition(a!.id, 'running', 'succeeded', DONE, 'o');
			expect((await c.counts()).running).toBe(0);
		} finally {
			await c.close();
		}
	});

	it('runs every task of a backlog once with schedulers in one process, each claiming ahead', async () => {
		const c = new SqlContainer({ knex: await (backends[name] as SqlBackend).freshDatabase() });
		const n = 600;
		await c.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
		const runs = new Map<string, number>();
		const schedulers = [0, 1].map(
			() =>
				new Scheduler({
					container: c,
					actuator: new FunctionActuator(async (item: number) => {
						runs.set(String(item), (runs.get(String(item)) ?? 0) + 1);
					}),
					concurrency: 8,
				}),
		);
		try {
			await Promise.all(schedulers.map((s) => s.onIdle()));
			expect((await c.counts()).succeeded).toBe(n);
			expect(runs.size).toBe(n);
			expect([...runs.values()].every((v) => v === 1)).toBe(true);
			const tasks = (await c.list({ status: 'succeeded', limit: n })).tasks;
			expect(tasks.every((t) => t.attempts === 1)).toBe(true);
		} finally {
			for (const s of schedulers) await s.close();
			await c.close();
		}
	});
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('SqlContainer claim-ahead and delayed tasks (PostgreSQL)', () => {
	const promotions = (statements: readonly string[]): number =>
		statements.filter((sql) => sql.includes('WITH p AS')).length;

	it('claims ahead past the periodic look for delayed tasks, making that look in the same statement', async () => {
		const { c, statements } = await setup('PostgreSQL', 6);
		try {
			const first = await c.claim(2, 'o', 30_000, Date.now()); // a new container's first claim promotes
			const promoted = promotions(statements);
			// The periodic look for delayed tasks other processes wrote is due: until now it stopped the claim ahead, and
			// the next claim went to the database with a promotion first (three statements for two tasks, not one).
			await sleep(STALE_MS + 20);
			await Promise.all(first.map((t) => c.transition(t.id, 'running', 'succeeded', DONE, 'o')));
			const before = statements.length;
			const next = await c.claim(2, 'o', 30_000, Date.now());
			expect(next.map((t) => t.id)).toEqual(['t2', 't3']);
			expect(statements.length).toBe(before);
			expect(
				statements.filter((sql) => /\bd AS \(SELECT m\.next AS delayed_next/.test(sql)).length,
			).toBeGreaterThan(0);
			// The look counts: the claims right after do not promote.
			await Promise.all(next.map((t) => c.transition(t.id, 'running', 'succeeded', DONE, 'o')));
			expect((await c.claim(2, 'o', 30_000, Date.now())).map((t) => t.id)).toEqual(['t4', 't5']);
			expect(promotions(statements)).toBe(promoted);
		} finally {
			await c.close();
		}
	});

	it('takes a delayed task that look finds due at the next claim that goes to the database, promoting first', async () => {
		const { c, statements, knex } = await setup('PostgreSQL', 8);
		const other = new SqlContainer({ knex });
		try {
			const [first] = await c.claim(1, 'o', 30_000, Date.now());
			const promoted = promotions(statements);
			// Another process writes a delayed task of a higher priority, due in 50 ms: this one does not know of it.
			// (Its container warmed first: a first call opens its pool, and an add that took longer than the delay
			// stored the task as due already, no promotion needed: seen once at load.)
			await other.counts();
			const now = Date.now();
			await other.add(records([{ id: 'late', item: 0, priority: 5, runAt: now + 50 }], now));
			await sleep(STALE_MS + 70);
			// This statement claims t1 ahead (`late` is not in the claim index yet) and finds `late` due ...
			const before = statements.length;
			await c.transition(first!.id, 'running', 'succeeded', DONE, 'o');
			expect(statements.slice(before).some((sql) => sql.includes('AS delayed_next'))).toBe(true);
			// ... so the next claim takes t1 from what is held and the rest from the database, promoting first.
			expect((await c.claim(2, 'o', 30_000, Date.now())).map((t) => t.id)).toEqual(['late', 't1']);
			expect(promotions(statements)).toBe(promoted + 1);
		} finally {
			await other.close();
			await c.close();
		}
	});
});
