/**
 * Schema version 7 of the SQL container (per-task retention rules, `retain_<status>` columns and the
 * `tasks_retained` index), on SQLite and PostgreSQL: a version-5 database is upgraded keeping its tasks (which get no
 * rule), the migration runs again over its own result (as versions 4 to 6 do), and the rules are stored and
 * selected by `clean` afterwards. The contract's clean cases run in sql.test.ts.
 */
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { SCHEMA_VERSION } from '../../containers/sql/schema.js';
import { records } from '../contracts/container.contract.js';
import { createKnex, sqlBackendPerSuite } from '../support/sql.js';

async function versions(knex: Knex): Promise<number[]> {
	const rows = (await knex('lightsched_migrations').select('version').orderBy('version')) as { version: unknown }[];
	return rows.map((row) => Number(row.version));
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
	describe(`SqlContainer on ${kind}: schema 7, per-task retention`, () => {
		const { backend, track } = sqlBackendPerSuite(kind);

		async function open(knex?: Knex): Promise<{ c: SqlContainer; knex: Knex }> {
			const k = knex ?? track(createKnex(await backend().freshDatabase()));
			const c = new SqlContainer({ knex: k, clock: 'caller' });
			track(c);
			await c.migrate();
			return { c, knex: k };
		}

		it('upgrades a version-6 database keeping its tasks (with no rule), then stores and expires rules', async () => {
			const { c, knex } = await open();
			expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(7);
			await c.add(records([{ id: 'old', item: 'from version 6' }]));
			// Back to version 6: no retain_ columns, no tasks_retained index.
			// SQLite's change trigger names every column (schema 8): it goes first, and the upgrade rebuilds it.
			if (kind === 'SQLite') await knex.raw('DROP TRIGGER IF EXISTS lightsched_changes_changed');
			await knex.raw('DROP INDEX lightsched_tasks_retained');
			for (const status of ['succeeded', 'failed', 'stopped']) {
				await knex.raw(`ALTER TABLE lightsched_tasks DROP COLUMN retain_${status}`);
			}
			await knex.raw('DELETE FROM lightsched_migrations WHERE version >= 7');
			const { c: upgraded } = await open(knex);
			expect(await versions(knex)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
			expect(await upgraded.get('old')).toMatchObject({ item: 'from version 6', retention: null });
			await upgraded.add(records([{ id: 'ruled', item: 2, retention: { succeeded: 0, stopped: 9 } }]));
			expect(await upgraded.get('ruled')).toMatchObject({ retention: { succeeded: 0, stopped: 9 } });
			const now = Date.now();
			expect((await upgraded.claim(2, 'o', 10_000, now)).map((t) => t.id)).toEqual(['old', 'ruled']);
			for (const id of ['old', 'ruled']) {
				await upgraded.transition(
					id,
					'running',
					'succeeded',
					{ finishedAt: now, owner: null, leaseUntil: null },
					'o',
				);
			}
			expect(await upgraded.clean({ status: 'succeeded', expiredBy: now, limit: 10 })).toEqual(['ruled']);
			expect(await upgraded.clean({ status: 'succeeded', exceptOwnRule: true, limit: 10 })).toEqual(['old']);
		});

		it('runs version 7 again over its own result, keeping the rules', async () => {
			const { c, knex } = await open();
			await c.add(records([{ id: 'ruled', item: 1, retention: { failed: 60_000 } }]));
			await knex.raw('DELETE FROM lightsched_migrations WHERE version >= 7');
			const { c: again } = await open(knex);
			expect(await versions(knex)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
			expect(await again.get('ruled')).toMatchObject({ retention: { failed: 60_000 } });
		});
	});
}
