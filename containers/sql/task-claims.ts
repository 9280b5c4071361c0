/**
 * The claim path of `SqlContainer`: the promotion of delayed tasks that came due (only when one may be, see
 * promotion.ts), then the claim statement; or, with `globalConcurrency`, `rateLimit` or `groupRateLimit`, the
 * limited claim's transaction (rate-limit.ts). Each statement is correct alone, so no transaction binds the
 * promotion and the claim.
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched';
import { PromotionClock } from './promotion.js';
import type { SqlClaimLimits } from './rate-limit.js';
import { numOrNull } from './rows.js';
import type { TaskStatements } from './statements.js';
import type { SqlDialect } from './schema.js';

type Row = Record<string, unknown>;

export interface TaskClaimsParts {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly sql: TaskStatements;
	readonly limits: SqlClaimLimits;
	readonly clock: 'server' | 'caller';
	/** Runs one statement through the pool. */
	readonly query: (sql: string, bindings: readonly unknown[]) => Promise<Row[]>;
}

export class TaskClaims {
	readonly #parts: TaskClaimsParts;
	/** When a claim promotes delayed tasks first (see promotion.ts). */
	readonly #promotion = new PromotionClock();
	/** When the window of the last claim the rate limit cut short reopens (this process's clock), or null. */
	#rateWakeAt: number | null = null;

	constructor(parts: TaskClaimsParts) {
		this.#parts = parts;
	}

	/** When the window of the last claim the rate limit cut short reopens (this process's clock), or null. */
	get rateWakeAt(): number | null {
		return this.#rateWakeAt;
	}

	/** This process wrote a waiting task due at `runAt` (it may be delayed): a claim from then on promotes first. */
	wrote(runAt: number): void {
		this.#promotion.wrote(runAt);
	}

