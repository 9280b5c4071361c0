/**
 * The compare-and-set writes of `SqlWorkflowStore.update`, coalesced. A write asked for while another statement is
 * on its way joins the next batch, and a batch runs as ONE `UPDATE … FROM (VALUES …) … RETURNING id` statement in
 * which every row keeps its own compare-and-set (`id` and `rev`): one statement and one commit for the runs of many
 * step ends instead of one each. Nothing waits for a timer: a lone write runs at once; batches form only while the
 * database is busy. (The same shape as the task transitions, sql/transitions.ts.)
 */
import type { SqlDialect } from './schema.js';
import { refusedByDatabase, type RunSql } from './transitions.js';

/** The columns of a run row a write sets, in this order. */
export const RUN_WRITE_COLUMNS = [
	'definition',
	'version',
	'run_key',
	'active_key',
	'status',
	'open',
	'updated_at',
	'rev',
	'body',
] as const;

/** A run row's new values, by column. */
export type RunWriteValues = Record<(typeof RUN_WRITE_COLUMNS)[number], unknown>;

const PG_TYPES: Record<(typeof RUN_WRITE_COLUMNS)[number], string> = {
	definition: 'text',
	version: 'integer',
	run_key: 'text',
	active_key: 'text',
	status: 'text',
	open: 'boolean',
	updated_at: 'bigint',
	rev: 'integer',
	body: 'text',
};

/** The most writes in one statement (each carries 11 values; run bodies are a few KB each). */
const MAX_BATCH = 100;

interface Pending {
	readonly id: string;
	readonly rev: number;
	readonly values: RunWriteValues;
	resolve(written: boolean): void;
	reject(error: unknown): void;
}

export class RunWriteBatcher {
	readonly #dialect: SqlDialect;
	readonly #table: string;
	readonly #run: RunSql;
	#queue: Pending[] = [];
	#inFlight = false;

	constructor(options: { dialect: SqlDialect; table: string; run: RunSql }) {
		this.#dialect = options.dialect;
		this.#table = options.table;
		this.#run = options.run;
	}

	/**
	 * Queue the write of run `id` if its stored `rev` is `rev`; resolves with whether it was written. Rejects with
	 * the database's error for this write alone (a refused batch is run again write by write).
	 */
	submit(id: string, rev: number, values: RunWriteValues): Promise<boolean> {
		return new Promise((resolve, reject) => {
			this.#queue.push({ id, rev, values, resolve, reject });
			this.#pump();
		});
	}

	#pump(): void {
		if (this.#inFlight || this.#queue.length === 0) return;
		// One write per run per statement, in call order: a second write of a run waits for a later statement.
		const batch: Pending[] = [];
		const rest: Pending[] = [];
		const ids = new Set<string>();
		for (const pending of this.#queue) {
			if (batch.length < MAX_BATCH && !ids.has(pending.id)) batch.push(pending);
			else rest.push(pending);
			ids.add(pending.id);
		}
		this.#queue = rest;
		this.#inFlight = true;
		void this.#runBatch(batch).finally(() => {
			this.#inFlight = false;
			this.#pump();
		});
	}

	async #runBatch(batch: Pending[]): Promise<void> {
		try {
			const rows = await (batch.length === 1 ? this.#single(batch[0] as Pending) : this.#many(batch));
			const written = new Set(rows.map((row) => String(row['id'])));
			for (const pending of batch) pending.resolve(written.has(pending.id));
		} catch (error) {
			// A refused statement was rolled back: one bad write (a unique key taken) must not fail the others. A
			// broken connection may have committed it with the reply lost: every caller gets the error then.
			if (batch.length === 1 || !refusedByDatabase(error)) {
				for (const pending of batch) pending.reject(error);
				return;
			}
			for (const pending of batch) await this.#runBatch([pending]);
		}
	}

	#single(p: Pending): Promise<Record<string, unknown>[]> {
		const sets = RUN_WRITE_COLUMNS.map((column) => `${column} = ?`).join(', ');
		return this.#run(`UPDATE ${this.#table} SET ${sets} WHERE id = ? AND rev = ? RETURNING id`, [
			...RUN_WRITE_COLUMNS.map((column) => p.values[column]),
			p.id,
			p.rev,
		]);
	}

	#many(batch: Pending[]): Promise<Record<string, unknown>[]> {
		const pg = this.#dialect === 'pg';
		const mark = (type: string): string => (pg ? `?::${type}` : '?');
		// `c_` columns are the comparison, `n_` the new values.
		const columns = ['c_id', 'c_rev', ...RUN_WRITE_COLUMNS.map((column) => `n_${column}`)];
		const row = `(${[mark('text'), mark('integer'), ...RUN_WRITE_COLUMNS.map((column) => mark(PG_TYPES[column]))].join(', ')})`;
		const bindings: unknown[] = [];
		for (const p of batch) {
			bindings.push(p.id, p.rev);
			for (const column of RUN_WRITE_COLUMNS) bindings.push(p.values[column]);
		}
		const sets = RUN_WRITE_COLUMNS.map((column) => `${column} = v.n_${column}`).join(', ');
		return this.#run(
			`WITH v (${columns.join(', ')}) AS (VALUES ${batch.map(() => row).join(', ')})
			UPDATE ${this.#table} AS t SET ${sets} FROM v WHERE t.id = v.c_id AND t.rev = v.c_rev RETURNING ${pg ? 't.id' : 'id'}`,
			bindings,
		);
	}
}
