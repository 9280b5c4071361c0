/**
 * The SQL container's tables and their versioned migrations. Each container (and persistencer) creates and
 * upgrades its tables lazily on first use; a migrations table of its own records which versions were applied,
 * so a second process on the same database (or a restart) applies nothing twice.
 */
import type { Knex } from 'knex';
import type { SqlDialect } from './dialect.js';
import { ContainerError } from 'lightsched';
import { addColumnIfMissing } from './add-column.js';
import { addFinalRecords, createChangeTables } from './change-tables.js';

export type { SqlDialect } from './dialect.js';

/** The names of one container's tables, indexes and wake-up channel, all derived from the table prefix. */
export interface SqlTables {
	readonly prefix: string;
	/** `<prefix>tasks`, quoted for SQL. */
	readonly tasks: string;
	/** `<prefix>outputs`, quoted for SQL. */
	readonly outputs: string;
	/** `<prefix>migrations`, quoted for SQL. */
	readonly migrations: string;
	/** `<prefix>settings` (queue-wide flags such as the pause), quoted for SQL. */
	readonly settings: string;
	/** `<prefix>repeats` (repeating tasks), quoted for SQL. */
	readonly repeats: string;
	/** `<prefix>logs` (task log lines), quoted for SQL. */
	readonly logs: string;
	/** `<prefix>group_limits` (each group's rate window, `groupRateLimit`), quoted for SQL. */
	readonly groupLimits: string;
	/** The PostgreSQL LISTEN/NOTIFY channel (unquoted). */
	readonly channel: string;
}

const PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;

/** Check a table prefix and derive the names from it. */
export function sqlTables(prefix: string): SqlTables {
	if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
		throw new TypeError(
			`Expected \`tablePrefix\` to be a letter or underscore followed by up to 39 letters, digits or underscores, got ${JSON.stringify(prefix)}`,
		);
	}
	return {
		prefix,
		tasks: `"${prefix}tasks"`,
		outputs: `"${prefix}outputs"`,
		migrations: `"${prefix}migrations"`,
		settings: `"${prefix}settings"`,
		repeats: `"${prefix}repeats"`,
		logs: `"${prefix}logs"`,
		groupLimits: `"${prefix}group_limits"`,
		channel: `${prefix}events`,
	};
}

/** One schema step. `up` runs inside the migration transaction. */
interface Migration {
	readonly version: number;
	readonly name: string;
	up(trx: Knex.Transaction, dialect: SqlDialect, tables: SqlTables): Promise<void>;
}

