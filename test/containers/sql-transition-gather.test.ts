/**
 * SqlContainer on PostgreSQL and SQLite (containers/sql/transitions.ts): transitions asked for in the event-loop turn
 * after a statement's reply go out together as one statement, each still its own compare-and-set (a task whose lease
 * was lost is refused on its own), while a lone transition with nothing on its way still runs at once. At
 * concurrency 16 the statements had alternated between 15 transitions and 1 (the first transition after a reply
 * went alone); on SQLite until 5 Dec 2026.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const backends: Record<string, SqlBackend> = {};
beforeAll(async () => {
	backends['PostgreSQL'] = await postgresBackend();
	backends['SQLite, better-sqlite3'] = sqliteBackend('better-sqlite3');
	backends['SQLite, sqlite3'] = sqliteBackend('sqlite3');
}, 120_000);
afterAll(() => Promise.all(Object.values(backends).map((backend) => backend.stop())));

/** The transition statements `c` sends from now on (batched, single, and either with a claim ahead in it). */
function transitionStatements(c: SqlContainer): string[] {
	const seen: string[] = [];
	c.knex.on('query', (q: { sql: string }) => {
		if (/^\s*(WITH [vw] \(|WITH u AS \(UPDATE|UPDATE \S+ SET status = \?)/.test(q.sql)) seen.push(q.sql);
	});
	return seen;
}

describe.each(['PostgreSQL', 'SQLite, better-sqlite3', 'SQLite, sqlite3'])(
	'SqlContainer transitions of one turn (%s)',
	(name) => {
		it('sends the transitions asked for in the turn after a reply as one statement, each compared on its own', async () => {
			const c = new SqlContainer({ knex: await (backends[name] as SqlBackend).freshDatabase() });
			try {
				await c.add(records(Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, item: i }))));
				const claimed = await c.claim(4, 'o', 30_000, Date.now());
				expect(claimed).toHaveLength(4);
				const statements = transitionStatements(c);
				// t0 alone (nothing on its way: at once); when its reply comes, t1 and t2 are asked for one by one in
				// that turn, and t3 with the wrong owner (a lost lease): one statement, t3 refused alone.
				const rest = await c.transition('t0', 'running', 'succeeded', DONE, 'o').then(() => {
					const first = c.transition('t1', 'running', 'succeeded', DONE, 'o');
					return Promise.resolve().then(() => [
						first,
						c.transition('t2', 'running', 'succeeded', DONE, 'o'),
						c.transition('t3', 'running', 'succeeded', DONE, 'someone else'),
					]);
				});
				const [t1, t2, t3] = await Promise.all(rest);
				expect(t1).toMatchObject({ status: 'succeeded' });
				expect(t2).toMatchObject({ status: 'succeeded' });
				expect(t3).toBeNull();
				expect(statements).toHaveLength(2);
				expect((await c.get('t3'))?.status).toBe('running');
			} finally {
				await c.close();
			}
		});

		it('runs a lone transition at once when nothing is on its way', async () => {
			const c = new SqlContainer({ knex: await (backends[name] as SqlBackend).freshDatabase() });
			try {
				await c.add(records([{ id: 'a', item: 0 }]));
				const [a] = await c.claim(1, 'o', 30_000, Date.now());
				const statements = transitionStatements(c);
				expect(await c.transition(a!.id, 'running', 'succeeded', DONE, 'o')).toMatchObject({
					status: 'succeeded',
				});
				expect(statements).toHaveLength(1);
			} finally {
				await c.close();
			}
		});
	},
);
