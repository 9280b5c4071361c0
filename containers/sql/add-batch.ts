/**
 * Writing one batch of adds (see add-queue.ts), each add keeping its own outcome: a duplicate id or a held
 * deduplication key refuses only the add that brings it, and the others are stored.
 *
 * On PostgreSQL a batch is first tried as ONE statement, committed on its own: it deletes the finished rows the
 * batch replaces (and their log lines), inserts every row, and sends the wake-up notification (delivered at
 * commit). A task whose id or key a waiting or running row holds makes the database refuse that statement (the
 * unique indexes), and then nothing of it was written. The batch then goes through the checked path: a
 * transaction that replaces finished rows, looks for held ids and keys, and, when it finds some, rolls back,
 * refuses those adds and writes the rest again. On SQLite, where a write statement cannot carry other writes (no
 * data-modifying WITH), the one statement is a plain multi-row INSERT, refused as well when a stored row (even a
 * finished one, which the checked path replaces) has one of its ids; the checked transaction's first statement is a
 * write, so it holds the write lock from its start.
 */
import type { Knex } from 'knex';
import { DuplicateKeyError, DuplicateTaskError } from 'lightsched/kit';
import type { AddEntry } from './add-queue.js';
import { insertStatement, insertTasks, takeSeqs, type InsertShape } from './insert.js';
import { dropLogs } from './logs.js';
import type { SqlDialect, SqlTables } from './schema.js';
import { chunks, FINAL_SQL, isUniqueViolation, marks, rowsOf } from './statements.js';
import { refusedByDatabase } from './transitions.js';

export interface AddBatchParts {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly tables: SqlTables;
	readonly shape: InsertShape;
	/** PostgreSQL with `notify`: the wake-up's channel and payload; null: none. */
	readonly wake: readonly [channel: string, payload: string] | null;
	/** One add alone in a transaction of its own (the container's general path, which names its duplicate). */
	readonly alone: (entry: AddEntry) => Promise<void>;
}

/** How often the checked path looks again after another process stored a clashing id or key meanwhile. */
const RACE_ROUNDS = 3;

/** Store `batch` (at most CHUNK rows in all) and settle each of its adds. */
export async function writeBatch(parts: AddBatchParts, batch: readonly AddEntry[]): Promise<void> {
	try {
		await (parts.dialect === 'pg' ? oneStatement(parts, batch) : plainInsert(parts, batch));
		for (const entry of batch) entry.resolve();
		return;
	} catch (error) {
		// PostgreSQL: no reply (a broken connection) leaves unknown whether it was written, and a retry could store it
		// twice. SQLite: busy, locked and the like would fail the checked path the same way. Anything else (an id
		// stored already, a held key, data it refused): nothing was written, and the checked path sorts it out.
		const checkedPath = parts.dialect === 'pg' ? refusedByDatabase(error) : blamesTheData(error);
		if (!checkedPath) return rejectAll(batch, error);
	}
	let live = batch;
	for (let round = 1; live.length > 0; round++) {
		let refused: Map<AddEntry, Error>;
		try {
			refused = await checked(parts, live);
		} catch (error) {
			// Another process stored a clashing id or key between our look and our insert: look again.
			if (isUniqueViolation(error) && round < RACE_ROUNDS) continue;
			// Still clashing, or data the database refused: each add alone, so only the one that brings it fails.
			if (isUniqueViolation(error) || (live.length > 1 && blamesTheData(error))) return eachAlone(parts, live);
			return rejectAll(live, error);
		}
		for (const [entry, error] of refused) entry.reject(error);
		if (refused.size === 0) {
			for (const entry of live) entry.resolve();
			return;
		}
		live = live.filter((entry) => !refused.has(entry));
	}
}

function rejectAll(batch: readonly AddEntry[], error: unknown): void {
	for (const entry of batch) entry.reject(error);
}

async function eachAlone(parts: AddBatchParts, batch: readonly AddEntry[]): Promise<void> {
	for (const entry of batch) await parts.alone(entry).then(entry.resolve, entry.reject);
}

/**
 * Whether the database refused the statement for something in the rows themselves (a value it cannot store, a
 * constraint), rather than for its own state (busy, locked, out of resources, shutting down).
 */
function blamesTheData(error: unknown): boolean {
	if (!refusedByDatabase(error)) return false;
	const code = String((error as { code?: unknown }).code);
	if (code.startsWith('SQLITE_')) return !/^SQLITE_(BUSY|LOCKED|NOMEM|FULL|READONLY|INTERRUPT)/.test(code);
	return ['22', '23', '42', '54'].includes(code.slice(0, 2));
}

