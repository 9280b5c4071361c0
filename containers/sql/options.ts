/**
 * `SqlContainer`'s options: their types, defaults and checks (a misspelt name is an error naming the closest
 * known one), and the knex configuration the container makes from them (bounded connect and acquire times).
 */
import type { Knex } from 'knex';
import { rejectUnknownOptions } from 'lightsched/kit';

/** A knex configuration object or a ready Knex instance. */
export type KnexSource = Knex.Config | Knex;

/** The SQLite settings applied to every connection the container opens. */
export interface SqliteSettings {
	readonly busyTimeoutMs: number;
	readonly synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
}

/** A PostgreSQL connection for LISTEN: a `postgres://` URL or a `pg` connection object. */
export type PgConnectionConfig = string | Readonly<Record<string, unknown>>;

/** What `new SqlContainer(options)` takes. */
export interface SqlContainerOptions {
	/**
	 * The database: a knex configuration (the container makes the instance and destroys it on `close`) or a
	 * Knex instance you own (left open on `close`). SQLite: `{ client: 'sqlite3', connection: { filename:
	 * 'tasks.db' }, useNullAsDefault: true }` (or `client: 'better-sqlite3'`, the synchronous driver: faster per
	 * statement, but waiting for another process's write lock blocks the event loop); PostgreSQL: `{ client: 'pg',
	 * connection: 'postgres://…' }`.
	 */
	readonly knex: KnexSource;
	/**
	 * Prepended to the container's table names (`<prefix>tasks`, `<prefix>outputs`, `<prefix>migrations`), so
	 * several containers can share one database. Letters, digits and underscores.
	 * @default 'lightsched_'
	 */
	readonly tablePrefix?: string;
	/**
	 * SQLite: how long a statement waits for another process's write lock before failing, in milliseconds.
	 * @default 5000
	 */
	readonly busyTimeoutMs?: number;
	/**
	 * SQLite: the `synchronous` PRAGMA. `NORMAL` (with WAL) survives a crashed process but may lose the last
	 * commits on power loss; `FULL` survives power loss too, at one fsync per commit.
	 * @default 'NORMAL'
	 */
	readonly synchronous?: SqliteSettings['synchronous'];
	/**
	 * Offer a wake-up channel, so schedulers sleep instead of polling and pick up a task added by another process
	 * at once. PostgreSQL: LISTEN/NOTIFY on one dedicated connection (stop requests then reach the owner at once
	 * too). SQLite: a watch (`fs.watch`) on the database file's folder, whose write-ahead log every commit of every
	 * process changes, with a safety wake-up every `notifyProbe.intervalMs` (default 1 s) for a change the system
	 * did not report; where the folder cannot be watched, schedulers poll. Without it schedulers poll at their
	 * `pollIntervalMs`.
	 * @default true
	 */
	readonly notify?: boolean;
	/**
	 * PostgreSQL: a direct (session) connection for LISTEN, when `knex` goes through a pooler in transaction mode
	 * (PgBouncer's `pool_mode = transaction`), where LISTEN does not survive. Statements still go through `knex`.
	 * Without it the container LISTENs through `knex`'s own connection settings, checks that notifications
	 * arrive, and tells schedulers to poll when they do not.
	 */
	readonly listen?: {
		/** A `postgres://` URL or a `pg` connection object. */
		readonly connection: PgConnectionConfig;
	};
	/**
	 * PostgreSQL: run the container's frequent statements (claims, transitions, renewals) as prepared statements
	 * planned once per connection, and set `plan_cache_mode = force_generic_plan` on the connections of `knex`'s
	 * pool (their unprepared statements are planned as before). About half the server's CPU per task in
	 * `bench:sql`. Session state: only for connections straight to the server, never behind a pooler in
	 * transaction mode (PgBouncer's `pool_mode = transaction` drops prepared statements and hands the setting to
	 * other clients). Ignored on SQLite.
	 * @default false
	 */
	readonly preparedStatements?: boolean;
	/**
	 * PostgreSQL, without `preparedStatements`: run the container's frequent data-modifying statements through
	 * server-side PL/pgSQL functions that it makes for them (named `<tablePrefix>tasks_f2_<hash>`, in the first
	 * schema of the `search_path`), each planned once per server connection with a generic plan, without session
	 * state, so safe behind a pooler in transaction mode. `false`: never create functions (for a role or a policy
	 * that forbids DDL at run time); each statement is then planned anew on every run. A role without the CREATE
	 * privilege gets one warning and plain statements either way. Ignored on SQLite.
	 * @default true
	 */
	readonly statementFunctions?: boolean;
	/**
	 * PostgreSQL: after every 5,000 tasks it claimed, the container runs a plain `VACUUM` of the tasks table in the
	 * background (skipped while another vacuum holds the table), so claims do not step over the index entries of
	 * every task claimed since autovacuum's last pass (autovacuum looks at a table at most once per
	 * `autovacuum_naptime`). `false`: leave vacuuming to autovacuum (or to your own schedule). Ignored on SQLite.
	 * @default true
	 */
	readonly vacuum?: boolean;
	/**
	 * PostgreSQL: how the wake-up channel is checked. (SQLite: `intervalMs` is the safety wake-up's interval,
	 * default 1000; `timeoutMs` does not apply.) Every `intervalMs` (and once it starts listening) the
	 * container sends itself a probe notification; when it does not arrive within `timeoutMs`, the channel is
	 * reported down (`channel`, ok: false) and schedulers poll at `pollIntervalMs` until a probe arrives again.
	 * @default { intervalMs: 30000, timeoutMs: 3000 }
	 */
	readonly notifyProbe?: {
		/** How often to probe, in milliseconds. */
		readonly intervalMs?: number;
		/** How long a probe may take to arrive, in milliseconds. */
		readonly timeoutMs?: number;
	};
	/**
	 * Whose clock judges leases, due times and reclaims. `'server'`: the database's (PostgreSQL's `now()` in the
	 * statements; on SQLite the clock of the machine the file is on, which is this process's), so schedulers
	 * whose clocks disagree cannot take over each other's live tasks. `'caller'`: the `now` the scheduler passes
	 * (tests that control time). Times a caller puts in a transition patch are stored as given either way.
	 * @default 'server' on PostgreSQL, 'caller' on SQLite (one machine, one clock)
	 */
	readonly clock?: 'server' | 'caller';
	/**
	 * PostgreSQL, when the container makes the knex instance: how long opening a connection may take before the
	 * call fails (pg's `connectionTimeoutMillis`), in milliseconds.
	 * @default 5000
	 */
	readonly connectTimeoutMs?: number;
	/**
	 * When the container makes the knex instance: how long a call waits for a pooled connection (knex's
	 * `acquireConnectionTimeout`, 60 s by default in knex) before it fails, in milliseconds. On PostgreSQL this
	 * bounds a call to a server that is down or unreachable; on SQLite (no server, one connection per process)
	 * knex's default is kept unless you set it.
	 * @default 10000 on PostgreSQL
	 */
	readonly acquireTimeoutMs?: number;
	/**
	 * The most tasks running (or exporting) at once across every scheduler sharing the tables, on top of each
	 * scheduler's `concurrency`. Enforced inside the claim: the claim becomes a short transaction that locks one
	 * settings row, so claims from every process are serialised (see docs/rate-limits.md for the cost).
	 * @default no limit
	 */
	readonly globalConcurrency?: number;
	/**
	 * At most `max` claims (task starts, retries included) in each `intervalMs` window across every scheduler
	 * sharing the tables. Windows are fixed, aligned to the epoch on the container's clock. A task held back waits;
	 * schedulers sleep until the window reopens. Enforced inside the claim like `globalConcurrency`.
	 * @default no limit
	 */
	readonly rateLimit?: RateLimitOption;
	/**
	 * At most `max` claims of each group's tasks (`NewTask.group`) in each `intervalMs` window across every
	 * scheduler sharing the tables, on top of `rateLimit` and `globalConcurrency`; tasks with no group are not
	 * limited by it. A task of a group with no room left waits (parked) while the claim takes the next tasks of
	 * other groups; schedulers sleep until the earliest window reopens. Windows are fixed, aligned to the epoch on
	 * the container's clock. Enforced inside the claim like `globalConcurrency`. Every scheduler of the tables
	 * must be given the same value. See docs/rate-limits.md.
	 * @default no limit
	 */
	readonly groupRateLimit?: RateLimitOption;
}

