/**
 * Task changes on SQL (`readChanges`). Triggers on the tasks table record every change in `<prefix>changes`, inside
 * the statement that makes it (so in its transaction), only while `<prefix>change_state.follow_until` is ahead of
 * the database's clock: each follower's read pushes it a follow window ahead, so nobody following costs one
 * look-up of a one-row table per statement and writes nothing.
 *
 * Order. SQLite writes one transaction at a time, so its `pos` (AUTOINCREMENT) is commit order: a cursor is a
 * `pos`. PostgreSQL hands out `pos` before commit, so a row with a smaller `pos` may commit after a larger one has
 * been read. Each row therefore carries its transaction id (`tx`, `txid_current()`), rows are read in (tx, pos)
 * order, and only rows of transactions older than every transaction still running
 * (`tx < txid_snapshot_xmin(txid_current_snapshot())`): no row can appear before the cursor later. A cursor is
 * `tx.pos`. The price: a transaction left open on the same server (idle in transaction) holds followers back
 * until it ends.
 *
 * Waking. On PostgreSQL the trigger notifies `<prefix>changes` (delivered at commit); a reader that finds nothing
 * waits for that notification or a safety poll (1 s; 100 ms while LISTEN is down, as behind PgBouncer in
 * transaction mode). On a SQLite file every change of its write-ahead log (any process's commit, file-watch.ts)
 * wakes a waiting reader, with the same safety poll (100 ms when the folder cannot be watched). A read woken that
 * finds nothing looks again shortly (2 ms, doubling while wakes keep coming): the commit that woke it may not be
 * readable yet (PostgreSQL: an older transaction still running; SQLite: the log written before the commit ends).
 *
 * Starting. The first follower (the window had lapsed) opens the window, then waits until every transaction that
 * was running has ended (at most 1 s): one whose trigger ran before the window opened recorded nothing, and a
 * `waitFor` must then find its change in the task's record, which it reads right after following. On SQLite writes
 * are serialised, so the window's update is ordered with every change.
 *
 * Retention. Readers delete rows older than the retention window in bounded batches (at most once a minute per
 * reader), noting the newest position deleted so a cursor before it is told of its gap.
 */
import {
	CHANGE_RETENTION_MS,
	FOLLOW_WINDOW_MS,
	TASK_CHANGE_TYPES,
	type TaskChange,
	type TaskChangePage,
	type TaskChangeQuery,
	type TaskChangeType,
} from 'lightsched/kit';
import { changeTables, PG_CLOCK_MS, SQLITE_NOW_MS } from './change-tables.js';
import type { SqlDialect } from './dialect.js';
import { rowToRecord } from './rows.js';

/** What the reader needs of its container. */
export interface SqlChangeReaderParts {
	readonly dialect: SqlDialect;
	readonly prefix: string;
	/** Run one statement (once the tables exist; failures as the container's errors). */
	readonly query: (what: string, sql: string, bindings: readonly unknown[]) => Promise<Record<string, unknown>[]>;
	/** PostgreSQL: start listening on the changes channel; calls `wake` per notification; returns whether it is up. */
	readonly listen: ((wake: () => void) => () => boolean) | null;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;
const POLL_MS = 100;
const SAFETY_POLL_MS = 1_000;
const SETTLE_MS = 1_000;

interface Cursor {
	readonly tx: number;
	readonly pos: number;
}

export class SqlChangeReader {
	readonly #parts: SqlChangeReaderParts;
	readonly #t: ReturnType<typeof changeTables>;
	#refreshedAt = 0;
	#prunedAt = 0;
	/** Notifications received (PostgreSQL). */
	#notes = 0;
	readonly #waiters = new Set<() => void>();
	#listening: (() => boolean) | null = null;
	#closed = false;

	constructor(parts: SqlChangeReaderParts) {
		this.#parts = parts;
		this.#t = changeTables(parts.prefix);
	}

