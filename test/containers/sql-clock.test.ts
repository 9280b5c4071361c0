/**
 * Time on the SQL container (issue 11 item 4) and lost claim replies (item 3). On PostgreSQL, leases, due times
 * and reclaims are judged by the database's clock (`now()` in the statements), never the caller's `now`; times a
 * caller puts in a transition patch are stored as given. `clock: 'caller'` keeps the caller's clock (tests that
 * control time); SQLite (one machine) uses the caller's clock by default. `renew` lists the tasks held for the
 * owner that it did not name (`unknown`: a claim whose reply was lost) and leaves their leases alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const HOUR = 3_600_000;
const LEASE = 10_000;

describe('SqlContainer on PostgreSQL judges time by the database clock', () => {
	let pg: SqlBackend;
	beforeAll(async () => {
		pg = await postgresBackend();
	}, 60_000);
	afterAll(() => pg?.stop());

	it('claims, leases, reclaims and due times ignore a caller clock an hour off', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase() });
		try {
			expect(c.clock).toBe('server');
			const real = Date.now();
			await c.add(
				records(
					[
						{ id: 'due', item: 1 },
						{ id: 'later', item: 2, runAt: real + 60_000 },
					],
					real,
				),
			);
			// A caller an hour behind still claims what is due on the server, and its lease is the server's.
			const [task] = await c.claim(5, 'slow', LEASE, real - HOUR);
			expect(task?.id).toBe('due');
			expect(Math.abs((task?.startedAt ?? 0) - real)).toBeLessThan(5_000);
			expect(task?.leaseUntil).toBe((task?.startedAt ?? 0) + LEASE);
			// A caller an hour ahead neither claims the task due in a minute nor reclaims the live lease.
			expect(await c.claim(5, 'fast', LEASE, real + HOUR)).toEqual([]);
			expect(await c.reclaimExpired(real + HOUR)).toEqual([]);
			expect((await c.get('due'))?.owner).toBe('slow');
			// The next due time comes back on the caller's clock: about a minute from the caller's now.
			const at = await c.nextDueAt(real + HOUR);
			expect(Math.abs((at ?? 0) - (real + HOUR + 60_000))).toBeLessThan(5_000);
			// Renewal extends by the server's clock too.
			await c.renew('slow', ['due'], LEASE, real + HOUR);
			expect(Math.abs(((await c.get('due'))?.leaseUntil ?? 0) - (Date.now() + LEASE))).toBeLessThan(5_000);
			// Times in a transition patch are stored as given; updatedAt is the server's.
			const done = await c.transition(
				'due',
				'running',
				'succeeded',
				{ finishedAt: 123, owner: null, leaseUntil: null },
				'slow',
			);
			expect(done?.finishedAt).toBe(123);
			expect(Math.abs((done?.updatedAt ?? 0) - Date.now())).toBeLessThan(5_000);
		} finally {
			await c.close();
		}
	});

	it("clock: 'caller' uses the caller's now", async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase(), clock: 'caller' });
		try {
			const real = Date.now();
			await c.add(records([{ id: 'a', item: 1 }], real));
			expect(await c.claim(1, 'o', LEASE, real - HOUR)).toEqual([]);
			const [task] = await c.claim(1, 'o', LEASE, real + HOUR);
			expect(task).toMatchObject({ startedAt: real + HOUR, leaseUntil: real + HOUR + LEASE });
			expect((await c.reclaimExpired(real + HOUR + LEASE + 1)).map((t) => t.id)).toEqual(['a']);
		} finally {
			await c.close();
		}
	});
});

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
	describe(`SqlContainer on ${kind}: renew reports tasks held for the owner that it does not know of`, () => {
		let backend: SqlBackend;
		beforeAll(async () => {
			backend = kind === 'SQLite' ? sqliteBackend() : await postgresBackend();
		}, 60_000);
		afterAll(() => backend?.stop());

		it('lists them in unknown and does not extend their leases', async () => {
			const c = new SqlContainer({ knex: await backend.freshDatabase() });
			try {
				expect(c.clock).toBe(kind === 'SQLite' ? 'caller' : 'server');
				await c.add(records(['a', 'b', 'c', 'd'].map((id, i) => ({ id, item: i }))));
				const now = Date.now();
				await c.claim(3, 'me', LEASE, now); // a, b, c: the reply of this claim "was lost" for b and c
				await c.claim(1, 'other', LEASE, now); // d
				const before = await c.get('b');
				await new Promise((resolve) => setTimeout(resolve, 20));
				const result = await c.renew('me', ['a', 'gone'], LEASE * 2, Date.now());
				expect(result.lost).toEqual(['gone']);
				expect(result.stopRequested).toEqual([]);
				expect([...(result.unknown ?? [])].sort()).toEqual(['b', 'c']);
				expect((await c.get('b'))?.leaseUntil).toBe(before?.leaseUntil);
				expect((await c.get('a'))?.leaseUntil).toBeGreaterThan(before?.leaseUntil ?? 0);
				// With nothing running, a renewal still finds them.
				expect([...((await c.renew('me', [], LEASE, Date.now())).unknown ?? [])].sort()).toEqual([
					'a',
					'b',
					'c',
				]);
				expect((await c.renew('other', ['d'], LEASE, Date.now())).unknown).toEqual([]);
			} finally {
				await c.close();
			}
		});
	});
}