const MIGRATIONS: readonly Migration[] = [
	{
		version: 1,
		name: 'tasks and outputs',
		async up(trx, dialect, t) {
			const seq = dialect === 'pg' ? 'seq BIGSERIAL PRIMARY KEY' : 'seq INTEGER PRIMARY KEY AUTOINCREMENT';
			const p = t.prefix;
			await trx.raw(`CREATE TABLE ${t.tasks} (
				${seq},
				id VARCHAR(512) NOT NULL,
				status VARCHAR(16) NOT NULL,
				priority BIGINT NOT NULL DEFAULT 0,
				attempts INTEGER NOT NULL DEFAULT 0,
				max_attempts INTEGER NOT NULL,
				timeout_ms BIGINT,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL,
				started_at BIGINT,
				finished_at BIGINT,
				run_at BIGINT NOT NULL,
				item TEXT NOT NULL,
				error TEXT,
				output TEXT,
				progress TEXT,
				ref TEXT,
				owner TEXT,
				lease_until BIGINT,
				stop_requested BOOLEAN NOT NULL DEFAULT FALSE
			)`);
			await trx.raw(`CREATE UNIQUE INDEX "${p}tasks_id" ON ${t.tasks} (id)`);
			// The claim path: due waiting tasks, highest priority first, FIFO within a priority. Partial (waiting rows
			// only), so it stays small however many tasks have finished, and claims never wade through them.
			await trx.raw(
				`CREATE INDEX "${p}tasks_claim" ON ${t.tasks} (priority DESC, seq, run_at) WHERE status = 'waiting'`,
			);
			// nextDueAt: the earliest run_at of a waiting task.
			await trx.raw(`CREATE INDEX "${p}tasks_due" ON ${t.tasks} (run_at) WHERE status = 'waiting'`);
			// reclaimExpired: leases of running and exporting tasks.
			await trx.raw(
				`CREATE INDEX "${p}tasks_lease" ON ${t.tasks} (lease_until) WHERE status IN ('running', 'exporting')`,
			);
			// list by status in arrival order, and counts per status.
			await trx.raw(`CREATE INDEX "${p}tasks_status" ON ${t.tasks} (status, seq)`);
			await trx.raw(`CREATE TABLE ${t.outputs} (
				id VARCHAR(512) PRIMARY KEY,
				output TEXT,
				updated_at BIGINT NOT NULL
			)`);
		},
	},
	{
		version: 2,
		name: 'settings, repeats, deduplication keys and task logs',
		async up(trx, dialect, t) {
			if (dialect === 'pg') {
				// A queue table churns (every task inserted, updated, and with retention deleted): autovacuum at its
				// defaults (a fifth of the table dead, throttled) fell behind in the retention soak and the table grew
				// without bound. Here it runs once 2% are dead, unthrottled; each run is short on a table this small.
				await trx.raw(`ALTER TABLE ${t.tasks} SET (
					autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
					autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05
				)`);
			}
			// Queue-wide flags every scheduler reads in its claim: a row `paused` holds every claim (setPaused).
			await trx.raw(`CREATE TABLE ${t.settings} (name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)`);
			// Deduplication keys: one waiting or running task per key, enforced by the database (a partial unique index).
			await trx.raw(`ALTER TABLE ${t.tasks} ADD COLUMN dedup_key VARCHAR(512)`);
			await trx.raw(
				`CREATE UNIQUE INDEX "${t.prefix}tasks_dedup" ON ${t.tasks} (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('waiting', 'running', 'exporting')`,
			);
			// Task logs: line n (from 0) of the task row with this seq; the oldest lines are deleted past the bound.
			await trx.raw(`CREATE TABLE ${t.logs} (
				task_seq BIGINT NOT NULL,
				n BIGINT NOT NULL,
				line TEXT NOT NULL,
				PRIMARY KEY (task_seq, n)
			)`);
			// Repeating tasks: a tick moves next_run_at by compare-and-set in the transaction that adds its task.
			await trx.raw(`CREATE TABLE ${t.repeats} (
				repeat_key VARCHAR(512) PRIMARY KEY,
				spec TEXT NOT NULL,
				next_run_at BIGINT,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`);
		},
	},
	{
		version: 3,
		name: 'trace context of the adding span',
		async up(trx, _dialect, t) {
			// The W3C traceparent (and tracestate) of the span that added the task: see docs/tracing.md.
			await trx.raw(`ALTER TABLE ${t.tasks} ADD COLUMN trace TEXT`);
		},
	},
	{
		version: 4,
		name: 'task changes for followers',
		async up(trx, dialect, t) {
			// The change log `readChanges` reads, written by triggers while someone follows (see change-events.ts).
			await createChangeTables(trx, dialect, t.prefix, t.tasks);
		},
	},
	{
		version: 5,
		name: 'delayed tasks out of the claim index',
		async up(trx, dialect, t) {
			const p = t.prefix;
			// `delayed` = 1: a waiting task that was not yet due when it was written (added, retried with a backoff,
			// handed back with a runAt). The claim index leaves those out, so a claim no longer steps over every task
			// that is not yet due (issue 15 item 6); each claim first promotes the ones now due (`delayed` = 0) through
			// `tasks_delayed`, an index of only those, ordered by run_at. Existing rows are judged by this clock; a
			// row judged wrongly is only slower to claim or promote, never claimed early (the claim keeps run_at <= now).
			// Written to run again over its own result (as version 4 is): a column or index already there is kept.
			await addColumnIfMissing(trx, dialect, t.tasks, `${p}tasks`, 'delayed', 'SMALLINT NOT NULL DEFAULT 0');
			await trx.raw(`UPDATE ${t.tasks} SET delayed = 1 WHERE status = 'waiting' AND run_at > ?`, [Date.now()]);
			await trx.raw(`DROP INDEX IF EXISTS "${p}tasks_claim"`);
			await trx.raw(
				`CREATE INDEX "${p}tasks_claim" ON ${t.tasks} (priority DESC, seq, run_at) WHERE status = 'waiting' AND delayed = 0`,
			);
			await trx.raw(
				`CREATE INDEX IF NOT EXISTS "${p}tasks_delayed" ON ${t.tasks} (run_at) WHERE status = 'waiting' AND delayed = 1`,
			);
		},
	},
	{
		version: 6,
		name: 'task groups and their rate windows',
		async up(trx, dialect, t) {
			const p = t.prefix;
			// `task_group`: the task's group (NewTask.group), for `groupRateLimit` (see group-limit.ts). A waiting task
			// of a group with no room left in its window is parked: `delayed` = 2, out of the claim index (delayed = 0)
			// and the promotion index (delayed = 1); `tasks_parked` finds a group's parked tasks in claim order.
			// `group_limits`: one row per group with its current window (start, claims) and, while it has parked
			// tasks, when its window reopens (`parked_until`). Written to run again over its own result (as versions 4
			// and 5 are): a column, table or index already there is kept.
			await addColumnIfMissing(trx, dialect, t.tasks, `${p}tasks`, 'task_group', 'VARCHAR(512)');
			await trx.raw(
				`CREATE INDEX IF NOT EXISTS "${p}tasks_parked" ON ${t.tasks} (task_group, priority DESC, seq) WHERE status = 'waiting' AND delayed = 2`,
			);
			await trx.raw(`CREATE TABLE IF NOT EXISTS ${t.groupLimits} (
				grp VARCHAR(512) PRIMARY KEY,
				window_start BIGINT NOT NULL,
				n INTEGER NOT NULL,
				parked_until BIGINT
			)`);
			await trx.raw(
				`CREATE INDEX IF NOT EXISTS "${p}group_limits_parked" ON ${t.groupLimits} (parked_until) WHERE parked_until IS NOT NULL`,
			);
		},
	},
	{
		version: 7,
		name: 'per-task retention rules',
		async up(trx, dialect, t) {
			const p = t.prefix;
			// A task's own retention rule (NewTask.retention): milliseconds kept after finishing in each final status,
			// NULL where the scheduler's rule applies. No expiry column is written by the moves: a task's expiry is
			// finished_at + retain_<its status>, from fields every move to a final status already writes, so no path
			// that finishes a task can forget it. `tasks_retained` indexes only tasks with a rule, for clean's
			// `expiredBy`. Written to run again over its own result (as versions 4 to 6 are).
			for (const status of ['succeeded', 'failed', 'stopped']) {
				await addColumnIfMissing(trx, dialect, t.tasks, `${p}tasks`, `retain_${status}`, 'BIGINT');
			}
			await trx.raw(
				`CREATE INDEX IF NOT EXISTS "${p}tasks_retained" ON ${t.tasks} (status, finished_at) WHERE ${RETAINED_SQL}`,
			);
		},
	},
	{
		version: 8,
		name: 'final records in the SQLite change log',
		async up(trx, dialect, t) {
			// SQLite: a final change carries the task's row, as on PostgreSQL (see change-tables.ts addFinalRecords).
			await addFinalRecords(trx, dialect, t.prefix, t.tasks);
		},
	},
];

