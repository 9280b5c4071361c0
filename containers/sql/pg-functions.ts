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
 * form's version and a hash of the text (`lightsched_tasks_f2_<hash>`, at most 63 characters), so a name always means the same statement
 * and one lightsched version never replaces another's function (two versions may run side by side). Its parameter
 * types are the ones PostgreSQL infers for the statement (read from a PREPARE of it, in one implicit transaction, so
 * behind a pooler too), and its result columns the ones the server describes for it (a Parse and Describe; nothing
 * runs); the hash covers them too. It returns the statement's rows as they are (`RETURN QUERY`). Functions are kept
 * in the database; dropping them is safe at any time: a call whose function is gone (SQLSTATE 42883), or whose result
 * no longer matches the table's columns (42804: a column added by another lightsched), fails inside the call's own
 * implicit transaction, so nothing of it stays; the statement then runs itself and a function is made again on a
 * later run (for the new columns, a new one).
 *
 * When a function cannot be made because of the database (no CREATE privilege on the schema, no PL/pgSQL, a server
 * before PostgreSQL 12 without `plan_cache_mode`, a read-only server), the container warns once and runs its
 * statements as before.
 *
 * A statement with a parameter or a result column of a pseudo-type (`void`: the stop request's `pg_notify(…)`) gets
 * no function and runs itself: PL/pgSQL takes no such type. Until 7 Dec 2026 its refusal (0A000, read as "this database
 * takes no functions") turned every function of the process off from the third stop request on.
 */
import { createHash, randomBytes } from 'node:crypto';

/** The version of the functions' form (their body and result); part of every name. */
const FORM = 'f2';
/** The most functions one runner makes (statement texts are few; this only bounds a runaway). */
const MAX_FUNCTIONS = 64;
/** A function is made for a statement once it has run this many times (rare shapes stay statements). */
export const FUNCTION_AFTER = 3;

/** What the functions use of a pooled pg connection. */
export interface PgQueryable {
	query(config: { text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
	query(submittable: Describe): unknown;
}

/** A result column as the server describes it. */
interface Field {
	readonly name: string;
	readonly dataTypeID: number;
	readonly dataTypeModifier: number;
}

/** What of pg's connection a `Describe` sends through. */
interface ProtocolConnection {
	parse(query: { text: string; name: string; types: number[] }): void;
	describe(message: { type: 'S'; name: string }): void;
	sync(): void;
}

/**
 * The server's description of a statement's result columns, without running it: an unnamed Parse, a Describe and a
 * Sync, sent as pg's query queue sends any query (its "submittable" interface, as pg-cursor uses it).
 */
class Describe {
	readonly #text: string;
	readonly #resolve: (fields: Field[]) => void;
	readonly #reject: (error: unknown) => void;
	#fields: Field[] = [];

	constructor(text: string, resolve: (fields: Field[]) => void, reject: (error: unknown) => void) {
		this.#text = text;
		this.#resolve = resolve;
		this.#reject = reject;
	}

	submit(connection: ProtocolConnection): void {
		connection.parse({ text: this.#text, name: '', types: [] });
		connection.describe({ type: 'S', name: '' });
		connection.sync();
	}

	handleRowDescription(message: { fields: Field[] }): void {
		this.#fields = message.fields;
	}

	handleError(error: unknown): void {
		this.#reject(error);
	}

	handleReadyForQuery(): void {
		this.#resolve(this.#fields);
	}

	handleDataRow(): void {}
	handleCommandComplete(): void {}
	handleEmptyQuery(): void {}
	handlePortalSuspended(): void {}
}

/** SQLSTATEs that say the database will not take a function at all: stop making them (warned once). */
const NEVER = new Set([
	'42501', // insufficient_privilege: no CREATE on the schema
	'42704', // undefined_object: no plan_cache_mode (before PostgreSQL 12), or no PL/pgSQL
	'25006', // read_only_sql_transaction: a standby
	'0A000', // feature_not_supported
]);

/** SQLSTATEs of a function made at the same time by another connection: it exists. */
const EXISTS = new Set(['42723', '23505']);

const sqlState = (error: unknown): string | undefined => {
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/** Whether a statement is one a function carries: an UPDATE (or a WITH around one) that returns rows. */
export function carriable(sql: string): boolean {
	return /^\s*(WITH|UPDATE)\s/i.test(sql) && /\bRETURNING\b/i.test(sql) && !sql.includes('$lsq$');
}

/**
 * The function's name for `text` returning `columns`: the prefix, the form's version and a hash of both (at most 63
 * characters).
 */
export function functionName(prefix: string, text: string, columns = ''): string {
	const hash = createHash('sha256').update(`${FORM}\n${text}\n${columns}`).digest('hex').slice(0, 14);
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
	 * run `text` itself. A call returns the statement's rows.
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

	/** The function of `text` is gone or no longer fits the table: make one again on a later run. */
	forget(text: string): void {
		this.#calls.delete(text);
	}

	async #make(connection: PgQueryable, text: string): Promise<string | null> {
		// Unique across clients: behind a pooler a server session may still hold another client's probe.
		const probe = `lsq_probe_${randomBytes(8).toString('hex')}`;
		let types: string[] = [];
		try {
			// One simple query, one implicit transaction: one server connection behind a pooler too.
			const results = (await connection.query({
				text: `PREPARE ${probe} AS ${text}; SELECT parameter_types::text[] AS types, EXISTS (SELECT 1 FROM unnest(parameter_types) AS u(t) JOIN pg_type p ON p.oid = u.t WHERE p.typtype = 'p') AS pseudo FROM pg_prepared_statements WHERE name = '${probe}'; DEALLOCATE ${probe}`,
			})) as unknown as { rows: Record<string, unknown>[] }[];
			const described = results[1]?.rows[0];
			types = (described?.['types'] ?? []) as string[];
			if (described?.['pseudo'] === true) return null;
			const fields = await new Promise<Field[]>((resolve, reject) => {
				connection.query(new Describe(text, resolve, reject));
			});
			if (fields.length === 0) return null;
			const { rows } = await connection.query({
				text: `SELECT format_type(t, CASE WHEN m < 0 THEN NULL ELSE m END) AS type, p.typtype = 'p' AS pseudo FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS x(t, m, n) LEFT JOIN pg_type p ON p.oid = x.t ORDER BY n`,
				values: [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier)],
			});
			if (rows.some((row) => row['pseudo'] === true)) return null;
			const columns = fields
				.map((f, i) => `"${f.name.replace(/"/g, '""')}" ${String(rows[i]?.['type'])}`)
				.join(', ');
			const name = functionName(this.#prefix, text, columns);
			const call = `SELECT * FROM "${name}"(${types.map((type, i) => `$${i + 1}::${type}`).join(', ')})`;
			try {
				await connection.query({
					text: `CREATE FUNCTION "${name}"(${types.join(', ')}) RETURNS TABLE (${columns}) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $lsq$
#variable_conflict use_column
BEGIN RETURN QUERY ${text}; END $lsq$`,
				});
			} catch (error) {
				if (!EXISTS.has(sqlState(error) ?? '')) throw error;
			}
			return call;
		} catch (error) {
			const code = sqlState(error);
			if (code === undefined || code.startsWith('08') || code.startsWith('57P')) throw error;
			// Several statements' functions may be on their way when the first refusal comes back: one warning.
			if (NEVER.has(code) && this.#enabled) {
				this.#enabled = false;
				this.#warn(
					`lightsched: PostgreSQL refused the container's statement functions (${code}: ${(error as Error).message}); its statements run as plain statements instead, planned on every run`,
				);
			}
			return null;
		}
	}
}

/**
 * Whether a call failed because its function is gone (42883) or its result no longer matches the table's columns
 * (42804): the call's implicit transaction rolled back, so the statement may run itself.
 */
export function functionUnfit(error: unknown): boolean {
	const code = sqlState(error);
	return code === '42883' || code === '42804';
}