/** `rateLimit`: at most `max` starts per `intervalMs`. */
export interface RateLimitOption {
	/** The most starts in one window (an integer ≥ 1). */
	readonly max: number;
	/** The window's length in milliseconds (an integer ≥ 1). */
	readonly intervalMs: number;
}

/** The claim limits, checked: 0 and null mean none. */
export interface ResolvedClaimLimits {
	readonly globalConcurrency: number;
	readonly rateLimit: { readonly max: number; readonly intervalMs: number } | null;
	readonly groupRateLimit: { readonly max: number; readonly intervalMs: number } | null;
}

/** Check a `rateLimit` option (`owner` and `what` name it in errors). */
export function checkRateLimit(owner: string, what: string, value: unknown): ResolvedClaimLimits['rateLimit'] {
	if (value === undefined) return null;
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`Expected \`${what}\` to be an object like { max: 10, intervalMs: 1000 }`);
	}
	rejectUnknownOptions(`${owner} \`${what}\``, value, ['max', 'intervalMs']);
	const { max, intervalMs } = value as { max?: unknown; intervalMs?: unknown };
	return { max: integer(`${what}.max`, max, 1), intervalMs: integer(`${what}.intervalMs`, intervalMs, 1) };
}

export const SQL_CONTAINER_OPTION_NAMES = [
	'knex',
	'tablePrefix',
	'busyTimeoutMs',
	'synchronous',
	'notify',
	'listen',
	'preparedStatements',
	'statementFunctions',
	'vacuum',
	'notifyProbe',
	'clock',
	'connectTimeoutMs',
	'acquireTimeoutMs',
	'globalConcurrency',
	'rateLimit',
	'groupRateLimit',
] as const;

