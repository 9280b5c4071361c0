/** The container contract on SQLite files and on a real PostgreSQL server, plus PostgreSQL's wake-up channel. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSignal } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { describeContainerContract, records } from '../contracts/container.contract.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const sqlite = sqliteBackend();
const betterSqlite = sqliteBackend('better-sqlite3');
afterAll(() => Promise.all([sqlite.stop(), betterSqlite.stop()]));

describeContainerContract(
	'SqlContainer (SQLite)',
	async () => new SqlContainer({ knex: await sqlite.freshDatabase() }),
	{
		priority: true,
		json: true,
		operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	},
);

// The same files through the synchronous better-sqlite3 driver (prepared statements kept per connection).
describeContainerContract(
	'SqlContainer (SQLite through better-sqlite3)',
	async () => new SqlContainer({ knex: await betterSqlite.freshDatabase() }),
	{
		priority: true,
		json: true,
		operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
	},
);

describe('SqlContainer on PostgreSQL', () => {
	let pg: SqlBackend;
	let shared: Awaited<ReturnType<SqlBackend['freshDatabase']>>;
	let n = 0;
	beforeAll(async () => {
		pg = await postgresBackend();
		shared = await pg.freshDatabase();
	});
	afterAll(() => pg?.stop());

	// One database, a fresh table prefix per container: also shows that prefixes keep containers apart. The
	// contract controls time through the `now` arguments, so it runs on the caller's clock; the server's clock
	// (the default) is tested in sql-clock.test.ts.
	describeContainerContract(
		'SqlContainer (PostgreSQL)',
		() => new SqlContainer({ knex: shared, tablePrefix: `c${++n}_`, clock: 'caller' }),
		{
			priority: true,
			json: true,
			operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
		},
	);

	describe('wake-up channel (LISTEN/NOTIFY)', () => {
		/** Records signals; `next` resolves with the first recorded (or next arriving) one that matches. */
		class Signals {
			readonly seen: ContainerSignal[] = [];
			readonly #waiters = new Set<{
				match: (s: ContainerSignal) => boolean;
				resolve: (s: ContainerSignal) => void;
			}>();
			readonly push = (signal: ContainerSignal): void => {
				this.seen.push(signal);
				for (const waiter of this.#waiters) {
					if (!waiter.match(signal)) continue;
					this.#waiters.delete(waiter);
					waiter.resolve(signal);
				}
			};
			next(match: (s: ContainerSignal) => boolean): Promise<ContainerSignal> {
				const found = this.seen.find(match);
				if (found) return Promise.resolve(found);
				return new Promise((resolve) => this.#waiters.add({ match, resolve }));
			}
			clear(): void {
				this.seen.length = 0;
			}
		}

		it('wakes watchers in other processes on add and requeue, and tells the owner to stop', async () => {
			const prefix = `w${++n}_`;
			const watcher = new SqlContainer({ knex: shared, tablePrefix: prefix });
			const writer = new SqlContainer({ knex: shared, tablePrefix: prefix });
			const signals = new Signals();
			try {
				expect(typeof watcher.watch).toBe('function');
				watcher.watch?.(signals.push);
				await signals.next((s) => s.type === 'wake'); // listening now
				signals.clear();
				await writer.add(records([{ id: 'a', item: 1 }]));
				await signals.next((s) => s.type === 'wake');
				signals.clear();
				const now = Date.now();
				await writer.claim(1, 'o', 10_000, now);
				await writer.requestStop('a');
				expect(await signals.next((s) => s.type === 'stop')).toEqual({ type: 'stop', id: 'a' });
				signals.clear();
				await writer.transition('a', 'running', 'waiting', { owner: null, leaseUntil: null, runAt: now }, 'o');
				await signals.next((s) => s.type === 'wake');
			} finally {
				await watcher.close();
				await writer.close();
			}
		});

		it('reports a broken listener connection, reconnects, and reports it back', async () => {
			const prefix = `b${++n}_`;
			// A probe that misses its timeout on a loaded machine counts as a silent channel (a pooler), retried only
			// after `intervalMs` (30 s by default): patient probes, retried soon, so only the cut connection is tested.
			const watcher = new SqlContainer({
				knex: shared,
				tablePrefix: prefix,
				notifyProbe: { timeoutMs: 10_000, intervalMs: 2_000 },
			});
			const signals = new Signals();
			try {
				watcher.watch?.(signals.push);
				await signals.next((s) => s.type === 'wake');
				await watcher.knex.raw(
					`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN "${prefix}events"' AND pid <> pg_backend_pid()`,
				);
				const down = await signals.next((s) => s.type === 'channel' && !s.ok);
				expect(down).toMatchObject({ type: 'channel', ok: false });
				await signals.next((s) => s.type === 'channel' && s.ok);
				signals.clear();
				await watcher.add(records([{ id: 'after', item: 1 }]));
				await signals.next((s) => s.type === 'wake');
			} finally {
				await watcher.close();
			}
		});

		// The cut above usually lands after the first probe arrived; on a loaded machine it can land while that probe
		// is on its way. Here it does every time: the pool's only connection is held, so the probe cannot be sent
		// until the LISTEN connection is gone. The reconnect used to be dropped (the first connect, still waiting for
		// its probe, counted as a connect in progress) and the lost connection's probe blocked the next one's: the
		// channel stayed down for good.
		it('reconnects when the connection is cut while its first probe is on its way', async () => {
			const prefix = `p${++n}_`;
			const watcher = new SqlContainer({
				knex: { ...shared, pool: { min: 0, max: 1 } },
				tablePrefix: prefix,
				notifyProbe: { timeoutMs: 1_000, intervalMs: 60_000 },
			});
			const writer = new SqlContainer({ knex: shared, tablePrefix: prefix });
			const signals = new Signals();
			try {
				await watcher.migrate();
				const held = await watcher.knex.transaction();
				try {
					watcher.watch?.(signals.push);
					await signals.next((s) => s.type === 'wake'); // listening; its probe waits for the pool
					await writer.knex.raw(
						`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN "${prefix}events"'`,
					);
					await signals.next((s) => s.type === 'channel' && !s.ok);
				} finally {
					await held.commit();
				}
				await signals.next((s) => s.type === 'channel' && s.ok);
				signals.clear();
				await writer.add(records([{ id: 'after', item: 1 }]));
				await signals.next((s) => s.type === 'wake');
			} finally {
				await watcher.close();
				await writer.close();
			}
		}, 30_000);

		// SQLite's channel (a watch on the file's folder) is tested in sql-sqlite-wake.test.ts.
		it('has no wake-up channel with notify: false', async () => {
			const quiet = new SqlContainer({ knex: shared, tablePrefix: `q${++n}_`, notify: false });
			expect(quiet.watch).toBeUndefined();
			await quiet.close();
		});
	});
});
