/**
 * A large add on SQLite, in steps (issue 15 item 6). SQLite has one write lock per database file, and one
 * transaction for a 100,000-task add held it for seconds (8.5 s measured on 4 Dec 2026), so every other process's
 * writes (claims, lease renewals, completions) waited, and past their `busyTimeoutMs` (5 s by default) failed with
 * `SQLITE_BUSY`. Above SQLITE_ADD_STEP tasks:
 *
 * 1. Check, with reads only (WAL: they take no write lock), that no id of the add is waiting, running or exporting
 *    and that no key of it is held by such a task. A refusal throws as the one-transaction add throws it
 *    (`DuplicateTaskError`, `DuplicateKeyError`) and nothing was stored.
 * 2. Write the tasks in steps of SQLITE_ADD_STEP, each its own short transaction (the container's insert: it
 *    checks its ids and keys again, replaces finished tasks with the same ids, inserts), visible (claimable) once
 *    committed, in the add's order. After each step the add waits as long as the step took (at most
 *    MAX_PAUSE_MS) before the next: SQLite does not queue writers, a writer kept out sleeps in its busy handler
 *    (1 ms, then longer, up to 100 ms at a time) and retries, so a next step started at once would win the lock
 *    again nearly every time and keep the others out for the whole add (measured: another connection's one-row
 *    add waited for all 40 steps of a 20,000-task add). With the lock free half the time, a waiting writer gets
 *    in within a few of its retries; the add takes about twice as long.
 *
 * A step that fails rejects the add with `PartialAddError`: the steps before it are stored, the rest are not. A
 * step refused by its own check (an id or key another add took after the check) wrote nothing, so its tasks are
 * not in `unsureIds`; any other failure (the database failing, the container closed while the step was on its way)
 * lists its step as unsure. Refused at the first step, the add throws the refusal itself: nothing was stored. A
 * process killed mid-way leaves the steps it committed. PostgreSQL keeps one transaction for any size: there a
 * writer locks out neither readers nor other writers (MVCC), so a large add stalls nobody.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import {
	DuplicateKeyError,
	DuplicateTaskError,
	PartialAddError,
	SchedulerClosedError,
	type TaskRecord,
} from 'lightsched/kit';
import { chunks, FINAL_SQL, marks, rowsOf } from './statements.js';

/** The most tasks one transaction of a large SQLite add writes (each step holds the write lock some milliseconds). */
export const SQLITE_ADD_STEP = 500;
/** The longest pause between two steps (see above). */
const MAX_PAUSE_MS = 50;

/** What an add in steps needs of its container. */
export interface SteppedAddPort {
	readonly knex: Knex;
	/** The tasks table's name. */
	readonly tasks: string;
	/** Names the container and the database, for errors. */
	readonly where: string;
	/** One step, in its own transaction (all or nothing). */
	write(tasks: readonly TaskRecord[], items: readonly string[]): Promise<unknown>;
	closed(): boolean;
}

/** Store `tasks` (checked already: storable, no id or key twice), whose items are `items` (JSON text), in steps. */
export async function addInSteps(
	port: SteppedAddPort,
	tasks: readonly TaskRecord[],
	items: readonly string[],
): Promise<void> {
	await checkFree(port, tasks);
	const ids = tasks.map((task) => task.id);
	let pause = 0;
	for (let i = 0; i < tasks.length; i += SQLITE_ADD_STEP) {
		const end = Math.min(i + SQLITE_ADD_STEP, tasks.length);
		if (i > 0) await sleep(pause);
		if (port.closed())
			throw new PartialAddError(
				port.where,
				tasks.length,
				ids.slice(0, i),
				[],
				new SchedulerClosedError('container'),
			);
		const started = performance.now();
		try {
			await port.write(tasks.slice(i, end), items.slice(i, end));
			pause = Math.min(MAX_PAUSE_MS, performance.now() - started);
		} catch (error) {
			const refused = error instanceof DuplicateTaskError || error instanceof DuplicateKeyError;
			if (i === 0 && refused) throw error;
			throw new PartialAddError(
				port.where,
				tasks.length,
				ids.slice(0, i),
				refused ? [] : ids.slice(i, end),
				error,
			);
		}
	}
}

/** Throws as the one-transaction add does when an id is taken by an unfinished task or a key is held. */
async function checkFree(port: SteppedAddPort, tasks: readonly TaskRecord[]): Promise<void> {
	const active = `status NOT IN ${FINAL_SQL}`;
	for (const part of chunks(tasks.map((task) => task.id))) {
		const sql = `SELECT id FROM ${port.tasks} WHERE id IN (${marks(part.length)}) AND ${active} LIMIT 1`;
		const rows = await rowsOf(port.knex, sql, part);
		if (rows[0] !== undefined) throw new DuplicateTaskError(String(rows[0]['id']));
	}
	const keys = tasks.flatMap((task) => (task.key === null ? [] : [task.key]));
	for (const part of chunks(keys)) {
		const sql = `SELECT id, dedup_key FROM ${port.tasks} WHERE dedup_key IN (${marks(part.length)}) AND ${active} LIMIT 1`;
		const rows = await rowsOf(port.knex, sql, part);
		if (rows[0] !== undefined) throw new DuplicateKeyError(String(rows[0]['dedup_key']), String(rows[0]['id']));
	}
}