export interface ResolvedSqlOptions {
	readonly tablePrefix: string;
	readonly sqlite: SqliteSettings;
	readonly notify: boolean;
	readonly listen: PgConnectionConfig | null;
	/** PostgreSQL: prepared statements with generic plans (`preparedStatements`). */
	readonly preparedStatements: boolean;
	/** PostgreSQL: frequent statements through server-side functions (`statementFunctions`). */
	readonly statementFunctions: boolean;
	/** PostgreSQL: the container's own VACUUM of the tasks table (`vacuum`). */
	readonly vacuum: boolean;
	readonly probeIntervalMs: number;
	readonly probeTimeoutMs: number;
	/** SQLite: the wake-up channel's safety wake interval (`notifyProbe.intervalMs`, default 1 s). */
	readonly safetyWakeMs: number;
	readonly clock: 'server' | 'caller' | undefined;
	readonly connectTimeoutMs: number;
	/** Set explicitly, or undefined (then 10 s on PostgreSQL, knex's own default on SQLite). */
	readonly acquireTimeoutMs: number | undefined;
	readonly limits: ResolvedClaimLimits;
}

/** The bounds the container applies to a knex instance it makes. */
export interface ConnectionBounds {
	readonly connectTimeoutMs: number;
	readonly acquireTimeoutMs: number | undefined;
}

/** PostgreSQL's acquire bound when none is given. */
export const PG_ACQUIRE_TIMEOUT_MS = 10_000;

function integer(name: string, value: unknown, min: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
		throw new TypeError(
			`Expected \`${name}\` to be an integer ≥ ${min}, got ${typeof value === 'number' ? String(value) : typeof value}`,
		);
	}
	return value;
}