/** The predicate of the `tasks_retained` index (schema 7): a task with its own retention rule. */
export const RETAINED_SQL = '(retain_succeeded IS NOT NULL OR retain_failed IS NOT NULL OR retain_stopped IS NOT NULL)';

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Create or upgrade the tables. Safe to run from several processes at once: PostgreSQL serialises it with a
 * transaction-scoped advisory lock, SQLite with its write lock (the first statement of the transaction writes).
 */
export async function migrate(knex: Knex, dialect: SqlDialect, tables: SqlTables): Promise<void> {
	if (dialect === 'sqlite') {
		await knex.raw(`CREATE TABLE IF NOT EXISTS ${tables.migrations} (
			version INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL
		)`);
	}
	await knex.transaction(async (trx) => {
		if (dialect === 'pg') {
			await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`lightsched:${tables.prefix}`]);
			await trx.raw(`CREATE TABLE IF NOT EXISTS ${tables.migrations} (
				version INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL
			)`);
		} else {
			// A write first, so this transaction holds SQLite's write lock from the start (as BEGIN IMMEDIATE would).
			await trx.raw(`UPDATE ${tables.migrations} SET applied_at = applied_at WHERE version < 0`);
		}
		const result: unknown = await trx.raw(`SELECT MAX(version) AS version FROM ${tables.migrations}`);
		const row = resultRows(result)[0];
		const current = Number(row?.['version'] ?? 0);
		if (current > SCHEMA_VERSION) {
			throw new ContainerError(
				`The tables with prefix \`${tables.prefix}\` are at schema version ${current}, newer than this lightsched knows (${SCHEMA_VERSION}): upgrade lightsched`,
			);
		}
		for (const migration of MIGRATIONS) {
			if (migration.version <= current) continue;
			await migration.up(trx, dialect, tables);
			await trx.raw(`INSERT INTO ${tables.migrations} (version, name, applied_at) VALUES (?, ?, ?)`, [
				migration.version,
				migration.name,
				Date.now(),
			]);
		}
	});
}

/** The rows of a `knex.raw` result: PostgreSQL gives `{ rows }`, SQLite an array. */
export function resultRows(result: unknown): Record<string, unknown>[] {
	if (Array.isArray(result)) return result as Record<string, unknown>[];
	const rows = (result as { rows?: unknown } | null)?.rows;
	return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
}