	async read(query: TaskChangeQuery): Promise<TaskChangePage> {
		const pg = this.#parts.dialect === 'pg';
		if (this.#listening === null && this.#parts.listen !== null) {
			this.#listening = this.#parts.listen(() => {
				this.#notes++;
				for (const wake of [...this.#waiters]) wake();
			});
		}
		const lapsed = await this.#follow();
		if (query.after === null) {
			// Nobody followed until now: a transaction whose trigger ran before the window opened recorded nothing.
			// Wait (bounded) until every transaction running then has ended, so that a read made after this answers
			// sees its change in the task's record (waitFor reads the record right after following).
			if (lapsed && this.#parts.dialect === 'pg') await this.#settleOlder();
			return { changes: [], next: await this.#now(), gap: false };
		}
		const after = parseCursor(query.after, pg);
		const state = (await this.#q('SELECT pruned_tx, pruned_pos FROM ' + this.#t.state + ' WHERE id = 1'))[0];
		const pruned = { tx: Number(state?.['pruned_tx'] ?? 0), pos: Number(state?.['pruned_pos'] ?? 0) };
		const gap = (lapsed && (after.tx > 0 || after.pos > 0)) || before(after, pruned);
		const from = gap && before(after, pruned) ? pruned : after;
		const deadline = Date.now() + query.waitMs;
		let quick = 2;
		/** Whether a wake ended the wait before this read. */
		let woken = false;
		for (;;) {
			const notes = this.#notes;
			const changes = await this.#select(from, query.limit);
			const last = changes.at(-1);
			if (changes.length > 0 || Date.now() >= deadline || query.signal?.aborted === true || this.#closed) {
				void this.#prune();
				return { changes, next: last?.cursor ?? formatCursor(from, pg), gap };
			}
			// A wake came while reading, or woke this read and its rows were not yet readable: look again soon.
			const noted: boolean = this.#notes !== notes || woken;
			const up = this.#listening?.() === true;
			const ms = noted ? quick : up ? SAFETY_POLL_MS : POLL_MS;
			quick = noted ? Math.min(quick * 2, 64) : 2;
			const before = this.#notes;
			await this.#wait(Math.min(ms, deadline - Date.now()), query.signal, notes);
			woken = this.#notes !== before;
		}
	}

	close(): void {
		this.#closed = true;
		for (const wake of [...this.#waiters]) wake();
	}

	/** Push the follow window ahead (at most every tenth of it); returns whether it had lapsed. */
	async #follow(): Promise<boolean> {
		if (Date.now() - this.#refreshedAt < FOLLOW_WINDOW_MS / 10) return false;
		const now = this.#parts.dialect === 'pg' ? PG_CLOCK_MS : SQLITE_NOW_MS;
		const rows = await this.#q(
			`SELECT CASE WHEN follow_until > ${now} THEN 0 ELSE 1 END AS lapsed FROM ${this.#t.state}`,
		);
		await this.#q(`UPDATE ${this.#t.state} SET follow_until = ${now} + ${FOLLOW_WINDOW_MS} WHERE id = 1`);
		this.#refreshedAt = Date.now();
		return Number(rows[0]?.['lapsed'] ?? 1) === 1;
	}

	/** Wait until the transactions running now have ended (at most SETTLE_MS: a transaction left open elsewhere). */
	async #settleOlder(): Promise<void> {
		const rows = await this.#q('SELECT txid_snapshot_xmax(txid_current_snapshot()) AS xmax');
		const xmax = Number(rows[0]?.['xmax']);
		const deadline = Date.now() + SETTLE_MS;
		for (let ms = 1; Date.now() < deadline; ms = Math.min(ms * 2, 50)) {
			const now = await this.#q('SELECT txid_snapshot_xmin(txid_current_snapshot()) AS xmin');
			if (Number(now[0]?.['xmin']) >= xmax) return;
			await new Promise((resolve) => setTimeout(resolve, ms));
		}
	}

	async #now(): Promise<string> {
		if (this.#parts.dialect === 'pg') {
			const rows = await this.#q('SELECT txid_snapshot_xmin(txid_current_snapshot()) AS xmin');
			return `${Number(rows[0]?.['xmin'])}.0`;
		}
		const rows = await this.#q(`SELECT seq FROM sqlite_sequence WHERE name = ?`, [`${this.#parts.prefix}changes`]);
		return String(Number(rows[0]?.['seq'] ?? 0));
	}

	async #select(after: Cursor, limit: number): Promise<TaskChange[]> {
		const pg = this.#parts.dialect === 'pg';
		const cols = 'pos, task_id, type, at, attempts, data';
		const rows = pg
			? await this.#q(
					`SELECT tx, record, ${cols} FROM ${this.#t.changes} WHERE (tx, pos) > (?, ?)
					AND tx < txid_snapshot_xmin(txid_current_snapshot()) ORDER BY tx, pos LIMIT ?`,
					[after.tx, after.pos, limit],
				)
			: await this.#q(`SELECT record, ${cols} FROM ${this.#t.changes} WHERE pos > ? ORDER BY pos LIMIT ?`, [
					after.pos,
					limit,
				]);
		return rows.map((row) => decodeRow(row, pg));
	}

	#wait(ms: number, signal: AbortSignal | undefined, notes: number): Promise<void> {
		if (ms <= 0 || this.#notes !== notes) return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
		return new Promise((resolve) => {
			const done = (): void => {
				clearTimeout(timer);
				this.#waiters.delete(done);
				signal?.removeEventListener('abort', done);
				resolve();
			};
			const timer = setTimeout(done, ms);
			this.#waiters.add(done);
			signal?.addEventListener('abort', done, { once: true });
		});
	}

	/** Delete rows older than the retention window, one bounded batch, at most once a minute. */
	async #prune(): Promise<void> {
		if (Date.now() - this.#prunedAt < PRUNE_EVERY_MS || this.#closed) return;
		this.#prunedAt = Date.now();
		const pg = this.#parts.dialect === 'pg';
		const cutoff = `${pg ? PG_CLOCK_MS : SQLITE_NOW_MS} - ${CHANGE_RETENTION_MS}`;
		const c = this.#t.changes;
		const order = pg ? 'tx, pos' : 'pos';
		try {
			const rows = await this.#q(
				`SELECT ${pg ? 'tx, ' : ''}pos FROM ${c} WHERE written_at < ${cutoff} ORDER BY ${order} DESC LIMIT 1`,
			);
			const newest = rows[0];
			if (newest === undefined) return;
			const tx = Number(newest['tx'] ?? 0);
			const pos = Number(newest['pos']);
			await this.#q(`UPDATE ${this.#t.state} SET pruned_tx = ?, pruned_pos = ? WHERE id = 1`, [tx, pos]);
			const upTo = pg ? '(tx, pos) <= (?, ?)' : 'pos <= ?';
			const bindings = pg ? [tx, pos, PRUNE_BATCH] : [pos, PRUNE_BATCH];
			await this.#q(
				`DELETE FROM ${c} WHERE pos IN (SELECT pos FROM ${c} WHERE ${upTo} ORDER BY ${order} LIMIT ?)`,
				bindings,
			);
		} catch {
			// The next read prunes again.
			this.#prunedAt = 0;
		}
	}

	#q(sql: string, bindings: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
		return this.#parts.query('readChanges', sql, bindings);
	}
}

