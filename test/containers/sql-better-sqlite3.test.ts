/**
 * better-sqlite3's direct path (containers/sql/direct-sqlite.ts): the container's statements skip knex's query
 * building but still take the one connection from knex's pool (so never run inside a knex transaction of someone
 * else's) and still show in knex's query events.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { directSqlite, rowMaker } from '../../containers/sql/direct-sqlite.js';
import { records } from '../contracts/container.contract.js';
import { sqliteBackend } from '../support/sql.js';

const backend = sqliteBackend('better-sqlite3');
const open: SqlContainer[] = [];
afterEach(async () => {
	await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(() => backend.stop());

async function fresh(): Promise<SqlContainer> {
	const c = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
	open.push(c);
	return c;
}

describe('SqlContainer through better-sqlite3, direct statements', () => {
	it("waits for a knex transaction holding the connection instead of running inside it (a rollback keeps the claim's view)", async () => {
		const c = await fresh();
		await c.add(records([{ id: 'a', item: 1 }]));
		// A statement of the container's first, so the connection is known to it before the transaction takes it.
		expect(await c.isPaused()).toBe(false);
		let claim: Promise<unknown> | undefined;
		let claimSettledInside = false;
		await c.knex
			.transaction(async (trx) => {
				await trx.raw(`UPDATE lightsched_tasks SET status = 'stopped' WHERE id = 'a'`);
				claim = c.claim(1, 'me', 10_000, Date.now());
				void claim.then(() => (claimSettledInside = true));
				// Give a claim that ran inside this transaction every chance to finish first.
				await new Promise((resolve) => setTimeout(resolve, 50));
				expect(claimSettledInside).toBe(false);
				throw new Error('roll back');
			})
			.catch((error: unknown) => expect((error as Error).message).toBe('roll back'));
		const claimed = (await claim) as { id: string; status: string }[];
		expect(claimed.map((t) => [t.id, t.status])).toEqual([['a', 'running']]);
		expect((await c.get('a'))?.status).toBe('running');
	});

	it("shows the container's statements in knex's query events", async () => {
		const c = await fresh();
		await c.add(records([{ id: 'a', item: 1 }]));
		const seen: string[] = [];
		c.knex.on('query', (query: { sql: string }) => seen.push(query.sql));
		const now = Date.now();
		await c.claim(1, 'me', 10_000, now);
		await c.transition('a', 'running', 'succeeded', { output: 1, finishedAt: now }, 'me');
		expect(seen.some((sql) => sql.includes("SET status = 'running'"))).toBe(true);
		expect(seen.some((sql) => sql.startsWith('UPDATE') && sql.includes('status = ?'))).toBe(true);
	});

	it('names the statement and keeps the driver error code when SQLite refuses one', async () => {
		const c = await fresh();
		await c.add(records([{ id: 'a', item: 1 }]));
		await c.knex.raw('DROP TABLE lightsched_tasks');
		const error = await c.claim(1, 'me', 10_000, Date.now()).then(
			() => null,
			(e: unknown) => e as Error & { cause?: { code?: unknown; message?: unknown } },
		);
		expect(error?.cause?.code).toMatch(/^SQLITE_/);
		expect(String(error?.cause?.message)).toMatch(/^(SELECT|UPDATE) .* - no such table: lightsched_tasks/s);
	});
});

describe('SqlContainer on SQLite, the claim prepared once', () => {
	it('writes the claim size into the claim statement (a bound LIMIT made SQLite compile it again on every run) and claims exactly that many, in priority order', async () => {
		const c = await fresh();
		await c.add(
			records(
				Array.from({ length: 30 }, (_, i) => ({
					id: `t${String(i).padStart(2, '0')}`,
					item: i,
					priority: i % 3,
				})),
			),
		);
		const claims: { sql: string; bindings: unknown[] }[] = [];
		c.knex.on('query', (query: { sql: string; bindings: unknown[] }) => {
			if (query.sql.includes("SET status = 'running'")) claims.push(query);
		});
		const got: string[][] = [];
		for (const size of [1, 3, 16, 3]) {
			const claimed = await c.claim(size, 'me', 10_000, Date.now());
			got.push(claimed.map((t) => t.id));
		}
		expect(got.map((ids) => ids.length)).toEqual([1, 3, 16, 3]);
		expect(new Set(got.flat()).size).toBe(23);
		// Priority 2 first (t02, t05, …, ten of them), then priority 1, each in the order added.
		expect(got.flat().slice(0, 11)).toEqual([
			't02',
			't05',
			't08',
			't11',
			't14',
			't17',
			't20',
			't23',
			't26',
			't29',
			't01',
		]);
		expect(claims.map((q) => /LIMIT (\S+)\)/.exec(q.sql)?.[1])).toEqual(['1', '3', '16', '3']);
		// The same text for the same size: one prepared statement per size.
		expect(claims[1]?.sql).toBe(claims[3]?.sql);
		expect(claims.every((q) => q.bindings.length === 6)).toBe(true);
	});
});

describe('better-sqlite3 rows made from the driver raw values (direct-sqlite.ts)', () => {
	it('names every value by its column, also after a schema change moved the columns (a statement prepared again)', async () => {
		// A container's own knex keeps prepared statements by their text, shared by knex's queries and the direct path.
		const c = new SqlContainer({
			knex: { client: 'better-sqlite3', connection: { filename: ':memory:' } },
			notify: false,
		});
		const knex = c.knex;
		try {
			await knex.raw('CREATE TABLE t (a INTEGER, b TEXT, c TEXT)');
			await knex.raw(`INSERT INTO t VALUES (1, 'b1', 'c1'), (2, 'b2', 'c2')`);
			const run = directSqlite(knex)?.run ?? null;
			if (run === null) throw new Error('expected the direct path for better-sqlite3');
			const sql = 'SELECT * FROM t ORDER BY a';
			expect(await run(sql, [])).toEqual([
				{ a: 1, b: 'b1', c: 'c1' },
				{ a: 2, b: 'b2', c: 'c2' },
			]);
			await knex.raw('ALTER TABLE t DROP COLUMN b');
			expect(await run(sql, [])).toEqual([
				{ a: 1, c: 'c1' },
				{ a: 2, c: 'c2' },
			]);
			// knex's own query of the same text still gets objects (the statement is raw only inside the direct path).
			expect(await knex.raw(sql)).toEqual([
				{ a: 1, c: 'c1' },
				{ a: 2, c: 'c2' },
			]);
			expect(await run('UPDATE t SET c = ? WHERE a = ? RETURNING a, c AS a', ['x', 1])).toEqual([{ a: 'x' }]);
		} finally {
			await c.close();
		}
	});

	it('makes own properties of any column name, `__proto__` included', () => {
		const row = rowMaker(['x', '__proto__', 'constructor'])([1, 2, 3]);
		expect(Object.keys(row)).toEqual(['x', '__proto__', 'constructor']);
		expect(row['__proto__']).toBe(2);
		expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
	});
});
