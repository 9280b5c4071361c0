/**
 * Delayed tasks out of the SQL claim path (issue 15 item 6, schema version 5). A waiting task not yet due when it
 * is written is `delayed` (outside the claim index); each claim first promotes the delayed tasks now due. These
 * tests check what must hold whatever the flag says: due tasks in priority order while thousands of delayed ones
 * are stored, a delayed task claimable when due and not before (caller's and server's clock), retries with a
 * backoff and reclaims, a task promoted by a claimer whose clock runs ahead not claimed early by one behind, and a
 * version-4 database upgraded with its waiting rows judged, and delayed tasks another container wrote (the claim promotes
 * only when a delayed task may be due: sql/promotion.ts). The flag itself is read to show the rows are kept
 * out of the claim index (speed is the bench's business: bench/backlog.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { SCHEMA_VERSION } from '../../containers/sql/schema.js';
import { records } from '../contracts/container.contract.js';
import { createKnex, sqlBackendPerSuite } from '../support/sql.js';

const LEASE = 10_000;
const HOUR = 3_600_000;

/** The `delayed` flag of each named task. */
async function flags(knex: Knex, ids: readonly string[]): Promise<Record<string, number>> {
	const rows = (await knex('lightsched_tasks').select('id', 'delayed').whereIn('id', ids)) as {
		id: string;
		delayed: unknown;
	}[];
	return Object.fromEntries(rows.map((row) => [row.id, Number(row.delayed)]));
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
	describe(`SqlContainer on ${kind}: delayed tasks stay out of the claim path`, () => {
		const { backend, track } = sqlBackendPerSuite(kind);

		/** A container on the caller's clock and a knex on the same database. */
		async function open(clock: 'caller' | 'server' = 'caller'): Promise<{ c: SqlContainer; knex: Knex }> {
			const knex = track(createKnex(await backend().freshDatabase()));
			const c = new SqlContainer({ knex, clock });
			track(c);
			await c.migrate();
			return { c, knex };
		}

		it('nextDueAt reports a delayed task that came due after the last claim, so the next claim promotes and takes it', async () => {
			// A claim just before the task is due promotes nothing; the task is then due but still delayed (outside the
			// claim index), and "the earliest task due after now" no longer includes it. nextDueAt answered null, and an
			// idle scheduler slept past it (a workflow test saw a delayed step task never run on PostgreSQL).
			const { c, knex } = await open();
			// Written as delayed: not yet due by the adding process's clock.
			const now = Date.now();
			await c.add(records([{ id: 'later', item: 1, runAt: now + 1_000 }], now));
			expect(await flags(knex, ['later'])).toEqual({ later: 1 });
			expect(await c.claim(1, 'me', LEASE, now + 999)).toEqual([]);
			expect(await c.nextDueAt(now + 1_001)).toBe(now + 1_000);
			expect((await c.claim(1, 'me', LEASE, now + 1_001)).map((t) => t.id)).toEqual(['later']);
			expect(await c.nextDueAt(now + 1_002)).toBeNull();
		});

		it('a delayed task that came due while globalConcurrency allows nothing does not make nextDueAt answer "now"', async () => {
			// The limited claim promotes it even when it can take nothing, so nextDueAt does not answer "claim at once"
			// over and over while the limit holds (a spin of the idle scheduler).
			const knex = track(createKnex(await backend().freshDatabase()));
			const c = new SqlContainer({ knex, clock: 'caller', globalConcurrency: 1 });
			track(c);
			await c.migrate();
			const now = Date.now();
			await c.add(records([{ id: 'busy', item: 0 }], now));
			expect((await c.claim(1, 'me', LEASE, now)).map((t) => t.id)).toEqual(['busy']);
			await c.add(records([{ id: 'later', item: 1, runAt: now + 1_000 }], now));
			expect(await flags(knex, ['later'])).toEqual({ later: 1 });
			expect(await c.claim(1, 'me', LEASE, now + 1_001)).toEqual([]);
			const next = await c.nextDueAt(now + 1_001);
			expect(next === null || next > now + 1_001).toBe(true);
		});

		it('claims due tasks in priority order while thousands of delayed ones are stored, and delayed ones when due', async () => {
			const { c, knex } = await open();
			const now = Date.now();
			// 3,000 delayed tasks first (ahead in seq order), higher priority than any due one.
			const delayed = Array.from({ length: 3_000 }, (_, i) => ({
				id: `d${i}`,
				item: i,
				priority: 10 + (i % 3),
				runAt: now + 60_000 + i,
			}));
			for (let i = 0; i < delayed.length; i += 500) await c.add(records(delayed.slice(i, i + 500), now));
			await c.add(
				records(
					[
						{ id: 'low', item: 'low', priority: 1 },
						{ id: 'high', item: 'high', priority: 5 },
						{ id: 'mid', item: 'mid', priority: 3 },
						{ id: 'high2', item: 'high2', priority: 5 },
					],
					now,
				),
			);
			expect(await flags(knex, ['d0', 'd2999', 'low', 'high'])).toEqual({ d0: 1, d2999: 1, low: 0, high: 0 });
			const claimed = await c.claim(10, 'w', LEASE, now);
			expect(claimed.map((t) => t.id)).toEqual(['high', 'high2', 'mid', 'low']);
			expect(await c.claim(10, 'w', LEASE, now + 59_999)).toEqual([]);
			expect(await c.nextDueAt(now)).toBe(now + 60_000);
			// Due now: d0 (priority 10) and d1 (11); d2 (12) one ms later. Priority order among the due, then seq.
			expect((await c.claim(10, 'w', LEASE, now + 60_001)).map((t) => t.id)).toEqual(['d1', 'd0']);
			expect(await flags(knex, ['d2', 'd3'])).toEqual({ d2: 1, d3: 1 });
			expect((await c.claim(10, 'w', LEASE, now + 60_003)).map((t) => t.id)).toEqual(['d2', 'd3']);
		});

		it('keeps a retry with a backoff and a hand-back with a runAt out until due; a reclaimed task is due at once', async () => {
			const { c, knex } = await open();
			const now = Date.now();
			await c.add(
				records(
					[
						{ id: 'a', item: 1 },
						{ id: 'b', item: 2 },
						{ id: 'c', item: 3 },
						{ id: 'e', item: 4 },
					],
					now,
				),
			);
			expect((await c.claim(4, 'w', LEASE, now)).length).toBe(4);
			// Several at once, so some run in one batched statement and some alone.
			const back = await Promise.all([
				c.transition('a', 'running', 'waiting', { runAt: now + 5_000, owner: null, leaseUntil: null }, 'w'),
				c.transition('b', 'running', 'waiting', { runAt: now + 5_000, owner: null, leaseUntil: null }, 'w'),
				c.transition('c', 'running', 'waiting', { runAt: now - 1, owner: null, leaseUntil: null }, 'w'),
			]);
			expect(back.map((t) => t?.status)).toEqual(['waiting', 'waiting', 'waiting']);
			expect(await flags(knex, ['a', 'b', 'c'])).toEqual({ a: 1, b: 1, c: 0 });
			expect((await c.claim(4, 'w2', LEASE, now + 1)).map((t) => t.id)).toEqual(['c']);
			expect((await c.claim(4, 'w2', LEASE, now + 5_000)).map((t) => t.id)).toEqual(['a', 'b']);
			// A lease that ran out: back to waiting, due at once.
			const reclaimed = await c.reclaimExpired(now + LEASE + 1);
			expect(reclaimed.map((t) => t.id)).toEqual(['e']);
			expect(await flags(knex, ['e'])).toEqual({ e: 0 });
			expect((await c.claim(4, 'w3', LEASE, now + LEASE + 1)).map((t) => t.id)).toEqual(['e']);
		});

		it('does not claim early a task promoted by a claimer whose clock runs ahead', async () => {
			const { c, knex } = await open();
			const real = Date.now();
			await c.add(
				records(
					[
						{ id: 'soon', item: 1, priority: 2, runAt: real + 60_000 },
						{ id: 'later', item: 2, priority: 1, runAt: real + 30 * 60_000 },
					],
					real,
				),
			);
			// An hour ahead: promotes both, takes the first.
			expect((await c.claim(1, 'fast', LEASE, real + HOUR)).map((t) => t.id)).toEqual(['soon']);
			expect(await flags(knex, ['later'])).toEqual({ later: 0 });
			// On time: `later` is marked due but is not due by this clock.
			expect(await c.claim(5, 'slow', LEASE, real)).toEqual([]);
			expect(await c.nextDueAt(real)).toBe(real + 30 * 60_000);
			expect((await c.claim(5, 'slow', LEASE, real + 30 * 60_000)).map((t) => t.id)).toEqual(['later']);
		});

		it('claims a delayed task another container wrote once due, though this one promoted just before', async () => {
			const { c, knex } = await open();
			const other = new SqlContainer({ knex, clock: 'caller' });
			track(other);
			const now = Date.now();
			await c.add(records([{ id: 'due', item: 0 }], now));
			// `c` promotes (nothing delayed known), then `other` writes a delayed task `c` does not know of.
			expect((await c.claim(5, 'w', LEASE, now)).map((t) => t.id)).toEqual(['due']);
			await other.add(records([{ id: 'x', item: 1, priority: 3, runAt: now + 1_000 }], now));
			expect(await c.claim(5, 'w', LEASE, now + 999)).toEqual([]);
			expect((await c.claim(5, 'w', LEASE, now + 1_000)).map((t) => t.id)).toEqual(['x']);
			// A hand-back with a runAt through `other`, then a claim through `c` once due.
			expect(
				(await other.transition('x', 'running', 'waiting', { runAt: now + 2_000, owner: null }, 'w'))?.status,
			).toBe('waiting');
			expect(await c.claim(5, 'w', LEASE, now + 1_999)).toEqual([]);
			expect((await c.claim(5, 'w', LEASE, now + 2_000)).map((t) => t.id)).toEqual(['x']);
		});

		it('a claim that takes too few promotes and takes a delayed task another container wrote, due at its first look', async () => {
			const { c, knex } = await open();
			const other = new SqlContainer({ knex, clock: 'caller' });
			track(other);
			const now = Date.now();
			await c.add(records([{ id: 'due', item: 0 }], now));
			// `c` promotes (nothing delayed known), then `other` writes a delayed task; `c`'s next claim is its first
			// look at it, already due, within the 100 ms in which `c` would not promote first.
			expect((await c.claim(5, 'w', LEASE, now)).map((t) => t.id)).toEqual(['due']);
			await other.add(records([{ id: 'x', item: 1, runAt: now + 1_000 }], now));
			expect(await flags(knex, ['x'])).toEqual({ x: 1 });
			expect((await c.claim(5, 'w', LEASE, now + 1_000)).map((t) => t.id)).toEqual(['x']);
		});

		it('claims a delayed task within rate-limited claims once due', async () => {
			const knex = track(createKnex(await backend().freshDatabase()));
			const c = new SqlContainer({ knex, clock: 'caller', rateLimit: { max: 100, intervalMs: 1_000 } });
			track(c);
			const now = Date.now();
			await c.add(
				records(
					[
						{ id: 'x', item: 1, priority: 9, runAt: now + 1_000 },
						{ id: 'y', item: 2 },
					],
					now,
				),
			);
			expect((await c.claim(5, 'w', LEASE, now)).map((t) => t.id)).toEqual(['y']);
			expect((await c.claim(5, 'w', LEASE, now + 1_000)).map((t) => t.id)).toEqual(['x']);
		});

		if (kind === 'PostgreSQL') {
			it("on the server's clock: a delayed task is claimed when the database's clock says it is due, not before", async () => {
				const { c } = await open('server');
				const real = Date.now();
				await c.add(records([{ id: 'x', item: 1, runAt: real + 400 }], real));
				// A caller clock an hour ahead changes nothing: the database's clock judges.
				expect(await c.claim(5, 'w', LEASE, real + HOUR)).toEqual([]);
				const at = await c.nextDueAt(Date.now());
				expect(at).not.toBeNull();
				await sleep(Math.max(0, (at ?? 0) - Date.now()) + 200);
				expect((await c.claim(5, 'w', LEASE, real - HOUR)).map((t) => t.id)).toEqual(['x']);
			});
		}

		it('upgrades a version-4 database: waiting rows not yet due become delayed, and claims stay right', async () => {
			const { c, knex } = await open();
			const now = Date.now();
			await c.add(
				records(
					[
						{ id: 'future-high', item: 1, priority: 9, runAt: now + HOUR },
						{ id: 'due-low', item: 2, priority: 1 },
						{ id: 'due-high', item: 3, priority: 5 },
						{ id: 'soon', item: 4, priority: 7, runAt: now + 2_000 },
					],
					now,
				),
			);
			await c.close();
			// Back to version 4: the old claim index, no `delayed` column or index.
			await knex.raw('DROP INDEX lightsched_tasks_delayed');
			await knex.raw('DROP INDEX lightsched_tasks_claim');
			// (and no later version's index on the column: schema 6's parked tasks)
			await knex.raw('DROP INDEX IF EXISTS lightsched_tasks_parked');
			// SQLite's change trigger names every column (schema 8): it goes first, and the upgrade rebuilds it.
			if (kind === 'SQLite') await knex.raw('DROP TRIGGER IF EXISTS lightsched_changes_changed');
			await knex.raw('ALTER TABLE lightsched_tasks DROP COLUMN delayed');
			await knex.raw(
				`CREATE INDEX lightsched_tasks_claim ON lightsched_tasks (priority DESC, seq, run_at) WHERE status = 'waiting'`,
			);
			await knex.raw('DELETE FROM lightsched_migrations WHERE version >= 5');
			const upgraded = new SqlContainer({ knex, clock: 'caller' });
			track(upgraded);
			await upgraded.migrate();
			const versions = (await knex('lightsched_migrations').max('version as v')) as { v: unknown }[];
			expect(Number(versions[0]?.v)).toBe(SCHEMA_VERSION);
			expect(await flags(knex, ['future-high', 'due-low', 'due-high', 'soon'])).toEqual({
				'future-high': 1,
				'due-low': 0,
				'due-high': 0,
				soon: 1,
			});
			expect((await upgraded.claim(5, 'w', LEASE, now)).map((t) => t.id)).toEqual(['due-high', 'due-low']);
			expect((await upgraded.claim(5, 'w', LEASE, now + 2_000)).map((t) => t.id)).toEqual(['soon']);
			expect(await upgraded.nextDueAt(now + 2_000)).toBe(now + HOUR);
			expect((await upgraded.claim(5, 'w', LEASE, now + HOUR)).map((t) => t.id)).toEqual(['future-high']);
		});
	});
}
