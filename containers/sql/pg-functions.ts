/**
 * PostgreSQL: the container's frequent data-modifying statements (the claim, the batched transitions, the renewal,
 * the promotion) carried by server-side functions, so they are planned once per server connection and not on every
 * run, and that without session state: safe behind a pooler in transaction mode.
 *
 * A statement sent unprepared is parsed and planned anew on every run, and planning was a third to half of its
 * server time (docs/benchmarks.md). A PL/pgSQL function keeps its statements' plans per server connection whichever
 * client calls it, and its own `SET plan_cache_mode = force_generic_plan` clause (not the session's) makes the plan
 * a generic one, planned once. The call itself is a short statement, cheap to plan.
 *
 * One function per statement text, made on the text's third run: its name is the container's table prefix, the
 * form's version and a hash of the text (`lightsched_tasks_f1_<hash>`, at most 63 characters), so a name always means the same statement
 * and one lightsched version never replaces another's function (two versions may run side by side). Its parameter
 * types are the ones PostgreSQL infers for the statement (read from a PREPARE of it, in the same implicit
 * transaction, so behind a pooler too); it returns the statement's rows as one JSON array (`json_agg`), so a column
 * another lightsched adds later changes nothing in its signature. Functions are kept in the database; dropping them is
 * safe at any time: a call whose function is gone (SQLSTATE 42883, refused before anything ran) runs the statement
 * itself and the function is made again on a later run.
 *
 * When a function cannot be made because of the database (no CREATE privilege on the schema, no PL/pgSQL, a server
 * before PostgreSQL 12 without `plan_cache_mode`, a read-only server), the container warns once and runs its
 * statements as before.
 */
import { createHash, randomBytes } from 'node:crypto';

/** The version of the functions' form (their body and result); part of every name. */
const FORM = 'f1';
/** The most functions one runner makes (statement texts are few; this only bounds a runaway). */
const MAX_FUNCTIONS = 64;
/** A function is made for a statement once it has run this many times (rare shapes stay statements). */
export const FUNCTION_AFTER = 3;

