/**
 * PostgreSQL without knex's query path: the container's own statements (claims, transitions, renewals, the
 * promotion) go straight to a pooled pg connection. knex built each raw statement anew (bindings formatted, `?`
 * rewritten to `$n` by a regular expression, a runner and its promises per statement); here the `$n` form of each
 * statement is made once and kept. The connection still comes from knex's pool, with knex's events
 * (pooled-statement.ts).
 *
 * With `prepared` (the `preparedStatements` option, off by default: session state, not for a pooler in transaction
 * mode) a text run often is prepared (a named statement, parsed once per connection), and each connection's first
 * prepared statement is preceded by `SET plan_cache_mode = force_generic_plan`, so it is planned once: without
 * that PostgreSQL plans a prepared statement anew for its values until a generic plan looks no dearer, and the
 * batched transitions' never does. Planning was about a third of the statements' server time (pg_stat_statements,
 * docs/benchmarks.md). Unprepared statements are planned for their values as always. A prepared statement whose
 * result type changed under it (a column added by a newer lightsched in another process) is refused by the server
 * before it runs; it then runs again unprepared, and that text is not prepared again.
 *
 * Without `prepared` (the default), the container's frequent data-modifying statements run through server-side
 * functions made for them (pg-functions.ts): planned once per server connection with a generic plan, without
 * session state, so behind a pooler too.
 */
import type { Knex } from 'knex';
import { carriable, FUNCTION_AFTER, functionUnfit, PgFunctions, type PgQueryable } from './pg-functions.js';
import { runPooled, type PooledClient, type RunRows } from './pooled-statement.js';

interface PgConnection {
	query(config: { text: string; values?: unknown[]; name?: string }): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The most statements whose `$n` form is kept (the container's shapes are few; this only bounds a runaway). */
const MAX_KEPT = 2_000;
/** A text is prepared once it has run this many times (rare shapes, e.g. a renewal of 7 ids, stay unprepared). */
const PREPARE_AFTER = 3;
/** The most texts one runner prepares (each costs its plan's memory in every pooled connection that ran it). */
const MAX_PREPARED = 64;

interface Kept {
	readonly text: string;
	/**
	 * How often it ran: towards `PREPARE_AFTER` when this runner prepares, towards `FUNCTION_AFTER` when it makes
	 * statement functions. One counter serves both since a runner does one or the other, never both (no functions
	 * when `prepared`: see `carriers`).
	 */
	runs: number;
	/** Its prepared statement's name; undefined while unprepared; null: never prepare it. */
	name: string | null | undefined;
	/** Whether a function carries it (pg-functions.ts): undefined until decided. */
	carried: boolean | undefined;
}

/** Whether the server refused a prepared statement because its result's columns changed (it did not run). */
function stalePlan(error: unknown): boolean {
	const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
	return (
		code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type')
	);
}

/** Distinct names for prepared statements in this process (a name is never given to a second text). */
let preparedSerial = 0;

/** `?` placeholders to `$1`, `$2`, … (the container's SQL has no `?` of any other kind). */
function numbered(sql: string): string {
	let n = 0;
	return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * The function registry of `client`'s runners for table prefix `prefix`: one per knex instance and prefix, so the
 * container and a `SqlWorkflowStore` sharing its connection make each function once and a database that refuses
 * them is warned about once.
 */
const registries = new WeakMap<object, Map<string, PgFunctions>>();

function sharedFunctions(client: PooledClient, prefix: string): PgFunctions {
	let byPrefix = registries.get(client);
	if (byPrefix === undefined) registries.set(client, (byPrefix = new Map()));
	let functions = byPrefix.get(prefix);
	if (functions === undefined) {
		functions = new PgFunctions(prefix, (message) => {
			const logger = (client as { logger?: { warn?: (m: string) => void } }).logger;
			if (typeof logger?.warn === 'function') logger.warn(message);
			else console.warn(message);
		});
		byPrefix.set(prefix, functions);
	}
	return functions;
}

/**
 * The direct runner for `knex` when it is a pg client whose results knex does not post-process; otherwise null
 * (use knex). With `functions` (a table prefix) and not `prepared`, its frequent data-modifying statements run
 * through server-side functions (pg-functions.ts).
 */
export function directPg(knex: Knex, prepared = false, functions: string | null = null): RunRows | null {
	const client = knex.client as unknown as PooledClient;
	if (client.dialect !== 'postgresql' || client.config?.postProcessResponse !== undefined) return null;
	const texts = new Map<string, Kept>();
	let preparedCount = 0;
	/** Connections whose plan cache mode was set. */
	const generic = new WeakSet<object>();
	const carriers = functions === null || prepared ? null : sharedFunctions(client, functions);

	return async (sql, bindings) => {
		let kept = texts.get(sql);
		if (kept === undefined) {
			// Names already given stay unique (a cleared text gets a new one), so clearing is always safe.
			if (texts.size >= MAX_KEPT) texts.clear();
			kept = { text: numbered(sql), runs: 0, name: undefined, carried: undefined };
			texts.set(sql, kept);
		}
		if (prepared && kept.name === undefined && ++kept.runs >= PREPARE_AFTER && preparedCount < MAX_PREPARED) {
			preparedCount++;
			kept.name = `lightsched_${++preparedSerial}`;
		}
		const entry = kept;
		const values = bindings as unknown[];
		if (carriers !== null && entry.carried !== false && (entry.carried || ++entry.runs >= FUNCTION_AFTER)) {
			entry.carried ??= carriable(sql);
			if (entry.carried)
				return runPooled<PgConnection>(client, sql, bindings, async (connection) => {
					// A pg client: it takes pg's query configs and its submittables alike.
					const call = await carriers.callFor(connection as unknown as PgQueryable, entry.text);
					if (call !== null) {
						try {
							return (await connection.query({ text: call, values })).rows;
						} catch (error) {
							if (!functionUnfit(error)) throw error;
							carriers.forget(entry.text);
						}
					}
					return (await connection.query({ text: entry.text, values })).rows;
				});
		}
		return runPooled<PgConnection>(client, sql, bindings, async (connection) => {
			if (typeof entry.name !== 'string') return (await connection.query({ text: entry.text, values })).rows;
			if (!generic.has(connection)) {
				// PostgreSQL before 12 has no such setting: then the statements are only prepared.
				await connection
					.query({ text: 'SET plan_cache_mode = force_generic_plan', values: [] })
					.catch((error: unknown) => {
						if ((error as { code?: unknown } | null)?.code !== '42704') throw error;
					});
				generic.add(connection);
			}
			try {
				return (await connection.query({ name: entry.name, text: entry.text, values })).rows;
			} catch (error) {
				if (!stalePlan(error)) throw error;
				entry.name = null;
				return (await connection.query({ text: entry.text, values })).rows;
			}
		});
	};
}
