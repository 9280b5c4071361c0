/**
 * The SQL of compare-and-set transitions (transitions.ts batches and runs them): one transition as a plain
 * `UPDATE … RETURNING`, a batch as ONE `UPDATE … FROM (rows) … RETURNING` in which every row keeps its own
 * compare-and-set (`id`, `status`, and `owner` when given, and the claim, `attempts` and `started_at`, when named:
 * `ClaimGuard`). On PostgreSQL the rows come as one array per column
 * (`unnest`), so the statement's text and its planning time do not grow with the batch; on SQLite as a `VALUES`
 * list, one text per size.
 */
import { PATCH_COLUMNS, PATCH_KEYS, patchValue } from './rows.js';
import type { SqlDialect } from './schema.js';
import type { TransitionRequest } from './transitions.js';

/** One statement and its bindings. */
export interface Statement {
	readonly sql: string;
	readonly bindings: readonly unknown[];
}

/** A key of a task patch that a transition can set. */
export type PatchKey = (typeof PATCH_KEYS)[number];

/** Batched statement shapes kept (see `batchSql`). */
const MAX_SHAPES = 1_000;

export class TransitionStatements {
	readonly #dialect: SqlDialect;
	readonly #table: string;
	readonly #bool: (v: boolean) => unknown;
	/** The SQL for the database's clock when `updated_at` is the server's (PostgreSQL, clock 'server'), else null. */
	readonly #serverNow: string | null;
	/** The batched statement's SQL by shape (patch keys, and size on SQLite). */
	readonly #shapes = new Map<string, { head: string; update: string }>();

	constructor(options: {
		dialect: SqlDialect;
		table: string;
		bool: (v: boolean) => unknown;
		serverNow: string | null;
	}) {
		this.#dialect = options.dialect;
		this.#table = options.table;
		this.#bool = options.bool;
		this.#serverNow = options.serverNow;
	}

