/**
 * Compare-and-set transitions, coalesced. A transition asked for while another statement is on its way joins
 * the next batch, and a batch runs as ONE `UPDATE … FROM (VALUES …) … RETURNING` statement in which every row
 * keeps its own compare-and-set (`id`, `status`, and `owner` and the claim when given). On PostgreSQL the rows come as one array
 * per column (`unnest`), so the statement's text and its planning time do not grow with the batch (transition-statements.ts).
 * Nothing waits for a timer: a lone transition runs at once; batches form only while the database is busy, which is
 * when they pay off.
 */
import type { ClaimGuard, TaskPatch, TaskStatus } from 'lightsched';
import { PATCH_KEYS } from './rows.js';
import type { SqlDialect } from './schema.js';
import { CLAIM_PATCH_KEYS } from './statements.js';
import { TransitionStatements, type Statement } from './transition-statements.js';

export interface TransitionRequest {
	readonly id: string;
	readonly from: TaskStatus;
	readonly to: TaskStatus;
	readonly patch: TaskPatch;
	readonly owner: string | undefined;
	/** Compare the claim too (`ClaimGuard`: attempts and started_at). */
	readonly claim?: ClaimGuard | undefined;
	readonly updatedAt: number;
}

type Row = Record<string, unknown>;

interface Pending extends TransitionRequest {
	resolve(row: Row | null): void;
	reject(error: unknown): void;
}

/**
 * Claim-ahead (claim-ahead.ts): a claim folded into a batch's statement. `plan` names the owner and gives the claim
 * as a data-modifying WITH part (PostgreSQL; its pick leaves out the CTE `u`, the batch's own update), or null;
 * `claimed` gets the rows it took before the batch's transitions resolve.
 */
export interface AheadHook {
	plan(batch: readonly TransitionRequest[]): {
		readonly owner: string;
		readonly sql: string;
		readonly bindings: readonly unknown[];
		/**
		 * PostgreSQL: a one-row query the statement also runs (the CTE `d`, its columns added to every row), and what
		 * reads it from the statement's rows (claim-ahead.ts: the earliest delayed run_at); or null.
		 */
		readonly note: (Statement & { read(rows: readonly Row[]): void }) | null;
	} | null;
	claimed(owner: string, rows: Row[]): void;
}

/** A claim ahead to fold into a batch's statement (`AheadHook.plan`). */
type AheadPlan = NonNullable<ReturnType<AheadHook['plan']>>;

/** Runs one SQL statement and returns its rows. */
export type RunSql = (sql: string, bindings: readonly unknown[]) => Promise<Row[]>;

/** Runs two statements in one transaction (both or neither) and returns the rows of each. */
export type RunPair = (first: Statement, second: Statement) => Promise<[Row[], Row[]]>;

/**
 * Whether the database itself refused the statement (so it was rolled back): PostgreSQL sends a five-character
 * SQLSTATE, SQLite a `SQLITE_…` code. A broken connection (no reply at all) is not such a refusal.
 */
export function refusedByDatabase(error: unknown): boolean {
	const code = (error as { code?: unknown } | null)?.code;
	if (typeof code !== 'string') return false;
	if (/^[0-9A-Z]{5}$/.test(code)) return !code.startsWith('08') && !code.startsWith('57P');
	return code.startsWith('SQLITE_') && code !== 'SQLITE_IOERR';
}

/** The most transitions in one statement (each carries 2 × 11 patch values + 6). */
const MAX_BATCH = 200;

