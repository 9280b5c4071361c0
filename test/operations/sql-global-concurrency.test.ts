/**
 * `globalConcurrency` on the SQL container (issue 14 item 4): at most N tasks running across every process,
 * enforced inside the claim. Concurrent claims from many containers on one PostgreSQL database never take more
 * than the limit between them (READ COMMITTED would let unserialised claims all see the last free slot), and
 * three scheduler processes on PostgreSQL and on SQLite never run more than N tasks at once over a whole run,
 * every task running once. The PostgreSQL children poll only once a minute, so the run finishing shows that a
 * freed slot wakes the schedulers a cut claim left waiting.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from 'lightsched/testing';
import { readIntervals, startLimitWorker, waitFinished } from '../support/limit-workers.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-gc-'));
let pg: PostgresServer;
const children = new Set<ChildProcess>();

beforeAll(async () => {
	pg = await startPostgres();
}, 120_000);
afterAll(async () => {
	for (const child of children) child.kill('SIGKILL');
	await pg?.stop();
	rmSync(dir, { recursive: true, force: true });
});

/** The most intervals open at once (an interval ending at t and one starting at t do not overlap). */
function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
	const events = intervals.flatMap((i) => [
		[i.start, 1],
		[i.end, -1],
	]);
	events.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
	let open = 0;
	let most = 0;
	for (const [, d] of events) {
		open += d as number;
		most = Math.max(most, open);
	}
	return most;
}

describe('SqlContainer globalConcurrency', () => {
	it('refuses a bad limit', () => {
		const knex = { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true };
		expect(() => new SqlContainer({ knex, globalConcurrency: 0 })).toThrow(/`globalConcurrency`/);
		expect(() => new SqlContainer({ knex, globalConcurrency: 1.5 })).toThrow(/`globalConcurrency`/);
	});

	it('concurrent claims from eight containers on PostgreSQL never take more than the limit', async () => {
		const connection = await pg.createDatabase(`gc_claims_${Date.now()}`);
		const knex = (): { client: string; connection: typeof connection } => ({ client: 'pg', connection });
		const containers = Array.from(
			{ length: 8 },
			() => new SqlContainer({ knex: knex(), tablePrefix: 'gc_', globalConcurrency: 5 }),
		);
		try {
			await containers[0]!.migrate();
			await containers[0]!.add(records(Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, item: i }))));
			let held: TaskRecord[] = [];
			for (let round = 0; round < 4; round++) {
				const got = await Promise.all(containers.map((c, i) => c.claim(3, `o${i}`, 60_000, Date.now())));
				held = held.concat(got.flat());
				const running = (await containers[0]!.list({ status: 'running', limit: 100 })).tasks.length;
				expect(running, `round ${round}`).toBe(held.length);
				// The limit is filled exactly: five at first, then the two freed slots each round.
				expect(held.length, `round ${round}`).toBe(5);
				for (const task of held.splice(0, 2)) {
					await containers[0]!.transition(
						task.id,
						'running',
						'succeeded',
						{ finishedAt: Date.now() },
						task.owner ?? undefined,
					);
				}
			}
		} finally {
			await Promise.all(containers.map((c) => c.close()));
		}
	}, 60_000);
});

describe.each([
	['PostgreSQL', 'pg' as const, 'sqlite3' as const],
	['SQLite', 'sqlite' as const, 'sqlite3' as const],
	// The synchronous driver: a process waiting for another's write lock waits on its event loop (busy_timeout).
	['SQLite through better-sqlite3', 'sqlite' as const, 'better-sqlite3' as const],
])('globalConcurrency across three processes on %s', (_label, kind, client) => {
	it('never runs more than the limit at once, and runs every task once', async () => {
		const name = `gcm_${kind}_`;
		const where =
			kind === 'pg' ? `${pg.url.replace(/\/postgres$/, '')}/gcm_${Date.now()}` : join(dir, `gc-${client}.sqlite`);
		if (kind === 'pg') await pg.createDatabase(where.split('/').pop() as string);
		const knex =
			kind === 'pg'
				? { client: 'pg', connection: where }
				: { client, connection: { filename: where }, useNullAsDefault: true };
		const container = new SqlContainer({ knex, tablePrefix: name });
		await container.migrate();
		const logs = [0, 1, 2].map((i) => join(dir, `gc-${kind}-${client}-${i}.log`));
		const workers = logs.map((log) =>
			startLimitWorker(
				{
					kind,
					client,
					where,
					name,
					concurrency: 3,
					workMs: 80,
					log,
					globalConcurrency: 2,
					// PostgreSQL: no polling to speak of, so a freed slot must wake the held-back schedulers.
					pollIntervalMs: kind === 'pg' ? 60_000 : 200,
				},
				children,
			),
		);
		try {
			await Promise.all(workers.map((w) => w.ready));
			const total = 30;
			await container.add(records(Array.from({ length: total }, (_, i) => ({ id: `g${i}`, item: i }))));
			await waitFinished(container, total);
			const intervals = readIntervals(logs);
			expect(intervals.size).toBe(total);
			expect([...intervals.values()].every((i) => i.starts === 1 && i.end >= i.start)).toBe(true);
			const most = maxOverlap([...intervals.values()]);
			console.log(`${kind}: at most ${most} tasks running at once (limit 2)`);
			expect(most).toBeLessThanOrEqual(2);
			expect((await container.list({ status: 'failed', limit: 10 })).tasks).toEqual([]);
		} finally {
			for (const w of workers) w.child.kill('SIGTERM');
			await container.close();
		}
	}, 90_000);
});
