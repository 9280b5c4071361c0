/**
 * `SqlWorkflowStore.create`'s insert with a token of its call's (`create_token`), sent again when the connection was
 * lost with it on its way. A run of this id that carries the token is this call's: stored by this insert's first
 * try, whose reply was lost, or by an earlier create of the same record that rejected with `RunOutcomeUnknownError`
 * (a `start` tried again, workflows/unsure-starts.ts, hands the store that same record, whose token is kept here).
 * The inserts themselves go through the batcher (run-creates.ts).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { ContainerError } from 'lightsched';
import type { RunRecord } from '../../src/workflow-store.js';
import { RunOutcomeUnknownError } from '../../workflows/errors.js';
import { mayHaveApplied } from './failures.js';
import type { RunRows } from './pooled-statement.js';
import { RunCreateBatcher } from './run-creates.js';
import type { RunWriteValues } from './run-update.js';
import type { SqlDialect } from './schema.js';

/**
 * The pauses before each read-back of a create whose connection was lost (see `#insert`): a few tries within a
 * fraction of a second, then the outcome is reported unknown.
 */
const READ_BACK_PAUSES_MS = [0, 50, 250] as const;

/**
 * What a create came to: `'stored'`, the run is this call's; `'id-taken'`, a unique index refused it and a run of
 * its id is there that is not this call's; `'refused'`, a unique index refused it and no run of its id is there (its
 * key is held by an unfinished unique-key run).
 */
export type RunCreateOutcome = 'stored' | 'id-taken' | 'refused';

export class ResendingRunCreates {
	readonly #table: string;
	/** The database as error messages name it (failures.ts `describeDatabase`). */
	readonly #database: string;
	readonly #closed: () => boolean;
	/** The inserts, coalesced into one statement while the database is busy. */
	readonly #creates: RunCreateBatcher;
	/**
	 * The token of each run record whose create ended in `RunOutcomeUnknownError`: a create of the same record sends
	 * it again, and so knows the run if that one stored it.
	 */
	readonly #tokens = new WeakMap<RunRecord, string>();

	/**
	 * `run`: runs one statement outside a transaction (knex's `raw`, or the container's direct runner); `closed`:
	 * whether the store was closed (no more tries then).
	 */
	constructor(options: {
		table: string;
		dialect: SqlDialect;
		run: RunRows;
		database: string;
		closed: () => boolean;
	}) {
		this.#table = options.table;
		this.#database = options.database;
		this.#closed = options.closed;
		this.#creates = new RunCreateBatcher({ table: options.table, dialect: options.dialect, run: options.run });
	}

	/**
	 * Insert `run` (its row's `values`) with the token of this call's, or the one kept for this record. Rejects with
	 * `RunOutcomeUnknownError` when its outcome could not be learnt (the token kept for a create tried again).
	 */
	async create(knex: Knex, run: RunRecord, values: RunWriteValues): Promise<RunCreateOutcome> {
		const token = this.#tokens.get(run) ?? randomUUID();
		if (!(await this.#insert(run, token, values))) {
			// A unique index refused it: its id, or its key (held by an unfinished unique-key run).
			const holder = (await knex(this.#table).where({ id: run.id }).first('create_token')) as
				{ create_token: string | null } | undefined;
			if (holder?.create_token !== token) return holder === undefined ? 'refused' : 'id-taken';
		}
		this.#tokens.delete(run);
		return 'stored';
	}

	/**
	 * The run's insert: `true` stored, `false` refused by a unique index. When the connection was lost with it on its
	 * way (it may be stored), the same insert again, its token the same (after each of `READ_BACK_PAUSES_MS`: the
	 * pool's other connections may be cut too): it stores the run, or is refused and finds it. When every try
	 * fails, `RunOutcomeUnknownError` (the record's token kept for a create tried again).
	 */
	async #insert(run: RunRecord, token: string, values: RunWriteValues): Promise<boolean> {
		let failure: unknown;
		try {
			return await this.#creates.submit(run.id, run.createdAt, token, values);
		} catch (error) {
			if (!mayHaveApplied((error as { cause?: unknown } | null)?.cause ?? error)) throw error;
			failure = error;
		}
		for (const pause of READ_BACK_PAUSES_MS) {
			await sleep(pause);
			if (this.#closed()) break;
			try {
				return await this.#creates.submit(run.id, run.createdAt, token, values);
			} catch (error) {
				failure = error;
			}
		}
		this.#tokens.set(run, token);
		const message = (failure as Error)?.message ?? String(failure);
		throw new RunOutcomeUnknownError(
			run.id,
			new ContainerError(`Workflow store create failed: ${this.#database}: ${message}`, { cause: failure }),
		);
	}
}