export class TransitionBatcher {
	readonly #dialect: SqlDialect;
	readonly #sql: TransitionStatements;
	readonly #run: RunSql;
	/** SQL to run after a batch that put tasks back to waiting (the PostgreSQL wake-up), or null. */
	readonly #wake: { sql: string; bindings: readonly unknown[] } | null;
	readonly #maxInFlight: number;
	#queue: Pending[] = [];
	#inFlight = 0;
	/** A reply just came: transitions asked for wait for the next turn of the event loop (see `#gather`). */
	#gathering = false;
	readonly #ahead: AheadHook | null;
	/**
	 * SQLite's claim-ahead on better-sqlite3: the transitions' statement and the claim in one transaction; null on
	 * PostgreSQL, and on SQLite without it, where the claim is a part of the transitions' statement (`#aheadInOne`).
	 */
	readonly #runPair: RunPair | null;
	/** Statements with a claim ahead in them on their way. */
	readonly #aheadInFlight = new Set<Promise<unknown>>();
	/** Tasks with a transition on its way. */
	readonly #busy = new Set<string>();

	constructor(options: {
		dialect: SqlDialect;
		table: string;
		bool: (v: boolean) => unknown;
		run: RunSql;
		wake: { sql: string; bindings: readonly unknown[] } | null;
		/**
		 * Statements on their way at once. 1 coalesces most and measured fastest on both databases (PostgreSQL
		 * too: fewer, larger statements beat more parallel ones).
		 */
		maxInFlight: number;
		/** The database's clock in SQL when `updated_at` is set by the server; null: the request's `updatedAt`. */
		serverNow: string | null;
		/** Claim-ahead, or null. */
		ahead?: AheadHook | null;
		/**
		 * SQLite with claim-ahead: runs the transitions' statement and the claim ahead (statements.ts `claimAhead`) in
		 * one transaction. Without it the hook's claim is `claimAheadRows`, folded into the transitions' statement.
		 */
		runPair?: RunPair | null;
	}) {
		this.#ahead = options.ahead ?? null;
		this.#runPair = options.runPair ?? null;
		this.#maxInFlight = options.maxInFlight;
		this.#dialect = options.dialect;
		this.#sql = new TransitionStatements(options);
		this.#run = options.run;
		this.#wake = options.wake;
	}