/** What the functions use of a pooled pg connection. */
export interface PgQueryable {
	query(config: { text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

/** SQLSTATEs that say the database will not take a function at all: stop making them (warned once). */
const NEVER = new Set([
	'42501', // insufficient_privilege: no CREATE on the schema
	'42704', // undefined_object: no plan_cache_mode (before PostgreSQL 12), or no PL/pgSQL
	'25006', // read_only_sql_transaction: a standby
	'0A000', // feature_not_supported
	'42P13', // invalid_function_definition
]);

/** SQLSTATEs of a function made at the same time by another connection: it exists. */
const EXISTS = new Set(['42723', '23505']);

const sqlState = (error: unknown): string | undefined => {
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/** Whether a statement is one a function carries: an UPDATE (or a WITH around one) that returns rows, no INTO. */
export function carriable(sql: string): boolean {
	return /^\s*(WITH|UPDATE)\s/i.test(sql) && /\bRETURNING\b/i.test(sql) && !/\bINTO\b|\$lsq\$/i.test(sql);
}

/**
 * `text` with its rows collected into one JSON array in `lsq_out`: its final part becomes the CTE `lsq_r` (a
 * data-modifying WITH must stay at the top). Null when the text is not of the form this reads: `UPDATE …`, or
 * `WITH name [(columns)] AS (…) [, …] final`, quotes only in plain '…' literals.
 */
export function collectedSql(text: string): string | null {
	const t = text.trim();
	if (!/^WITH\s/i.test(t)) return `WITH lsq_r AS (${t}) SELECT json_agg(lsq_r) INTO lsq_out FROM lsq_r`;
	let depth = 0;
	/** The end of the last top-level parenthesis, while it may close a CTE; -1 otherwise. */
	let closed = -1;
	for (let i = 4; i < t.length; i++) {
		const c = t[i] as string;
		if (c === "'") {
			i = t.indexOf("'", i + 1);
			if (i < 0) return null;
			continue;
		}
		if (c === '(') depth++;
		else if (c === ')') {
			if (--depth < 0) return null;
			if (depth === 0) closed = i;
		} else if (depth === 0 && closed >= 0 && /\S/.test(c)) {
			// After a top-level `)`: `,` starts the next CTE, `AS (` follows a CTE's column list, else the final part.
			if (c === ',' || /^AS\s*\(/i.test(t.slice(i))) {
				closed = -1;
				continue;
			}
			return `${t.slice(0, closed + 1)}, lsq_r AS (${t.slice(i)}) SELECT json_agg(lsq_r) INTO lsq_out FROM lsq_r`;
		}
	}
	return null;
}

/** The function's name for `text`: the prefix, the form's version and a hash of the text (at most 63 characters). */
export function functionName(prefix: string, text: string): string {
	const hash = createHash('sha256').update(`${FORM}\n${text}`).digest('hex').slice(0, 14);
	return `${prefix}tasks_${FORM}_${hash}`;
}

/** The functions of one runner (direct-pg.ts): which statements have one, made on first need. */
export class PgFunctions {
	readonly #prefix: string;
	readonly #warn: (message: string) => void;
	/** The call statement by statement text; null: that text runs as itself. */
	readonly #calls = new Map<string, Promise<string | null>>();
	/** False once the database refused a function (warned once). */
	#enabled = true;

	constructor(prefix: string, warn: (message: string) => void) {
		this.#prefix = prefix;
		this.#warn = warn;
	}

	/**
	 * The call statement for `text` (`$n` placeholders), its function made on `connection` first when needed, or null:
	 * run `text` itself. A call returns one row whose `r` is the statement's rows as a JSON array (or NULL: none).
	 */
	async callFor(connection: PgQueryable, text: string): Promise<string | null> {
		if (!this.#enabled) return null;
		let call = this.#calls.get(text);
		if (call === undefined) {
			if (this.#calls.size >= MAX_FUNCTIONS) return null;
			call = this.#make(connection, text);
			this.#calls.set(text, call);
			// A connection that broke on the way: try again on a later run.
			call.catch(() => this.#calls.delete(text));
		}
		return call;
	}

	/** The function of `text` is gone (dropped under the container): make it again on a later run. */
	forget(text: string): void {
		this.#calls.delete(text);
	}

	async #make(connection: PgQueryable, text: string): Promise<string | null> {
		const body = collectedSql(text);
		if (body === null) return null;
		const name = functionName(this.#prefix, text);
		// Unique across clients: behind a pooler a server session may still hold another client's probe.
		const probe = `lsq_probe_${randomBytes(8).toString('hex')}`;
		let types: string[] = [];
		try {
			// One simple query, one implicit transaction: one server connection behind a pooler too.
			const results = (await connection.query({
				text: `PREPARE ${probe} AS ${text}; SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = '${probe}'; DEALLOCATE ${probe}`,
			})) as unknown as { rows: Record<string, unknown>[] }[];
			types = (results[1]?.rows[0]?.['types'] ?? []) as string[];
			const params = types.join(', ');
			await connection.query({
				text: `CREATE FUNCTION "${name}"(${params}) RETURNS json LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $lsq$
DECLARE lsq_out json; BEGIN ${body}; RETURN lsq_out; END $lsq$`,
			});
		} catch (error) {
			const code = sqlState(error);
			if (code === undefined || code.startsWith('08') || code.startsWith('57P')) throw error;
			if (!EXISTS.has(code)) {
				if (NEVER.has(code)) {
					this.#enabled = false;
					this.#warn(
						`lightsched: PostgreSQL refused the container's statement functions (${code}: ${(error as Error).message}); its statements run as plain statements instead, planned on every run`,
					);
				}
				return null;
			}
		}
		return `SELECT "${name}"(${types.map((type, i) => `$${i + 1}::${type}`).join(', ')}) AS r`;
	}
}

/** The statement's rows from a call's result (`r`: a JSON array, parsed by pg or still text, or NULL). */
export function callRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
	const r = rows[0]?.['r'];
	if (r === null || r === undefined) return [];
	return (typeof r === 'string' ? JSON.parse(r) : r) as Record<string, unknown>[];
}

/** Whether a call failed because its function is gone (refused before anything ran). */
export function functionMissing(error: unknown): boolean {
	return sqlState(error) === '42883';
}
