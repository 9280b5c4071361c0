/**
 * Schema 8: on SQLite a final change in the change log carries the task's whole row (`record`), as PostgreSQL's
 * always did, so a follower in another process gets the final record even when the task was deleted right after it
 * finished (`NewTask.retention` of 0). SQLite has no `row_to_json`: the trigger names each column, so this test
 * also holds it to the tasks table's columns (a later schema that adds a column must rebuild the trigger).
 */
import type { Knex } from 'knex';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { createKnex, sqliteBackend, type SqlBackend } from '../support/sql.js';

describe('SqlContainer on SQLite: final records in the change log (schema 8)', () => {
	let backend: SqlBackend;
	const opened: { close(): Promise<void> }[] = [];
	const knexes: Knex[] = [];
	beforeAll(() => {
		backend = sqliteBackend();
	});
	afterEach(async () => {
		for (const part of opened.splice(0)) await part.close();
		for (const knex of knexes.splice(0)) await knex.destroy();
	});
	afterAll(() => backend?.stop());

	async function open(config?: Knex.Config): Promise<{ c: SqlContainer; knex: Knex; config: Knex.Config }> {
		const cfg = config ?? (await backend.freshDatabase());
		const knex = createKnex(cfg);
		knexes.push(knex);
		const c = new SqlContainer({ knex, clock: 'caller' });
		opened.push(c);
		await c.migrate();
		return { c, knex, config: cfg };
	}

	it('the trigger names every column of the tasks table', async () => {
		const { knex } = await open();
		const columns = (
			(await knex.raw(`SELECT name FROM pragma_table_info('lightsched_tasks')`)) as { name: string }[]
		)
			.map((row) => row.name)
			.sort();
		const trigger = (
			(await knex.raw(
				`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'lightsched_changes_changed'`,
			)) as {
				sql: string;
			}[]
		)[0]?.sql;
		const named = [...(trigger ?? '').matchAll(/'([a-z_]+)', NEW\.([a-z_]+)/g)].map((m) => {
			expect(m[1]).toBe(m[2]);
			return m[1] as string;
		});
		expect(named.sort()).toEqual(columns);
	});

	it('a follower reads the final record of a task deleted right after it finished', async () => {
		const { c } = await open();
		const start = await c.readChanges?.({ after: null, limit: 10, waitMs: 0 });
		expect(start?.next).toBeDefined();
		const now = Date.now();
		await c.add(
			records([{ id: 'gone', item: { n: 1 }, key: 'k1', group: 'g1', retention: { succeeded: 0 } }], now),
		);
		await c.claim(1, 'o', 10_000, now);
		await c.transition(
			'gone',
			'running',
			'succeeded',
			{ finishedAt: now, output: { ok: true }, owner: null, leaseUntil: null },
			'o',
		);
		expect(await c.clean?.({ status: 'succeeded', expiredBy: now, limit: 10 })).toEqual(['gone']);
		expect(await c.get('gone')).toBeNull();
		const page = await c.readChanges?.({ after: start?.next ?? null, limit: 100, waitMs: 0 });
		const final = page?.changes.find((change) => change.type === 'succeeded');
		expect(final?.record).toMatchObject({
			id: 'gone',
			status: 'succeeded',
			item: { n: 1 },
			output: { ok: true },
			key: 'k1',
			group: 'g1',
			retention: { succeeded: 0 },
			finishedAt: now,
			attempts: 1,
			stopRequested: false,
		});
		// Changes that are not final carry no record.
		expect(page?.changes.filter((change) => change.record !== undefined).map((change) => change.type)).toEqual([
			'succeeded',
		]);
	});

	it('upgrades a version-7 database and runs version 8 again over its own result', async () => {
		const { knex, config } = await open();
		await knex.raw('DROP TRIGGER lightsched_changes_changed');
		await knex.raw('ALTER TABLE lightsched_changes DROP COLUMN record');
		await knex.raw('DELETE FROM lightsched_migrations WHERE version >= 8');
		const { knex: again } = await open(config);
		const columns = (
			(await again.raw(`SELECT name FROM pragma_table_info('lightsched_changes')`)) as { name: string }[]
		).map((row) => row.name);
		expect(columns).toContain('record');
		await again.raw('DELETE FROM lightsched_migrations WHERE version >= 8');
		const { c } = await open(config);
		expect(await c.get('none')).toBeNull();
	});
});
