/**
 * SqlWorkflowStore on SQLite through the `better-sqlite3` driver: the store's contract (a unique key taken is a
 * `DuplicateRunError` there too: that driver's constraint errors carry the extended code `SQLITE_CONSTRAINT_UNIQUE`).
 */
import { afterAll } from 'vitest';
import { SqlWorkflowStore } from 'lightsched/containers/sql';
import { sqliteBackend } from '../support/sql.js';
import { workflowStoreContract } from './store.contract.js';

const sqlite = sqliteBackend('better-sqlite3');
afterAll(() => sqlite.stop());

workflowStoreContract(
	'SqlWorkflowStore on SQLite (better-sqlite3)',
	async () => new SqlWorkflowStore({ knex: await sqlite.freshDatabase() }),
);
