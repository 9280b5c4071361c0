/**
 * What the SQL container adds beyond the contract, on SQLite and on a real PostgreSQL: all-or-nothing adds,
 * migrations that run once however many containers start, table prefixes, option errors, the persistencer,
 * and the scheduler end to end.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateTaskError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlPersistencer } from 'lightsched/containers/sql';
import { SCHEMA_VERSION } from '../../containers/sql/schema.js';
import { claimAheadOff } from '../../containers/sql/claim-ahead.js';
import { records } from '../contracts/container.contract.js';
import { createKnex, sqlBackendPerSuite } from '../support/sql.js';

/** Every schema version, 1 to the newest. */
const allVersions = (): number[] => Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1);

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
	describe(`SqlContainer on ${kind}`, () => {
		const { backend, track, closeTracked } = sqlBackendPerSuite(kind);

		it('stores nothing when an add fails, even after rows of the batch were written', async () => {
			const c = track(new SqlContainer({ knex: await backend().freshDatabase() }));
			// `busy` stays waiting: no claim-ahead when `done` finishes (its claim came back full).
			claimAheadOff.add(c);
			await c.add(
				records([
					{ id: 'done', item: 1 },
					{ id: 'busy', item: 2 },
				]),
			);
			await c.claim(1, 'o', 10_000, Date.now());
			await c.transition('done', 'running', 'succeeded', { output: 'kept', finishedAt: 1, owner: null }, 'o');
			// 1,200 new tasks (several insert statements), then a finished id (deleted for re-run), then a waiting one.
			const batch = records([
				...Array.from({ length: 1_200 }, (_, i) => ({ id: `n${i}`, item: { i } })),
				{ id: 'done', item: 'again' },
				{ id: 'busy', item: 'again' },
			]);
			await expect(c.add(batch)).rejects.toBeInstanceOf(DuplicateTaskError);
			await expect(c.add(batch)).rejects.toThrow(/`busy`/);
			expect(await c.counts()).toMatchObject({ waiting: 1, succeeded: 1, running: 0 });
			expect(await c.get('n0')).toBeNull();
			expect(await c.get('done')).toMatchObject({ status: 'succeeded', output: 'kept', item: 1 });
			const bad = records(
				Array.from({ length: 800 }, (_, i) => ({ id: `b${i}`, item: i === 700 ? { f: new Map() } : i })),
			);
			await expect(c.add(bad)).rejects.toThrow(/tasks\[700\]\.item\.f/);
			await expect(
				c.add(
					records([
						{ id: 'ok', item: 1 },
						{ id: 'nul\u0000id', item: 1 },
					]),
				),
			).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', field: 'tasks[1].id' });
			expect((await c.list()).total).toBe(2);
		});

		it('keeps every compare-and-set of concurrent transitions (coalesced into one statement) separate', async () => {
			const c = track(new SqlContainer({ knex: await backend().freshDatabase() }));
			await c.add(records(Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, item: i }))));
			const now = Date.now();
			await c.claim(20, 'me', 10_000, now);
			await c.claim(20, 'other', 10_000, now);
			const statements: string[] = [];
			c.knex.on('query', (query: { sql: string }) => statements.push(query.sql));
			const results = await Promise.all([
				...Array.from({ length: 20 }, (_, i) =>
					c.transition(
						`t${i}`,
						'running',
						'succeeded',
						{ output: { i }, finishedAt: now + i, owner: null, leaseUntil: null },
						'me',
					),
				),
				// Owned by someone else: rejected.
				...Array.from({ length: 10 }, (_, i) =>
					c.transition(`t${20 + i}`, 'running', 'failed', { error: { message: 'x', code: 'E' } }, 'me'),
				),
				// Wrong status: rejected.
				c.transition('t30', 'waiting', 'stopped', {}),
				// Two for one task, in order: the second sees the first.
				c.transition('t31', 'running', 'running', { progress: 50, ref: { job: 7 } }, 'other'),
				c.transition(
					't31',
					'running',
					'waiting',
					{ runAt: now, owner: null, leaseUntil: null, stopRequested: false },
					'other',
				),
				c.transition('missing', 'running', 'succeeded', {}),
			]);
			expect(
				results
					.slice(0, 20)
					.map((t) => [t?.id, t?.status, t?.output, t?.finishedAt, t?.owner, t?.leaseUntil, t?.error]),
			).toEqual(Array.from({ length: 20 }, (_, i) => [`t${i}`, 'succeeded', { i }, now + i, null, null, null]));
			expect(results.slice(20, 31)).toEqual(Array.from({ length: 11 }, () => null));
			expect(results[31]).toMatchObject({
				id: 't31',
				status: 'running',
				progress: 50,
				ref: { job: 7 },
				owner: 'other',
			});
			expect(results[32]).toMatchObject({ id: 't31', status: 'waiting', progress: 50, owner: null, attempts: 1 });
			expect(results[33]).toBeNull();
			expect(await c.counts()).toMatchObject({ succeeded: 20, running: 19, waiting: 1 });
			expect(await c.get('t25')).toMatchObject({ status: 'running', owner: 'other', error: null });
			// 34 transitions took far fewer statements than that.
			expect(statements.filter((sql) => sql.startsWith('UPDATE') || sql.startsWith('WITH')).length).toBeLessThan(
				10,
			);
		});

		it('adds large batches in order and claims them in priority, then arrival, order', async () => {
			const c = track(new SqlContainer({ knex: await backend().freshDatabase() }));
			await c.add(records(Array.from({ length: 1_500 }, (_, i) => ({ id: `t${i}`, item: i, priority: i % 3 }))));
			const claimed = await c.claim(1_500, 'o', 10_000, Date.now());
			expect(claimed).toHaveLength(1_500);
			const expected = [2, 1, 0].flatMap((p) =>
				Array.from({ length: 1_500 }, (_, i) => i)
					.filter((i) => i % 3 === p)
					.map((i) => `t${i}`),
			);
			expect(claimed.map((t) => t.id)).toEqual(expected);
		});

		it('gives each task to exactly one claimer across separate connections (processes) on one database', async () => {
			const config = await backend().freshDatabase();
			const containers = [1, 2, 3].map(() => track(new SqlContainer({ knex: config })));
			const [first] = containers;
			await first?.add(records(Array.from({ length: 300 }, (_, i) => ({ id: `t${i}`, item: i }))));
			const seen = new Map<string, number>();
			await Promise.all(
				containers.flatMap((c, n) =>
					[0, 1].map(async (k) => {
						for (;;) {
							const batch = await c.claim(5, `owner-${n}-${k}`, 10_000, Date.now());
							if (batch.length === 0) return;
							// Finish each claimed task, interleaving writes of all connections.
							await Promise.all(
								batch.map((task) =>
									c.transition(
										task.id,
										'running',
										'succeeded',
										{ finishedAt: Date.now() },
										task.owner ?? '',
									),
								),
							);
							for (const task of batch) seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
						}
					}),
				),
			);
			expect(seen.size).toBe(300);
			expect([...seen.values()].every((times) => times === 1)).toBe(true);
			expect(await first?.counts()).toMatchObject({ succeeded: 300, waiting: 0, running: 0 });
		});

		it('migrates once however many containers start on one database, and upgrades nothing twice', async () => {
			const config = await backend().freshDatabase();
			const knex = createKnex(config);
			try {
				const [a, b, c] = [1, 2, 3].map(() => track(new SqlContainer({ knex })));
				await Promise.all([a, b, c].map((x) => x?.migrate()));
				await a?.add(records([{ id: 'x', item: 'from a' }]));
				expect(await b?.get('x')).toMatchObject({ item: 'from a' });
				const later = track(new SqlContainer({ knex }));
				expect((await later.claim(1, 'o', 1_000, Date.now())).map((t) => t.id)).toEqual(['x']);
				const versions = await knex('lightsched_migrations').select('version');
				expect(versions.map((v: { version: unknown }) => Number(v.version))).toEqual(allVersions());
			} finally {
				await closeTracked();
				await knex.destroy();
			}
		});

		it('upgrades tables of schema version 1 keeping their tasks; the pause and keys then work', async () => {
			const config = await backend().freshDatabase();
			const knex = createKnex(config);
			try {
				const old = track(new SqlContainer({ knex }));
				await old.add(records([{ id: 'kept', item: 'from version 1' }]));
				// Back to what lightsched 0.1 left: no settings table, version 1 only.
				await knex.raw('DROP TABLE lightsched_settings');
				await knex.raw('DROP TABLE lightsched_repeats');
				await knex.raw('DROP TABLE lightsched_logs');
				// SQLite's change trigger names every column (schema 8): it goes first, and the upgrade rebuilds it.
				if (kind === 'SQLite') await knex.raw('DROP TRIGGER IF EXISTS lightsched_changes_changed');
				await knex.raw('DROP INDEX lightsched_tasks_dedup');
				await knex.raw('ALTER TABLE lightsched_tasks DROP COLUMN dedup_key');
				await knex.raw('ALTER TABLE lightsched_tasks DROP COLUMN trace'); // schema 3
				await knex.raw('DELETE FROM lightsched_migrations WHERE version >= 2');
				const upgraded = track(new SqlContainer({ knex }));
				await upgraded.setPaused(true);
				expect(await upgraded.isPaused()).toBe(true);
				expect(await upgraded.claim(1, 'o', 1_000, Date.now())).toEqual([]);
				await upgraded.setPaused(false);
				expect((await upgraded.claim(1, 'o', 1_000, Date.now())).map((t) => t.item)).toEqual([
					'from version 1',
				]);
				const versions = await knex('lightsched_migrations').select('version').orderBy('version');
				expect(versions.map((v: { version: unknown }) => Number(v.version))).toEqual(allVersions());
			} finally {
				await closeTracked();
				await knex.destroy();
			}
		});

		it('refuses tables of a newer schema version than it knows, saying so', async () => {
			const config = await backend().freshDatabase();
			const first = track(new SqlContainer({ knex: config }));
			await first.migrate();
			await first.knex.raw(
				`INSERT INTO lightsched_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)`,
			);
			const older = track(new SqlContainer({ knex: config }));
			await expect(older.counts()).rejects.toMatchObject({
				code: 'ERR_CONTAINER',
				message: /schema version 99.*upgrade lightsched/,
			});
		});

		it('keeps containers with different table prefixes apart on one database', async () => {
			const config = await backend().freshDatabase();
			const knex = createKnex(config);
			try {
				const one = track(new SqlContainer({ knex, tablePrefix: 'one_' }));
				const two = track(new SqlContainer({ knex, tablePrefix: 'two_' }));
				await one.add(records([{ id: 'same', item: 1 }]));
				await two.add(
					records([
						{ id: 'same', item: 2 },
						{ id: 'other', item: 3 },
					]),
				);
				expect((await one.get('same'))?.item).toBe(1);
				expect((await two.get('same'))?.item).toBe(2);
				expect((await one.counts()).waiting).toBe(1);
				expect((await two.counts()).waiting).toBe(2);
				for (const table of [
					'one_tasks',
					'one_outputs',
					'one_migrations',
					'one_settings',
					'one_repeats',
					'two_tasks',
				])
					expect(await knex.schema.hasTable(table)).toBe(true);
				expect(await knex.schema.hasTable('lightsched_tasks')).toBe(false);
			} finally {
				await closeTracked();
				await knex.destroy();
			}
		});

		it('leaves a Knex instance it was given open on close', async () => {
			const knex = createKnex(await backend().freshDatabase());
			try {
				const c = new SqlContainer({ knex });
				await c.add(records([{ id: 'a', item: 1 }]));
				await c.close();
				await c.close();
				expect(Number((await knex('lightsched_tasks').count({ n: '*' }))[0]?.['n'])).toBe(1);
			} finally {
				await knex.destroy();
			}
		});

		it('stores outputs with SqlPersistencer, in its own table or in the task row', async () => {
			const config = await backend().freshDatabase();
			const c = track(new SqlContainer({ knex: config }));
			await c.add(records([{ id: 'a', item: 1 }]));
			const [task] = await c.claim(1, 'o', 10_000, Date.now());
			if (task === undefined) throw new Error('not claimed');
			const table = new SqlPersistencer({ container: c });
			await table.persist(task, { rows: [1, 2], note: 'ok' });
			expect(await table.get('a')).toEqual({ rows: [1, 2], note: 'ok' });
			await table.persist(task, 'replaced');
			expect(await table.get('a')).toBe('replaced');
			expect(await table.get('missing')).toBeNull();
			await table.delete('a');
			expect(await table.get('a')).toBeNull();
			await expect(table.persist(task, { when: new Date() })).rejects.toMatchObject({
				code: 'ERR_PERSIST',
				message: /output\.when/,
			});

			const row = new SqlPersistencer({ container: c, inTaskRow: true });
			await row.persist(task, [3, 4]);
			expect(await row.get('a')).toEqual([3, 4]);
			expect((await c.get('a'))?.output).toEqual([3, 4]);
			await row.delete('a');
			expect((await c.get('a'))?.output).toBeNull();
			await expect(row.persist({ ...task, id: 'nope' }, 1)).rejects.toMatchObject({ code: 'ERR_PERSIST' });
			await row.close();
			await table.close();
			// A persistencer with a connection of its own sees the same tables.
			const own = track(new SqlPersistencer({ knex: config }));
			await own.persist(task, 'mine');
			expect(await new SqlPersistencer({ container: c }).get('a')).toBe('mine');
		});

		if (kind === 'SQLite') {
			it('opens SQLite files in WAL mode with the busy timeout and synchronous level asked for', async () => {
				const c = track(
					new SqlContainer({
						knex: await backend().freshDatabase(),
						busyTimeoutMs: 1234,
						synchronous: 'FULL',
					}),
				);
				await c.migrate();
				const value = async (pragma: string): Promise<unknown> =>
					Object.values(((await c.knex.raw(`PRAGMA ${pragma}`)) as Record<string, unknown>[])[0] ?? {})[0];
				expect(await value('journal_mode')).toBe('wal');
				expect(await value('busy_timeout')).toBe(1234);
				expect(await value('synchronous')).toBe(2);
			});
		}

		it('rejects bad options with errors naming the field', () => {
			expect(
				() =>
					new SqlContainer({
						knex: { client: 'sqlite3', connection: ':memory:' },
						tablePrefix: 'bad-prefix',
					}),
			).toThrow(/tablePrefix/);
			expect(() => new SqlContainer({ knex: { client: 'mysql2', connection: {} } })).toThrow(
				/knex\.client.*'sqlite3', 'better-sqlite3' or 'pg'/,
			);
			expect(() => new SqlContainer({ knex: undefined as never })).toThrow(/knex/);
			expect(() => new SqlContainer({ knex: { client: 'sqlite3' }, busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
			expect(() => new SqlPersistencer({})).toThrow(/container.*knex/);
		});

		it('rejects misspelt option names, naming the closest known one', () => {
			const knex = { client: 'sqlite3', connection: ':memory:' } as const;
			expect(() => new SqlContainer({ knex, tablePrefx: 'x_' } as never)).toThrow(
				'Unknown option `tablePrefx` of SqlContainer: did you mean `tablePrefix`?',
			);
			expect(() => new SqlContainer({ knex, busyTimeout: 10 } as never)).toThrow(
				/`busyTimeout` of SqlContainer: did you mean `busyTimeoutMs`/,
			);
			expect(() => new SqlContainer({ knex, notifyProbe: { intervalMS: 10 } } as never)).toThrow(
				/`intervalMS`.*did you mean `intervalMs`/,
			);
			expect(() => new SqlContainer({ knex, clock: 'local' as never })).toThrow(
				/Expected `clock` to be 'server' or 'caller', got "local"/,
			);
			expect(() => new SqlPersistencer({ knex, inTaskRows: true } as never)).toThrow(
				'Unknown option `inTaskRows` of SqlPersistencer: did you mean `inTaskRow`?',
			);
		});

		it('runs 200 tasks end to end through the scheduler, outputs readable from the persistencer', async () => {
			const container = new SqlContainer({ knex: await backend().freshDatabase() });
			const persistencer = new SqlPersistencer<{ double: number }>({ container });
			const scheduler = new Scheduler({
				container,
				persistencer,
				concurrency: 8,
				actuator: new FunctionActuator(async (n: number) => ({ double: n * 2 })),
			});
			try {
				await scheduler.add(
					Array.from({ length: 200 }, (_, i) => ({ id: `job-${i}`, item: i, priority: i % 2 })),
				);
				await scheduler.onIdle();
				expect(await scheduler.counts()).toMatchObject({ succeeded: 200, waiting: 0, running: 0, failed: 0 });
				expect(await persistencer.get('job-21')).toEqual({ double: 42 });
				expect(await scheduler.get('job-199')).toMatchObject({
					status: 'succeeded',
					attempts: 1,
					output: { double: 398 },
				});
			} finally {
				await scheduler.close();
			}
		});

		if (kind === 'PostgreSQL') {
			it('shares the work between two schedulers, each task run once', async () => {
				const config = await backend().freshDatabase();
				const runs = new Map<number, number>();
				const make = (): Scheduler<number, number> =>
					new Scheduler<number, number>({
						container: new SqlContainer({ knex: config }),
						concurrency: 4,
						actuator: new FunctionActuator(async (n: number) => {
							runs.set(n, (runs.get(n) ?? 0) + 1);
							await new Promise((resolve) => setTimeout(resolve, 2));
							return n;
						}),
					});
				const [a, b] = [make(), make()];
				try {
					await a.add(Array.from({ length: 200 }, (_, i) => ({ item: i })));
					await Promise.all([a.onIdle(), b.onIdle()]);
					expect(await a.counts()).toMatchObject({ succeeded: 200 });
					expect(runs.size).toBe(200);
					expect([...runs.values()].every((count) => count === 1)).toBe(true);
				} finally {
					await a.close();
					await b.close();
				}
			});
		}
	});
}
