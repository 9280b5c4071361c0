/**
 * SqlWorkflowStore on SQLite through the `better-sqlite3` driver: the store's contract (a unique key taken is a
 * `DuplicateRunError` there too: that driver's constraint errors carry the extended code `SQLITE_CONSTRAINT_UNIQUE`),
 * and runs on a container with the store sharing its connection, whose run writes, releases and creates take the
 * container's direct path (containers/sql/direct-sqlite.ts) as its own statements do, not knex's query builder.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { sqliteBackend } from '../support/sql.js';
import { makeFlows } from './fixture.js';
import { workflowStoreContract } from './store.contract.js';

const sqlite = sqliteBackend('better-sqlite3');
afterAll(() => sqlite.stop());

workflowStoreContract(
	'SqlWorkflowStore on SQLite (better-sqlite3)',
	async () => new SqlWorkflowStore({ knex: await sqlite.freshDatabase() }),
);

describe('SqlWorkflowStore on a better-sqlite3 SqlContainer', () => {
	it('runs chains to the end, its run writes and creates on the direct path', async () => {
		const container = new SqlContainer({ knex: await sqlite.freshDatabase() });
		/** The store's statements on its runs table, and whether knex's query builder ran them (its query ids). */
		const seen: { sql: string; knex: boolean }[] = [];
		/** knex transactions begun once the tables are made. */
		let begun = 0;
		let migrated = false;
		container.knex.on('query', (query: { sql: string; __knexQueryUid?: string }) => {
			if (migrated && /^\s*BEGIN/i.test(query.sql)) begun++;
			if (/^\s*(UPDATE|INSERT INTO|WITH)\b/i.test(query.sql) && query.sql.includes('lightsched_wf_runs'))
				seen.push({ sql: query.sql, knex: query.__knexQueryUid !== undefined });
		});
		const store = new SqlWorkflowStore({ container });
		await container.migrate();
		await store.migrate();
		migrated = true;
		const setup = makeFlows(container, { noop: () => null }, { store });
		try {
			setup.flows.define({
				name: 'chain',
				steps: Array.from({ length: 4 }, (_, i) => ({
					id: `s${i}`,
					action: 'noop',
					...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
				})),
			});
			const runs = await Promise.all(Array.from({ length: 12 }, () => setup.flows.start('chain')));
			for (const run of runs) expect((await setup.flows.wait(run.id)).status).toBe('succeeded');
			const creates = seen.filter((s) => /^\s*INSERT INTO/i.test(s.sql));
			expect(creates.length).toBeGreaterThan(0);
			expect(creates.filter((s) => s.knex)).toEqual([]);
			// The writes outside a release transaction (the last write of each run releases no task).
			expect(seen.filter((s) => /^\s*(UPDATE|WITH)/i.test(s.sql) && !s.knex).length).toBeGreaterThan(0);
			// The releases too: each one transaction on the connection (its UPDATE and task INSERT, one event), no
			// knex transaction, none of its statements through knex's query path.
			const releases = seen.filter((s) => s.sql.includes('INSERT INTO "lightsched_tasks"'));
			expect(releases.length).toBeGreaterThan(0);
			expect(seen.filter((s) => s.knex)).toEqual([]);
			expect(begun).toBe(0);
		} finally {
			await setup.close();
			await container.close();
		}
	});
});