/** PostgreSQL: replace, insert and wake in one statement; throws (nothing written) on a held id or key. */
async function oneStatement(parts: AddBatchParts, batch: readonly AddEntry[]): Promise<void> {
	const { tables, wake } = parts;
	const tasks = batch.flatMap((entry) => entry.tasks);
	const items = batch.flatMap((entry) => entry.items);
	const ids = tasks.map((task) => task.id);
	// The first row's status is read through `gone`, so the finished rows are deleted before any row goes in (a
	// data-modifying WITH runs in no set order otherwise, and the new row would clash with the one it replaces).
	const insert = insertStatement(
		parts.shape,
		tasks,
		items,
		`(SELECT 'waiting'::text FROM (SELECT COUNT(*) FROM gone) AS g)`,
	);
	const sql =
		`WITH gone AS (DELETE FROM ${tables.tasks} WHERE status IN ${FINAL_SQL} AND id IN (${marks(ids.length)}) RETURNING seq), ` +
		`dropped AS (DELETE FROM ${tables.logs} WHERE task_seq IN (SELECT seq FROM gone)), ` +
		`added AS (${insert.sql}) ` +
		`SELECT id, seq${wake === null ? '' : ', (SELECT pg_notify(?, ?)) IS NULL AS woke'} FROM added`;
	const rows = await rowsOf(parts.knex, sql, [...ids, ...insert.bindings, ...(wake ?? [])]);
	takeSeqs(tasks, rows);
}

/**
 * SQLite: the batch as ONE multi-row INSERT, committed on its own. Any stored row with one of its ids (a finished
 * task the add would replace, or a held one) and any waiting or running task holding one of its keys makes the
 * database refuse it (the unique indexes), and then nothing of it was written. One statement holds the write lock
 * only while SQLite runs it, where the checked transaction holds it across five round trips to the driver's thread
 * (BEGIN, DELETE, SELECT, INSERT, COMMIT), and a writer of another process that meets the lock waits in SQLite's
 * busy handler, which sleeps 1, 2, 5, 10 ms and longer between tries.
 */
async function plainInsert(parts: AddBatchParts, batch: readonly AddEntry[]): Promise<void> {
	const tasks = batch.flatMap((entry) => entry.tasks);
	const insert = insertStatement(
		parts.shape,
		tasks,
		batch.flatMap((entry) => entry.items),
	);
	takeSeqs(tasks, await rowsOf(parts.knex, insert.sql, insert.bindings));
}

/** Thrown inside the checked transaction to roll it back: the adds refused, with their errors. */
class Refusals extends Error {
	constructor(readonly refused: Map<AddEntry, Error>) {
		super('refused adds');
	}
}

/**
 * The checked path, one transaction: replace finished rows, look for held ids and keys; with none, insert and
 * wake; otherwise roll back and return who is refused and why (nothing written).
 */
async function checked(parts: AddBatchParts, batch: readonly AddEntry[]): Promise<Map<AddEntry, Error>> {
	const { knex, tables, wake } = parts;
	const t = tables.tasks;
	const tasks = batch.flatMap((entry) => entry.tasks);
	const ids = tasks.map((task) => task.id);
	const keys = tasks.flatMap((task) => (task.key === null ? [] : [task.key]));
	try {
		await knex.transaction(async (trx) => {
			const replaced: number[] = [];
			for (const part of chunks(ids)) {
				const rows = await rowsOf(
					trx,
					`DELETE FROM ${t} WHERE status IN ${FINAL_SQL} AND id IN (${marks(part.length)}) RETURNING seq`,
					part,
				);
				for (const row of rows) replaced.push(Number(row['seq']));
			}
			const held = new Set<string>();
			for (const part of chunks(ids)) {
				const rows = await rowsOf(trx, `SELECT id FROM ${t} WHERE id IN (${marks(part.length)})`, part);
				for (const row of rows) held.add(String(row['id']));
			}
			const holders = new Map<string, string>();
			for (const part of chunks(keys)) {
				const rows = await rowsOf(
					trx,
					`SELECT id, dedup_key FROM ${t} WHERE dedup_key IN (${marks(part.length)}) AND status NOT IN ${FINAL_SQL}`,
					part,
				);
				for (const row of rows) holders.set(String(row['dedup_key']), String(row['id']));
			}
			const refused = refusals(batch, held, holders);
			if (refused.size > 0) throw new Refusals(refused);
			// A re-run starts with an empty log.
			if (replaced.length > 0) await dropLogs(trx, tables, replaced);
			await insertTasks(
				trx,
				parts.shape,
				tasks,
				batch.flatMap((entry) => entry.items),
			);
			if (wake !== null) await trx.raw('SELECT pg_notify(?, ?)', [...wake]);
		});
		return new Map();
	} catch (error) {
		if (error instanceof Refusals) return error.refused;
		throw error;
	}
}

/** Each add that brings a held id (`DuplicateTaskError`) or, failing that, a held key (`DuplicateKeyError`). */
function refusals(
	batch: readonly AddEntry[],
	held: ReadonlySet<string>,
	holders: ReadonlyMap<string, string>,
): Map<AddEntry, Error> {
	const refused = new Map<AddEntry, Error>();
	for (const entry of batch) {
		const id = entry.tasks.find((task) => held.has(task.id))?.id;
		if (id !== undefined) {
			refused.set(entry, new DuplicateTaskError(id));
			continue;
		}
		const keyed = entry.tasks.find((task) => task.key !== null && holders.has(task.key));
		if (keyed?.key != null) refused.set(entry, new DuplicateKeyError(keyed.key, holders.get(keyed.key) as string));
	}
	return refused;
}
