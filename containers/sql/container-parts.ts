/**
 * The parts `SqlContainer` is made of, built from its options and wired together: the statements, the claim path
 * and claim limits, the batched adds and other inserts, the transition batcher with claim-ahead, the lease
 * operations, the wake-up channels and the change reader. The container keeps the calls' bookkeeping (the schema
 * check, error wrapping, closing) and hands its parts what they need of it through `ContainerHost`.
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched';
import { writeBatch } from './add-batch.js';
import { AddQueue } from './add-queue.js';
import { autoAnalyze } from './auto-analyze.js';
import { autoVacuum } from './auto-vacuum.js';
import type { BackgroundStatement } from './background-statement.js';
import { SqlChangeReader } from './change-events.js';
import { claimAheadOff, ClaimAheadBuffer } from './claim-ahead.js';
import { containerRunners } from './container-runners.js';
import { directPg } from './direct-pg.js';
import { directSqlite } from './direct-sqlite.js';
import { directSqlite3 } from './direct-sqlite3.js';
import type { RunRows } from './pooled-statement.js';
import { guardedInserts } from './insert.js';
import { WAKE_PAYLOAD } from './notify.js';
import type { ResolvedSqlOptions } from './options.js';
import { SqlClaimLimits } from './rate-limit.js';
import { CHUNK, rowsOf, taskStatements, type TaskStatements } from './statements.js';
import type { SqlDialect, SqlTables } from './schema.js';
import { TaskAdds } from './task-adds.js';
import { TaskClaims } from './task-claims.js';
import type { TaskLeasesParts } from './task-leases.js';
import { TransitionBatcher } from './transitions.js';
import { SqlWakeChannels } from './wake-channels.js';

/** What the parts need of the container. */
export interface ContainerHost {
	/** The container itself (claim-ahead is off for a container in `claimAheadOff`). */
	readonly self: object;
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly tables: SqlTables;
	readonly clock: 'server' | 'caller';
	/** Whether the container was closed. */
	closed(): boolean;
	/** Throws `SchedulerClosedError` once closed. */
	assertOpen(): void;
	/** Create or check the tables. */
	migrate(): Promise<void>;
	/** Run an operation once the tables exist, its storage errors as `ContainerError`s (the container's `#run`). */
	run<T>(what: string, operation: () => Promise<T>): Promise<T>;
	/** Track a call so `close` lets it settle. */
	track<T>(promise: Promise<T>): Promise<T>;
	/** The `now` a statement binds: the caller's, or on the server's clock this machine's. */
	now(now: number): number;
	/** A task left running or exporting (the `globalConcurrency` wake-up). */
	slotFreed(): void;
}