	/** A bound "now" in SQL. */
	get #nowMark(): string {
		return this.#dialect === 'pg' ? '?::bigint' : '?';
	}

	/** One transition as a plain `UPDATE … RETURNING`, with its own compare-and-set. */
	single(p: TransitionRequest): Statement {
		const sets = ['status = ?', `updated_at = ${this.#serverNow ?? '?'}`];
		const bindings: unknown[] = this.#serverNow === null ? [p.to, p.updatedAt] : [p.to];
		for (const key of PATCH_KEYS) {
			const value = p.patch[key];
			if (value === undefined) continue;
			sets.push(`${PATCH_COLUMNS[key].column} = ?`);
			bindings.push(patchValue(key, value, this.#bool));
		}
		if (p.to === 'waiting') {
			// Back to waiting: delayed (out of the claim index) when its run_at is still ahead (schema 5).
			const runAt = p.patch.runAt === undefined ? 'run_at' : this.#dialect === 'pg' ? '?::bigint' : '?';
			if (p.patch.runAt !== undefined) bindings.push(p.patch.runAt);
			sets.push(`delayed = CASE WHEN ${runAt} > ${this.#serverNow ?? this.#nowMark} THEN 1 ELSE 0 END`);
			if (this.#serverNow === null) bindings.push(p.updatedAt);
		}
		bindings.push(p.id, p.from);
		let where = 'id = ? AND status = ?';
		if (p.owner !== undefined) {
			where += ' AND owner = ?';
			bindings.push(p.owner);
		}
		if (p.claim !== undefined) {
			where += ` AND attempts = ? AND ${this.#sameStart('started_at', this.#dialect === 'pg' ? '?::bigint' : '?')}`;
			bindings.push(p.claim.attempts, p.claim.startedAt);
		}
		const sql = `UPDATE ${this.#table} SET ${sets.join(', ')} WHERE ${where} RETURNING *`;
		return { sql, bindings };
	}

	/** `column` equal to `value`, `NULL` to `NULL` too (a claim's `started_at`). */
	#sameStart(column: string, value: string): string {
		return this.#dialect === 'pg' ? `${column} IS NOT DISTINCT FROM ${value}` : `${column} IS ${value}`;
	}

	/**
	 * The bindings of a batch setting `keys`: one array per column on PostgreSQL, row by row on SQLite. `guarded`:
	 * with the claim's columns (see `batchSql`).
	 */
	bindings(batch: readonly TransitionRequest[], keys: readonly PatchKey[], guarded = false): unknown[] {
		return this.#dialect === 'pg'
			? this.#columnBindings(batch, keys, guarded)
			: this.#rowBindings(batch, keys, guarded);
	}

	/**
	 * SQLite: the bindings row by row, as the `VALUES` list takes them. A flag is text, '1' or '0' (true and false
	 * alike in the statement's `CASE WHEN`), and the value of a field not set is '' (never read): the `sqlite3`
	 * driver binds a string at once, any other value only after an `instanceof` test of its own (most of its binding
	 * time in a perf profile, 5 Dec 2026).
	 */
	#rowBindings(batch: readonly TransitionRequest[], keys: readonly PatchKey[], guarded: boolean): unknown[] {
		const bindings: unknown[] = [];
		for (const p of batch) {
			bindings.push(p.id, p.from, p.to, p.owner ?? null, p.updatedAt);
			if (guarded) bindings.push(p.claim?.attempts ?? null, p.claim?.startedAt ?? null);
			for (const key of keys) {
				const value = p.patch[key];
				if (value === undefined) bindings.push('0', '');
				else bindings.push('1', patchValue(key, value, this.#bool));
			}
		}
		return bindings;
	}

	/** PostgreSQL: one array per column, as `unnest` takes them (see `batchSql`). */
	#columnBindings(batch: readonly TransitionRequest[], keys: readonly PatchKey[], guarded: boolean): unknown[][] {
		const first = guarded ? 7 : 5;
		const columns: unknown[][] = Array.from(
			{ length: first + 2 * keys.length },
			() => new Array<unknown>(batch.length),
		);
		batch.forEach((p, i) => {
			(columns[0] as unknown[])[i] = p.id;
			(columns[1] as unknown[])[i] = p.from;
			(columns[2] as unknown[])[i] = p.to;
			(columns[3] as unknown[])[i] = p.owner ?? null;
			(columns[4] as unknown[])[i] = p.updatedAt;
			if (guarded) {
				(columns[5] as unknown[])[i] = p.claim?.attempts ?? null;
				(columns[6] as unknown[])[i] = p.claim?.startedAt ?? null;
			}
			keys.forEach((key, k) => {
				const value = p.patch[key];
				(columns[first + 2 * k] as unknown[])[i] = value !== undefined;
				(columns[first + 1 + 2 * k] as unknown[])[i] =
					value === undefined ? null : patchValue(key, value, this.#bool);
			});
		});
		return columns;
	}

	/**
	 * The SQL of a batch of `n` transitions setting `keys`, built once per shape (the driver's statement cache then
	 * hits). `guarded`: some transition names its claim (`ClaimGuard`); the rows then carry `c_attempts` and
	 * `c_started` (null for a row that names none), and only such a batch pays for them.
	 */
	batchSql(keys: readonly PatchKey[], n: number, guarded = false): { head: string; update: string } {
		const pg = this.#dialect === 'pg';
		// PostgreSQL takes one array per column, so its text does not depend on the batch's size.
		const shape = `${pg ? keys.join(',') : `${keys.join(',')}|${n}`}${guarded ? '|claim' : ''}`;
		const known = this.#shapes.get(shape);
		if (known !== undefined) return known;
		const cast = (type: string): string => (pg ? `?::${type}` : '?');
		const flagType = 'boolean';
		// `c_` columns are the comparison and the new status, `f_` says whether the patch sets a field, `p_` its value.
		const columns = [
			'c_id',
			'c_from',
			'c_to',
			'c_owner',
			'c_updated',
			...(guarded ? ['c_attempts', 'c_started'] : []),
			...keys.flatMap((key) => [`f_${key}`, `p_${key}`]),
		];
		const types = [
			'text',
			'text',
			'text',
			'text',
			'bigint',
			...(guarded ? [PATCH_COLUMNS.attempts.pgType, PATCH_COLUMNS.startedAt.pgType] : []),
			...keys.flatMap((key) => [flagType, PATCH_COLUMNS[key].pgType]),
		];
		const rowSql = `(${types.map(cast).join(', ')})`;
		// A task put back to waiting is delayed (out of the claim index) when its new run_at is still ahead (schema 5).
		const runAt = keys.includes('runAt') ? 'CASE WHEN v.f_runAt THEN v.p_runAt ELSE t.run_at END' : 't.run_at';
		const sets = [
			'status = v.c_to',
			`updated_at = ${this.#serverNow ?? 'v.c_updated'}`,
			`delayed = CASE WHEN v.c_to <> 'waiting' THEN t.delayed WHEN ${runAt} > ${this.#serverNow ?? 'v.c_updated'} THEN 1 ELSE 0 END`,
			...keys.map((key) => {
				const column = PATCH_COLUMNS[key].column;
				return `${column} = CASE WHEN v.f_${key} THEN v.p_${key} ELSE t.${column} END`;
			}),
		];
		const claimed = guarded
			? ` AND (v.c_attempts IS NULL OR (t.attempts = v.c_attempts AND ${this.#sameStart('t.started_at', 'v.c_started')}))`
			: '';
		const sql = {
			head: pg
				? `WITH v (${columns.join(', ')}) AS (SELECT * FROM unnest(${types.map((type) => `?::${type}[]`).join(', ')}))`
				: `WITH v (${columns.join(', ')}) AS (VALUES ${Array.from({ length: n }, () => rowSql).join(', ')})`,
			update: `UPDATE ${this.#table} AS t SET ${sets.join(', ')}
			FROM v WHERE t.id = v.c_id AND t.status = v.c_from AND (v.c_owner IS NULL OR t.owner = v.c_owner)${claimed}
			RETURNING ${pg ? 't.*' : '*'}`,
		};
		// Shapes are few (the patch keys a scheduler's transitions set, times batch sizes up to MAX_BATCH); the cap
		// only guards against a caller with ever-new combinations.
		if (this.#shapes.size >= MAX_SHAPES) this.#shapes.clear();
		this.#shapes.set(shape, sql);
		return sql;
	}
}