/** Check the options (all but `knex`, which `openKnex` checks) and fill in the defaults. */
export function resolveSqlOptions(options: SqlContainerOptions): ResolvedSqlOptions {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(
			"Expected SqlContainer options to be an object like { knex: { client: 'sqlite3', connection: { filename } } }",
		);
	}
	rejectUnknownOptions('SqlContainer', options, SQL_CONTAINER_OPTION_NAMES);
	const {
		tablePrefix = 'lightsched_',
		synchronous = 'NORMAL',
		notify = true,
		listen,
		notifyProbe = {},
		clock,
		preparedStatements = false,
		statementFunctions = true,
		vacuum = true,
	} = options;
	const busyTimeoutMs = integer('busyTimeoutMs', options.busyTimeoutMs ?? 5_000, 0);
	if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(synchronous)) {
		throw new TypeError(
			`Expected \`synchronous\` to be 'OFF', 'NORMAL', 'FULL' or 'EXTRA', got ${JSON.stringify(synchronous)}`,
		);
	}
	if (typeof notify !== 'boolean') throw new TypeError(`Expected \`notify\` to be a boolean, got ${typeof notify}`);
	if (typeof preparedStatements !== 'boolean')
		throw new TypeError(`Expected \`preparedStatements\` to be a boolean, got ${typeof preparedStatements}`);
	if (typeof statementFunctions !== 'boolean')
		throw new TypeError(`Expected \`statementFunctions\` to be a boolean, got ${typeof statementFunctions}`);
	if (typeof vacuum !== 'boolean') throw new TypeError(`Expected \`vacuum\` to be a boolean, got ${typeof vacuum}`);
	if (clock !== undefined && clock !== 'server' && clock !== 'caller') {
		throw new TypeError(`Expected \`clock\` to be 'server' or 'caller', got ${JSON.stringify(clock)}`);
	}
	let listenConnection: PgConnectionConfig | null = null;
	if (listen !== undefined) {
		if (typeof listen !== 'object' || listen === null)
			throw new TypeError("Expected `listen` to be an object like { connection: 'postgres://…' }");
		rejectUnknownOptions('SqlContainer `listen`', listen, ['connection']);
		const { connection } = listen;
		if (typeof connection !== 'string' && (typeof connection !== 'object' || connection === null)) {
			throw new TypeError('Expected `listen.connection` to be a postgres:// URL or a pg connection object');
		}
		listenConnection = connection;
	}
	if (typeof notifyProbe !== 'object' || notifyProbe === null) {
		throw new TypeError('Expected `notifyProbe` to be an object like { intervalMs: 30000, timeoutMs: 3000 }');
	}
	rejectUnknownOptions('SqlContainer `notifyProbe`', notifyProbe, ['intervalMs', 'timeoutMs']);
	return {
		tablePrefix,
		sqlite: { busyTimeoutMs, synchronous },
		notify,
		listen: listenConnection,
		preparedStatements,
		statementFunctions,
		vacuum,
		probeIntervalMs: integer('notifyProbe.intervalMs', notifyProbe.intervalMs ?? 30_000, 100),
		probeTimeoutMs: integer('notifyProbe.timeoutMs', notifyProbe.timeoutMs ?? 3_000, 10),
		safetyWakeMs: integer('notifyProbe.intervalMs', notifyProbe.intervalMs ?? 1_000, 100),
		clock,
		connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs ?? 5_000, 1),
		acquireTimeoutMs:
			options.acquireTimeoutMs === undefined
				? undefined
				: integer('acquireTimeoutMs', options.acquireTimeoutMs, 1),
		limits: {
			globalConcurrency:
				options.globalConcurrency === undefined
					? 0
					: integer('globalConcurrency', options.globalConcurrency, 1),
			rateLimit: checkRateLimit('SqlContainer', 'rateLimit', options.rateLimit),
			groupRateLimit: checkRateLimit('SqlContainer', 'groupRateLimit', options.groupRateLimit),
		},
	};
}

/** A knex warning the container reports itself (as a `ContainerError` naming the server): not printed twice. */
const REPORTED_WARNINGS = /^(Acquire connection error|Connection Error)/;

/**
 * The knex configuration the container makes its instance from: the caller's, with bounded connect and acquire
 * times where the caller set none, and knex's per-failure connection warnings left to the container's errors.
 */
export function boundedConfig(source: Knex.Config, pg: boolean, bounds: ConnectionBounds): Knex.Config {
	const config: Knex.Config = { ...source };
	const acquire = bounds.acquireTimeoutMs ?? (pg ? PG_ACQUIRE_TIMEOUT_MS : undefined);
	if (acquire !== undefined && config.acquireConnectionTimeout === undefined)
		config.acquireConnectionTimeout = acquire;
	const log = source.log;
	config.log = {
		...log,
		warn: (message: string) => {
			if (typeof message === 'string' && REPORTED_WARNINGS.test(message)) return;
			if (log?.warn) log.warn(message);
			else console.warn(message);
		},
	};
	if (pg) {
		const { connection } = source;
		if (typeof connection === 'string') {
			config.connection = {
				connectionString: connection,
				connectionTimeoutMillis: bounds.connectTimeoutMs,
				keepAlive: true,
			};
		} else if (typeof connection === 'object' && connection !== null) {
			config.connection = {
				connectionTimeoutMillis: bounds.connectTimeoutMs,
				keepAlive: true,
				...connection,
			} as Knex.StaticConnectionConfig;
		}
	}
	return config;
}
