/**
 * The `sqlite3` driver's direct path (containers/sql/direct-sqlite3.ts): the container's statements are prepared
 * once per connection and kept (knex had the driver prepare each anew), and the kept statements are finalized before
 * the connection closes (the driver refuses to close a connection with statements not finalized).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
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
		await c.add(records(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, item: i }))));
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
		const claims = prepared.filter((sql) => sql.includes("SET status = 'running'"));
		expect(claims).toHaveLength(1);
		await c.close();
		expect(closed).toEqual([null]);
	});
});
