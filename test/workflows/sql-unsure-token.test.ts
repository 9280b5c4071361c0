/**
 * SqlWorkflowStore's create token (`create_token`, see `SqlWorkflowStore.create`) on a database whose run table was
 * made before the column: the store adds the column on first use, keeps the runs stored before it, and a create of
 * an id such a run holds is refused as any other; on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlWorkflowStore } from 'lightsched/containers/sql';
import { DuplicateRunError } from 'lightsched/workflows';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { sampleRun } from './store.contract.js';

const sqlite = sqliteBackend();
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await postgres?.stop();
});

describe.each(['SQLite', 'PostgreSQL'] as const)(
	'SqlWorkflowStore on %s: a run table made before create_token',
	(backend) => {
		it('gets the column on first use; its old runs stay, and their ids stay taken', async () => {
			const knex = await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase();
			const old = new SqlWorkflowStore({ knex });
			await old.create(sampleRun({ id: 'before' }));
			// The table as an earlier version made it.
			await old.knex.raw('ALTER TABLE lightsched_wf_runs DROP COLUMN create_token');
			await old.close();
			const store = new SqlWorkflowStore({ knex });
			try {
				expect((await store.get('before'))?.id).toBe('before');
				await store.create(sampleRun({ id: 'after' }));
				const tokens = (await store.knex('lightsched_wf_runs').select('id', 'create_token').orderBy('id')) as {
					id: string;
					create_token: string | null;
				}[];
				expect(tokens.map((row) => [row.id, row.create_token === null ? null : 'token'])).toEqual([
					['after', 'token'],
					['before', null],
				]);
				await expect(store.create(sampleRun({ id: 'before' }))).rejects.toBeInstanceOf(DuplicateRunError);
				await expect(store.create(sampleRun({ id: 'after' }))).rejects.toBeInstanceOf(DuplicateRunError);
			} finally {
				await store.close();
			}
		});
	},
);