function parseCursor(text: string, pg: boolean): Cursor {
	const match = pg ? /^(\d+)\.(\d+)$/.exec(text) : /^()(\d+)$/.exec(text);
	if (match === null) throw new TypeError(`Expected \`after\` to be a cursor this container handed out, got ${text}`);
	return { tx: Number(match[1] || 0), pos: Number(match[2]) };
}

function formatCursor(cursor: Cursor, pg: boolean): string {
	return pg ? `${cursor.tx}.${cursor.pos}` : String(cursor.pos);
}

/** Whether `a` comes before `b` in (tx, pos) order. */
function before(a: Cursor, b: Cursor): boolean {
	return a.tx < b.tx || (a.tx === b.tx && a.pos < b.pos);
}

function decodeRow(row: Record<string, unknown>, pg: boolean): TaskChange {
	const type = String(row['type']) as TaskChangeType;
	if (!TASK_CHANGE_TYPES.includes(type)) throw new TypeError(`Unknown task change type ${type}`);
	const change: { -readonly [K in keyof TaskChange]: TaskChange[K] } = {
		cursor: formatCursor({ tx: Number(row['tx'] ?? 0), pos: Number(row['pos']) }, pg),
		id: String(row['task_id']),
		type,
		at: Number(row['at']),
		attempts: Number(row['attempts']),
	};
	const data = row['data'];
	const value = typeof data === 'string' && data !== '' ? (JSON.parse(data) as unknown) : null;
	if (type === 'succeeded') change.output = value;
	else if (type === 'failed' || type === 'retrying') change.error = value as TaskChange['error'] & object;
	else if (type === 'progress') change.progress = value;
	// A final change carries the task's row (as JSON; SQLite since schema 8), so waitFor need not read it back.
	const record = row['record'];
	if (typeof record === 'string') change.record = rowToRecord(JSON.parse(record) as Record<string, unknown>);
	return change;
}