export interface ContainerParts {
	readonly sql: TaskStatements;
	readonly limits: SqlClaimLimits;
	readonly claims: TaskClaims;
	readonly adds: AddQueue;
	readonly inserts: TaskAdds;
	readonly ahead: ClaimAheadBuffer;
	readonly transitions: TransitionBatcher;
	readonly leases: TaskLeasesParts;
	readonly channels: SqlWakeChannels;
	readonly changes: SqlChangeReader;
	readonly analyze: BackgroundStatement | null;
	/** PostgreSQL: the container's own VACUUM after every so many claimed tasks (auto-vacuum.ts). */
	readonly vacuum: BackgroundStatement | null;
	/** Whether statements send PostgreSQL wake-ups (`notify` on PostgreSQL). */
	readonly notify: boolean;
	/** Run one statement through the pool. */
	readonly query: (sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;
	readonly bool: (value: boolean) => unknown;
}

export function containerParts(host: ContainerHost, o: ResolvedSqlOptions): ContainerParts {
	const { knex, dialect, tables } = host;
	// better-sqlite3, sqlite3 (kept statements) and PostgreSQL: the container's statements straight to a pooled
	// connection; else through knex.
	const sqlite = directSqlite(knex);
	const direct: RunRows | null =
		sqlite?.run ??
		directSqlite3(knex) ??
		directPg(knex, o.preparedStatements, o.statementFunctions ? tables.prefix : null);
	if (direct !== null) containerRunners.set(host.self, direct);
	const query = (sql: string, bindings: readonly unknown[]): Promise<Record<string, unknown>[]> =>
		direct === null ? rowsOf(knex, sql, bindings) : direct(sql, bindings);
	const bool = (value: boolean): unknown => (dialect === 'pg' ? value : value ? 1 : 0);
	const sql = taskStatements(dialect, tables, host.clock);
	const limits = new SqlClaimLimits(dialect, tables, sql, o.limits);
	const claims = new TaskClaims({ knex, dialect, sql, limits, clock: host.clock, query });
	const notify = dialect === 'pg' && o.notify;
	const shape = { table: tables.tasks, sql, bool };
	const analyze = dialect === 'pg' ? autoAnalyze(knex, tables.tasks, () => !host.closed()) : null;
	const vacuum = dialect === 'pg' && o.vacuum ? autoVacuum(knex, tables.tasks, () => !host.closed()) : null;
	const inserts = new TaskAdds({
		knex,
		tables,
		shape,
		notify,
		adding: (tasks) => claims.adding(tasks),
		grew: (rows) => analyze?.count(rows),
	});
	const batchParts = {
		knex,
		dialect,
		tables,
		shape,
		wake: notify ? ([tables.channel, WAKE_PAYLOAD] as const) : null,
		alone: async (entry: { tasks: readonly TaskRecord[]; items: readonly string[] }) => {
			await inserts.insert(entry.tasks, entry.items, null);
		},
	};
	const adds = new AddQueue(CHUNK, (batch) => writeBatch(batchParts, batch));
	// A task claimed ahead that its owner did not take in time (or on close): back to waiting, uncounted. Its `runAt`
	// is left as it was (`handBackPatch`, for an attempt its worker hands back, sets it to now): it was due when claimed
	// and stays due, in its place (claims go by priority, then seq).
	const ahead = new ClaimAheadBuffer((task, owner) => {
		const patch = { attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null };
		const request = {
			id: task.id,
			from: 'running',
			to: 'waiting',
			patch,
			owner,
			// Only the claim held, never a later claim of the task (see `ClaimGuard`).
			claim: task,
			updatedAt: Date.now(),
		} as const;
		return host.track(transitions.submit(request)).catch(() => null);
	});
	const transitions: TransitionBatcher = new TransitionBatcher({
		dialect,
		table: tables.tasks,
		bool,
		run: query,
		wake: notify ? { sql: 'SELECT pg_notify(?, ?)', bindings: [tables.channel, WAKE_PAYLOAD] } : null,
		maxInFlight: 1,
		serverNow: sql.serverClock ? sql.nowSql : null,
		// SQLite's claim ahead: in one transaction with the transitions' statement on better-sqlite3's direct path,
		// else a part of that statement (statements.ts `claimAheadRows`).
		runPair: sqlite?.pair ?? null,
		ahead:
			sql.claimAhead === null || limits.active
				? null
				: ahead.hook({
						statement:
							dialect === 'sqlite' && sqlite === null
								? (sql.claimAheadRows ?? sql.claimAhead)
								: sql.claimAhead,
						off: () => host.closed() || claimAheadOff.has(host.self),
						promotion: (at) => claims.aheadPromotion(host.now(at)),
						note: sql.delayedNote,
						noted: (wall, next, due) => claims.noted(wall, next, due),
					}),
	});
	const channels = new SqlWakeChannels({
		knex,
		dialect,
		tables,
		options: o,
		migrate: () => host.migrate(),
		query,
		closed: () => host.closed(),
	});
	return {
		sql,
		limits,
		claims,
		adds,
		inserts,
		ahead,
		transitions,
		leases: {
			sql,
			query,
			channel: notify ? tables.channel : null,
			ahead,
			aheadSettled: () => transitions.aheadSettled(),
			slotFreed: () => host.slotFreed(),
		},
		channels,
		changes: new SqlChangeReader({
			dialect,
			prefix: o.tablePrefix,
			query: (what, statement, bindings) => host.run(what, () => query(statement, bindings)),
			listen: channels.changesListen(),
		}),
		analyze,
		vacuum,
		notify,
		query,
		bool,
	};
}

/** Register the container's guarded inserts for a `SqlWorkflowStore` sharing it (see insert.ts). */
export function registerGuardedInserts(host: ContainerHost, inserts: TaskAdds): void {
	guardedInserts.set(host.self, (tasks, owners, among) => {
		host.assertOpen();
		return inserts.guarded(tasks, owners, among);
	});
}
