/**
 * The `sqlite3` driver's direct path (containers/sql/direct-sqlite3.ts): the container's statements are prepared
 * once per connection and kept (knex had the driver prepare each anew), and the kept statements are finalized before
 * the connection closes (the driver refuses to close a connection with statements not finalized); a `RETURNING *`
 * statement's rows come back as one JSON text a row once a row told its columns (json-returning.ts), the values
 * as the driver gives them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { directSqlite3 } from '../../containers/sql/direct-sqlite3.js';
import { records } from '../contracts/container.contract.js';
import { DONE, sqliteBackend } from '../support/sql.js';

const backend = sqliteBackend('sqlite3');
afterAll(() => backend.stop());

interface Connection {
	prepare(sql: string): unknown;
	close(callback: (error: Error | null) => void): unknown;
}

describe('SqlContainer through sqlite3, statements kept', () => {
	it('prepares a statement once for its runs, and closes its connection cleanly', async () => {
		const c = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
		await c.add(records(Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, item: i }))));
		const client = c.knex.client as {
			acquireConnection(): Promise<Connection>;
			releaseConnection(c: Connection): Promise<unknown>;
		};
		const connection = await client.acquireConnection();
		const prepared: string[] = [];
		const prepare = connection.prepare.bind(connection);
		connection.prepare = (sql: string) => {
			prepared.push(sql);
			return prepare(sql);
		};
		const closed: (Error | null)[] = [];
		const close = connection.close.bind(connection);
		connection.close = (callback) =>
			close((error) => {
				closed.push(error);
				callback(error);
			});
		await client.releaseConnection(connection);
		for (const owner of ['a', 'b', 'c']) {
			const [task] = await c.claim(2, owner, 30_000, Date.now());
			expect(task).toBeDefined();
			await c.transition(task!.id, 'running', 'succeeded', DONE, owner);
		}
		// As written for the first claim, then with its rows as JSON (json-returning.ts): each text prepared once.
		const claims = prepared.filter((sql) => sql.includes("SET status = 'running'"));
		expect(claims).toHaveLength(2);
		expect(claims[0]).toMatch(/RETURNING \*$/);
		expect(claims[1]).toContain('RETURNING json_array(');
		await c.close();
		expect(closed).toEqual([null]);
	});

	it('returns the rows of a RETURNING * statement as JSON after the first, every value as the driver gives it', async () => {
		const c = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
		await c.migrate();
		await c.knex.raw('CREATE TABLE side (id TEXT PRIMARY KEY, r REAL, i INTEGER, t TEXT, b BLOB, n TEXT)');
		await c.knex.raw('INSERT INTO side VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)', [
			'a',
			0.1 + 0.2,
			2 ** 53 - 1,
			'quote " back \\ line\n tab\t é 😀 \u0001',
			Buffer.from([0, 1, 254, 255]),
			null,
			'b',
			1733443200000.123,
			-7,
			'{"x": [1, 2]}',
			Buffer.alloc(0),
			null,
		]);
		const run = directSqlite3(c.knex);
		expect(run).not.toBeNull();
		const sql = 'UPDATE side SET i = i RETURNING *';
		const expected = (await c.knex.raw('SELECT * FROM side')) as Record<string, unknown>[];
		const client = c.knex.client as {
			acquireConnection(): Promise<Connection>;
			releaseConnection(c: Connection): Promise<unknown>;
		};
		const connection = await client.acquireConnection();
		const prepared: string[] = [];
		const prepare = connection.prepare.bind(connection);
		connection.prepare = (text: string) => {
			prepared.push(text);
			return prepare(text);
		};
		await client.releaseConnection(connection);
		const byId = (rows: Record<string, unknown>[]) =>
			[...rows].sort((x, y) => String(x['id']).localeCompare(String(y['id'])));
		for (let i = 0; i < 3; i++) expect(byId(await run!(sql, []))).toEqual(byId(expected));
		// The same row shape as the driver's: own properties in column order.
		const [row] = await run!(sql, []);
		expect(Object.keys(row!)).toEqual(['id', 'r', 'i', 't', 'b', 'n']);
		expect(prepared).toHaveLength(2);
		expect(prepared[0]).toBe(sql);
		expect(prepared[1]).toContain('RETURNING json_array(');
		await c.close();
	});

	it('returns as text a column the statement set from a JSON function (SQLite 3.40 hands RETURNING its JSON subtype)', async () => {
		// Debian's SQLite 3.40.1, which `sqlite3` is built against here, lets RETURNING see the value the SET made,
		// with json_object's JSON subtype: json_array() then embedded it as an object instead of its text, and the row
		// came back with a zero-length Buffer for it (the lease reclaim's `error`; found by the model test).
		const c = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
		await c.migrate();
		await c.knex.raw('CREATE TABLE side (id TEXT PRIMARY KEY, n INTEGER, e TEXT)');
		await c.knex.raw("INSERT INTO side VALUES ('a', 0, NULL)");
		const run = directSqlite3(c.knex);
		const sql = "UPDATE side SET n = n + 1, e = json_object('n', n + 1, 'id', id) RETURNING *";
		const seen: unknown[] = [];
		// The first run learns the columns through the driver's rows; the next ones come back as JSON.
		for (let i = 0; i < 3; i++) seen.push(((await run!(sql, [])) as Record<string, unknown>[])[0]?.['e']);
		expect(seen).toEqual(['{"n":1,"id":"a"}', '{"n":2,"id":"a"}', '{"n":3,"id":"a"}']);
		await c.close();
	});

	it("keeps a claimed task's fractional run_at exact (a REAL, which SQLite's JSON writes with 15 digits)", async () => {
		const c = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
		const runAt = Date.now() - 60_000 + 0.123;
		await c.add(
			records([
				{ id: 'a', item: 1, runAt },
				{ id: 'b', item: 2, runAt: runAt + 0.0001 },
			]),
		);
		const first = await c.claim(1, 'o', 30_000, Date.now());
		const second = await c.claim(1, 'o', 30_000, Date.now());
		expect([first[0]?.runAt, second[0]?.runAt]).toEqual([runAt, runAt + 0.0001]);
		await c.close();
	});
});
