/**
 * The inserts of `SqlWorkflowStore.create`, coalesced as the run writes are (run-writes.ts): a create asked for
 * while another insert is on its way joins the next batch, and a batch is ONE `INSERT … ON CONFLICT DO NOTHING
 * RETURNING id` of all its rows (one statement and one commit for the runs of many concurrent starts instead
 * of one each). A row a unique index refuses (its id, or the key of a unique-key run) is left out of the batch
 * without failing the others; its caller is answered `false` and finds out which index refused it. Nothing waits
 * for a timer: a lone create runs at once; batches form only while the database is busy. Each row carries its
 * create's token (`create_token`), which no update changes (see run-create-resend.ts).
 */
import { PG_TYPES, pgColumnArgument, RUN_WRITE_COLUMNS, type RunWriteValues } from './run-update.js';
import type { RunRows } from './pooled-statement.js';
import type { SqlDialect } from './schema.js';
import { refusedByDatabase } from './transitions.js';

/** The most runs in one statement (12 values each; run bodies are a few KB each). */
const MAX_BATCH = 100;

/** `create_token`: the create call's own token (see run-create-resend.ts), never updated. */
const COLUMNS = ['id', 'created_at', 'create_token', ...RUN_WRITE_COLUMNS] as const;

/** Each column's PostgreSQL type, for its array. */
const PG_COLUMN_TYPES: Record<(typeof COLUMNS)[number], string> = {
	id: 'text',
	created_at: 'bigint',
	create_token: 'text',
	...PG_TYPES,
};

interface Pending {
	readonly id: string;
	readonly createdAt: number;
	readonly token: string;
	readonly values: RunWriteValues;
	/** `true`: inserted; `false`: a unique index refused it (its id or its key is taken). */
	resolve(inserted: boolean): void;
	reject(error: unknown): void;
}

export class RunCreateBatcher {
	readonly #table: string;
	readonly #dialect: SqlDialect;
	readonly #statement: RunRows;
	#queue: Pending[] = [];
	#inFlight = false;

	/** `run`: runs one statement outside a transaction (knex's `raw`, or the container's direct runner). */
	constructor(options: { table: string; dialect: SqlDialect; run: RunRows }) {
		this.#table = options.table;
		this.#dialect = options.dialect;
		this.#statement = options.run;
	}

	/**
	 * Queue the insert of run `id` with its create's `token`; resolves `true` once stored, `false` when a unique index
	 * refused it.
	 */
	submit(id: string, createdAt: number, token: string, values: RunWriteValues): Promise<boolean> {
		return new Promise((resolve, reject) => {
			this.#queue.push({ id, createdAt, token, values, resolve, reject });
			this.#pump();
		});
	}

	#pump(): void {
		if (this.#inFlight || this.#queue.length === 0) return;
		const batch = this.#queue.slice(0, MAX_BATCH);
		this.#queue = this.#queue.slice(MAX_BATCH);
		this.#inFlight = true;
		void this.#run(batch).finally(() => {
			this.#inFlight = false;
			this.#pump();
		});
	}

	/**
	 * The batch's `INSERT … ON CONFLICT DO NOTHING RETURNING id`. On PostgreSQL the rows come as one array per column
	 * (`WITH v AS (SELECT * FROM unnest(…)) INSERT … SELECT`): the same text for every batch size, so one statement
	 * function carries them all (pg-functions.ts); on SQLite a multi-row VALUES.
	 */
	#insert(batch: Pending[]): [sql: string, bindings: unknown[]] {
		const columns = COLUMNS.join(', ');
		if (this.#dialect === 'pg') {
			const args = COLUMNS.map((column) =>
				pgColumnArgument(
					column,
					PG_COLUMN_TYPES[column],
					batch.map((p) => pendingValue(p, column)),
				),
			);
			return [
				`WITH v (${columns}) AS (SELECT * FROM unnest(${args.map(([arg]) => arg).join(', ')})) ` +
					`INSERT INTO ${this.#table} (${columns}) SELECT ${columns} FROM v ON CONFLICT DO NOTHING RETURNING id`,
				args.map(([, binding]) => binding),
			];
		}
		const row = `(${COLUMNS.map(() => '?').join(', ')})`;
		const bindings: unknown[] = [];
		for (const p of batch) for (const column of COLUMNS) bindings.push(pendingValue(p, column));
		return [
			`INSERT INTO ${this.#table} (${columns}) VALUES ${batch.map(() => row).join(', ')} ON CONFLICT DO NOTHING RETURNING id`,
			bindings,
		];
	}

	async #run(batch: Pending[]): Promise<void> {
		try {
			const rows = await this.#statement(...this.#insert(batch));
			const inserted = new Set(rows.map((r) => String(r['id'])));
			// Two creates of one id in a batch: the first inserted it, the second was refused.
			const seen = new Set<string>();
			for (const p of batch) {
				const mine = inserted.has(p.id) && !seen.has(p.id);
				seen.add(p.id);
				p.resolve(mine);
			}
		} catch (error) {
			// A refused statement was rolled back: one bad row must not fail the others (each is tried alone). A broken
			// connection may have committed it with the reply lost: every caller gets the error then.
			if (batch.length === 1 || !refusedByDatabase(error)) for (const p of batch) p.reject(error);
			else for (const p of batch) await this.#run([p]);
		}
	}
}

/** A queued create's value of `column`. */
function pendingValue(p: Pending, column: (typeof COLUMNS)[number]): unknown {
	switch (column) {
		case 'id':
			return p.id;
		case 'created_at':
			return p.createdAt;
		case 'create_token':
			return p.token;
		default:
			return p.values[column];
	}
}