	/**
	 * What a claim ahead judged at `at` does about delayed tasks (promotion.ts): `wait` (it is not made, and the owner's
	 * next claim goes to the database and promotes first: a known delayed task is due, or on SQLite the periodic look
	 * is), `note` (it is made, its statement reading the earliest delayed run_at too: then `noted`), or `none`.
	 */
	aheadPromotion(at: number): 'none' | 'note' | 'wait' {
		if (!this.#promotion.needed(at)) return 'none';
		return this.#promotion.knownDue(at) || this.#parts.sql.delayedNote === null ? 'wait' : 'note';
	}

	/** What a claim ahead's statement that started at `wall` read of the delayed tasks (see `aheadPromotion`). */
	noted(wall: number, next: number | null, due: boolean): void {
		this.#promotion.noted(wall, next, due);
	}

	/** Before an insert, so no claim after it misses these (an insert that fails costs one idle promotion). */
	adding(tasks: readonly TaskRecord[]): void {
		const now = Date.now();
		for (const task of tasks) if (task.runAt > now) this.#promotion.wrote(task.runAt);
	}

	/** Claim up to `limit` due tasks for `owner` at `at` (the statements' "now"); rows in no particular order. */
	async claim(owner: string, leaseMs: number, limit: number, at: number): Promise<Row[]> {
		const { limits } = this.#parts;
		if (limits.active) {
			const limited = await limits.claim(this.#parts.knex, owner, leaseMs, limit, at);
			// On this process's clock, late rather than early by the round trip (+1 ms of rounding).
			this.#rateWakeAt =
				limited.reopensInMs === null
					? null
					: (this.#parts.clock === 'caller' ? at : Date.now()) + limited.reopensInMs + 1;
			return limited.rows;
		}
		const promoted = this.#promotion.needed(at);
		if (promoted) await this.promote(at);
		const { rows: first, settled } = promoted
			? { rows: await this.#claimRows(owner, leaseMs, limit, at), settled: true }
			: await this.#claimNoting(owner, leaseMs, limit, at);
		if (settled || first.length >= limit || (await this.promote(at)) === 0) return first;
		return [...first, ...(await this.#claimRows(owner, leaseMs, limit - first.length, at))];
	}

	async #claimRows(owner: string, leaseMs: number, limit: number, at: number): Promise<Row[]> {
		const { sql, bindings } = this.#parts.sql.claim(owner, leaseMs, limit, at);
		return this.#parts.query(sql, bindings);
	}

	/**
	 * The claim without a promotion first. On PostgreSQL the same statement reads the earliest delayed run_at: when
	 * no delayed task is due, that is what a promotion would have found (it would promote none), so it counts as one
	 * (`settled`: a claim that took too few need not promote). SQLite: never settled.
	 */
	async #claimNoting(
		owner: string,
		leaseMs: number,
		limit: number,
		at: number,
	): Promise<{ rows: Row[]; settled: boolean }> {
		const { sql: statements, query } = this.#parts;
		if (statements.claimNoting === null)
			return { rows: await this.#claimRows(owner, leaseMs, limit, at), settled: false };
		const wall = this.#promotion.starting();
		const { sql, bindings } = statements.claimNoting(owner, leaseMs, limit, at);
		const rows = await query(sql, bindings);
		const claimed = rows.filter((row) => row['id'] !== null && row['id'] !== undefined);
		if (rows[0]?.['delayed_due'] === true) return { rows: claimed, settled: false };
		this.#promotion.promoted(wall, numOrNull(rows[0]?.['delayed_next']));
		return { rows: claimed, settled: true };
	}

	/** Promote the delayed tasks due at `at`; returns how many. */
	async promote(at: number): Promise<number> {
		const { sql: statements, query } = this.#parts;
		const wall = this.#promotion.starting();
		if (this.#parts.dialect === 'sqlite') {
			// SQLite takes two statements (no data-modifying CTE): the earliest delayed run_at first, and the update
			// only when one is due, so the periodic promotion of an empty or not-yet-due delayed set costs one index
			// probe, not two statements.
			const earliest = async (): Promise<number | null> =>
				numOrNull((await query(statements.nextDelayed, []))[0]?.['next']);
			const before = await earliest();
			if (before === null || before > at) {
				this.#promotion.promoted(wall, before);
				return 0;
			}
			const { sql, bindings } = statements.promote(at);
			const n = (await query(sql, bindings)).length;
			this.#promotion.promoted(wall, await earliest());
			return n;
		}
		const { sql, bindings } = statements.promote(at);
		const rows = await query(sql, bindings);
		this.#promotion.promoted(wall, numOrNull(rows[0]?.['next']));
		return Number(rows[0]?.['n'] ?? 0);
	}

	/**
	 * The next time a claim may find work, on the caller's clock (`now`; `at` is the statements' "now"): the
	 * earliest due time the database judges (on the server's clock handed back as the caller's `now` plus how long
	 * the database says it is until then), the reopening of a window the rate limit cut a claim short at, and of a
	 * group's window with parked tasks.
	 */
	async nextDueAt(now: number, at: number): Promise<number | null> {
		const { sql: statements, query, limits } = this.#parts;
		const { sql, bindings } = statements.nextDueAt(at);
		const rows = await query(sql, bindings);
		const later = numOrNull(rows[0]?.['at']);
		const delayed = numOrNull(rows[0]?.['delayed_at']);
		const first = later === null ? delayed : delayed === null ? later : Math.min(later, delayed);
		const due =
			first === null ? null : statements.serverClock ? now + (first - Number(rows[0]?.['clock_now'])) : first;
		// A claim the rate limit cut short: wake when its window reopens (see rate-limit.ts).
		let open = this.#rateWakeAt;
		// A group with parked tasks: wake when its window reopens (see group-limit.ts).
		const group = limits.group;
		if (group !== null) {
			const [reopening] = await query(
				`SELECT (${group.nextReopening()}) AS at, ${statements.nowSql} AS clock_now`,
				statements.serverClock ? [] : [at],
			);
			const next = reopening?.['at'];
			if (next !== null && next !== undefined) {
				const when = statements.serverClock
					? now + (Number(next) - Number(reopening?.['clock_now']))
					: Number(next);
				open = open === null ? when : Math.min(open, when);
			}
		}
		return open === null ? due : due === null ? open : Math.min(due, open);
	}
}