	/** Queue one transition; resolves with the updated row, or null when the compare-and-set failed. */
	submit(request: TransitionRequest): Promise<Row | null> {
		return new Promise((resolve, reject) => {
			this.#queue.push({ ...request, resolve, reject });
			if (this.#gathering) return;
			// SQLite without claim-ahead: a lone transition waits for the next turn too, so the finishes of the tasks
			// one claim started go together (see `gathersAlone`).
			if (this.gathersAlone && this.#inFlight === 0) this.#gather();
			else this.#pump();
		});
	}

	/**
	 * Whether every claim is a statement of its own, so the container asks the scheduler to gather its claims
	 * (`TaskContainer.gatherClaims`) and a lone transition waits for the next turn: SQLite without claim-ahead (the
	 * `sqlite3` driver, or claim limits). Otherwise each claim of the few slots one statement's reply freed went out
	 * alone, and the tasks it started then finished alone: on `sqlite3` at concurrency 16 the claims and the
	 * transitions ran in statements of 1 and 15 tasks, twice the statements of 16 (bench/sqlite-statements.ts). Not
	 * on PostgreSQL: deferring the claims there (with claim-ahead) measured more transactions per task; without
	 * claim-ahead (claim limits) it was not measured.
	 */
	get gathersAlone(): boolean {
		return this.#dialect === 'sqlite' && this.#ahead === null;
	}

	/** Start batches while fewer than `maxInFlight` statements are on their way. */
	#pump(): void {
		while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
			// One transition per task per statement, in call order: one for a task already on its way, or a second
			// one for the same task, waits for a later statement.
			const batch: Pending[] = [];
			const rest: Pending[] = [];
			const ids = new Set<string>();
			for (const pending of this.#queue) {
				if (batch.length < MAX_BATCH && !ids.has(pending.id) && !this.#busy.has(pending.id)) {
					ids.add(pending.id);
					batch.push(pending);
				} else {
					ids.add(pending.id);
					rest.push(pending);
				}
			}
			if (batch.length === 0) return;
			this.#queue = rest;
			this.#inFlight++;
			for (const pending of batch) this.#busy.add(pending.id);
			void this.#runBatch(batch).finally(() => {
				this.#inFlight--;
				for (const pending of batch) this.#busy.delete(pending.id);
				if (this.#ahead === null && this.#dialect === 'pg') this.#pump();
				else this.#gather();
			});
		}
	}

	/**
	 * After a statement's reply: the tasks whose transitions it stored free their slots, and their schedulers start
	 * the next tasks at once (often from tasks claimed ahead, without a round trip); quick ones finish within the
	 * same turn of the event loop. Transitions asked for until the next turn (`setImmediate`) therefore wait and go
	 * together, instead of the first of them going alone and the rest after it: without this, at concurrency 16
	 * the statements alternated between 15 transitions and 1 (measured), twice the statements for the same tasks.
	 * A transition asked for while nothing is on its way and no reply just came still runs at once. On PostgreSQL with
	 * claim-ahead only, where the freed slots are refilled without a round trip; on SQLite always (5 Dec 2026, once a
	 * claim no longer cost a compile: 0.25 -> 0.16 statements per task at concurrency 16, batches of 32 instead of
	 * 15 and 1, 88 -> 81 µs of CPU per task, bench/sqlite-statements.ts).
	 */
	#gather(): void {
		if (this.#gathering) return;
		this.#gathering = true;
		setImmediate(() => {
			this.#gathering = false;
			this.#pump();
		});
	}

	/** Resolves once every statement with a claim ahead in it that is on its way now has settled. */
	async aheadSettled(): Promise<void> {
		await Promise.allSettled([...this.#aheadInFlight]);
	}

	async #runBatch(batch: Pending[]): Promise<void> {
		try {
			const ahead = this.#ahead?.plan(batch) ?? null;
			let rows: Row[];
			if (ahead === null)
				rows = batch.length === 1 ? await this.#single(batch[0] as Pending) : await this.#many(batch);
			else {
				const sent =
					batch.length === 1 && !this.#aheadInOne
						? this.#single(batch[0] as Pending, ahead)
						: this.#many(batch, ahead);
				this.#aheadInFlight.add(sent);
				try {
					const all = await sent;
					ahead.note?.read(all);
					if (this.#aheadInOne) {
						// The claimed rows are those of tasks not in the batch (the claim's pick leaves them out).
						const ids = new Set(batch.map((p) => p.id));
						for (const row of all) if (!ids.has(String(row['id']))) row['ahead'] = true;
					}
					rows = all.filter((row) => row['ahead'] !== true);
					// Held before the transitions resolve: the slots they freed are refilled from them.
					this.#ahead?.claimed(
						ahead.owner,
						all.filter((row) => row['ahead'] === true),
					);
				} finally {
					this.#aheadInFlight.delete(sent);
				}
			}
			const byId = new Map(rows.map((row) => [String(row['id']), row]));
			if (
				this.#wake !== null &&
				rows.some((row) => row['status'] === 'waiting') &&
				batch.some((p) => p.to === 'waiting')
			) {
				await this.#run(this.#wake.sql, this.#wake.bindings).catch(() => undefined);
			}
			for (const pending of batch) pending.resolve(byId.get(pending.id) ?? null);
		} catch (error) {
			// A statement the database refused was rolled back: keep one bad transition from failing the others by
			// running them one by one. A connection that broke may have committed it with its reply lost: then a
			// second run would see its own changes as failed comparisons, so every caller gets the error instead
			// (and may look at the task to see whether its write was applied).
			if (batch.length === 1 || !refusedByDatabase(error)) {
				for (const pending of batch) pending.reject(error);
				return;
			}
			for (const pending of batch) await this.#runBatch([pending]);
		}
	}

	/** SQLite without `runPair`: the claim ahead is a part of the transitions' statement (see `#many`). */
	get #aheadInOne(): boolean {
		return this.#dialect === 'sqlite' && this.#runPair === null;
	}

	/**
	 * The statement with the claim ahead folded in. PostgreSQL: the transitions as the CTE `u`, the claim as `a`.
	 * SQLite (no data-modifying CTE): the transitions' statement, then the claim, in one transaction; the claim
	 * sees the batch's changes, so a task the batch stopped or finished is not taken (one it put back to waiting
	 * and due may be, as by a claim right after it).
	 */
	#withAhead(head: string | null, update: string, bindings: readonly unknown[], ahead: AheadPlan): Promise<Row[]> {
		if (this.#runPair !== null) {
			const first = { sql: head === null ? update : `${head} ${update}`, bindings };
			return this.#runPair(first, ahead).then(([rows, claimed]) => {
				for (const row of claimed) row['ahead'] = true;
				return rows.concat(claimed);
			});
		}
		const { note } = ahead;
		const sql =
			note === null
				? `${head === null ? 'WITH' : `${head},`} u AS (${update}), a AS (${ahead.sql})
			SELECT FALSE AS ahead, u.* FROM u UNION ALL SELECT TRUE AS ahead, a.* FROM a`
				: `${head === null ? 'WITH' : `${head},`} u AS (${update}), a AS (${ahead.sql}), d AS (${note.sql})
			SELECT FALSE AS ahead, u.*, d.* FROM u CROSS JOIN d UNION ALL SELECT TRUE AS ahead, a.*, d.* FROM a CROSS JOIN d`;
		return this.#run(sql, [...bindings, ...ahead.bindings, ...(note?.bindings ?? [])]);
	}

	#single(p: Pending, ahead: AheadPlan | null = null): Promise<Row[]> {
		const { sql, bindings } = this.#sql.single(p);
		return ahead === null ? this.#run(sql, bindings) : this.#withAhead(null, sql, bindings, ahead);
	}

	#many(batch: Pending[], ahead: AheadPlan | null = null): Promise<Row[]> {
		const inOne = ahead !== null && this.#aheadInOne;
		// Only the patch keys some transition in the batch sets (and the claim's, with a claim in the statement); each
		// gets a "set" flag and a value per row.
		const keys = PATCH_KEYS.filter(
			(key) =>
				batch.some((p) => p.patch[key] !== undefined) ||
				(inOne && (CLAIM_PATCH_KEYS as readonly string[]).includes(key)),
		);
		// The claim's columns only in a batch with a guarded transition (a move back to waiting: rare).
		const guarded = batch.some((p) => p.claim !== undefined);
		const { head, update } = this.#sql.batchSql(keys, batch.length, guarded);
		const bindings = this.#sql.bindings(batch, keys, guarded);
		if (ahead === null) return this.#run(`${head} ${update}`, bindings);
		if (!inOne) return this.#withAhead(head, update, bindings, ahead);
		// SQLite (no data-modifying CTE): the batch's rows as `w`, then the claim's picks as rows of the same shape
		// (statements.ts `claimAheadRows`, which leaves out the tasks in `w`), one UPDATE for both: one statement
		// and one commit. Each row keeps its compare-and-set (a picked task: still waiting).
		const claimed = new Set<string>(CLAIM_PATCH_KEYS);
		const picked = [
			guarded
				? 'a.c_id, a.c_from, a.c_to, a.c_owner, a.c_updated, NULL, NULL'
				: 'a.c_id, a.c_from, a.c_to, a.c_owner, a.c_updated',
			...keys.map((key) => (claimed.has(key) ? `a.f_${key}, a.p_${key}` : '0, NULL')),
		].join(', ');
		const sql = `${head.replace(/^WITH v /, 'WITH w ')}, v AS (SELECT * FROM w UNION ALL SELECT ${picked} FROM (${ahead.sql}) AS a) ${update}`;
		return this.#run(sql, [...bindings, ...ahead.bindings]);
	}
}
