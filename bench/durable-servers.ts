/**
 * The servers a bench runs on: durable by default, as each peer's documentation advises for production and as
 * issue 13's figures were measured ("fsync on"). The one place for that rule; every bench that starts a
 * redis-server or a PostgreSQL server for a comparison starts it here and prints `SERVERS` with its figures.
 *
 * - PostgreSQL with `fsync` and `full_page_writes` on (its own defaults; the test harness, test/support/postgres.ts,
 *   turns both off to make tests fast);
 * - redis-server with its append-only file synced every second (`--appendonly yes --appendfsync everysec`: BullMQ's
 *   "Going to production"; the test harness starts it with `--save ''` and no AOF, nothing on disk).
 *
 * SQLite runs as the container sets it (WAL, `synchronous = NORMAL`) either way. `DURABLE=0`: the test harness's
 * servers (no fsync, no AOF), the setting of every report before 7 Dec 2026 (the workflow bench's until 11:43 UTC,
 * the other benches' until they started their servers here, the same afternoon).
 */
import { startPostgres, type PostgresServer } from '../test/support/postgres.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';

/** `DURABLE=0` in the environment: the test harness's servers, without fsync nor AOF. */
export const DURABLE = process.env.DURABLE !== '0';

/** redis-server's append-only file synced every second (BullMQ's "Going to production"), whatever `DURABLE` says. */
export const REDIS_AOF_ARGS: readonly string[] = ['--appendonly', 'yes', '--appendfsync', 'everysec'];

/** The redis-server arguments of a durable server (none: the test harness's). */
export const REDIS_ARGS: readonly string[] = DURABLE ? REDIS_AOF_ARGS : [];

/** The PostgreSQL settings of a durable server (none: the test harness's `fsync=off`, `full_page_writes=off`). */
export const PG_SETTINGS: Readonly<Record<string, string>> = DURABLE ? { fsync: 'on', full_page_writes: 'on' } : {};

/** Which servers the bench ran on, for its printed report. */
export const SERVERS = DURABLE
	? 'durable (PostgreSQL fsync and full_page_writes on, redis-server AOF everysec)'
	: 'not durable (DURABLE=0: no fsync, no AOF)';

/** A redis-server for a bench, durable unless `DURABLE=0`. */
export function startBenchRedis(): Promise<RedisServer> {
	return startRedis({ args: REDIS_ARGS });
}

/**
 * A PostgreSQL server for a bench, durable unless `DURABLE=0`; `settings` are the bench's own (e.g.
 * `max_connections`), laid over the durability settings.
 */
export function startBenchPostgres(settings: Readonly<Record<string, string>> = {}): Promise<PostgresServer> {
	return startPostgres({ settings: { ...PG_SETTINGS, ...settings } });
}
