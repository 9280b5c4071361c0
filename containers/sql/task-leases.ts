/**
 * Leases of `SqlContainer`'s running tasks: renewing an owner's leases (and finding the tasks held for it that it
 * did not name), reclaiming expired ones, and asking a running task's owner to stop it (with a wake-up that reaches
 * the owner at once on PostgreSQL).
 */
import type { RenewResult, TaskRecord } from 'lightsched';
import type { ClaimAheadBuffer } from './claim-ahead.js';
import { stopPayload, WAKE_PAYLOAD } from './notify.js';
import { rowToRecord } from './rows.js';
import { chunks, type TaskStatements } from './statements.js';

type Row = Record<string, unknown>;

/** How long a renewal waits for claim-ahead statements on their way before it reports no `unknown` tasks. */
const AHEAD_WAIT_MS = 1_000;

export interface TaskLeasesParts {
	readonly sql: TaskStatements;
	readonly query: (sql: string, bindings: readonly unknown[]) => Promise<Row[]>;
	/** The PostgreSQL wake-up channel's name, when statements send wake-ups; else null. */
	readonly channel: string | null;
	/** Tasks claimed ahead (claim-ahead.ts), and a wait for the statements claiming ahead that are on their way. */
	readonly ahead: ClaimAheadBuffer;
	readonly aheadSettled: () => Promise<void>;
	/** A task left running or exporting (see `SqlContainer`'s `globalConcurrency` wake-up). */
	readonly slotFreed: () => void;
}

/**
 * Extend the leases of `ids` held by `owner` (judged at `at`), and list in `unknown` the tasks the container holds
 * for `owner` that are not among `ids` (a claim whose reply was lost), whose leases it leaves alone.
 */
export async function renewLeases(
	parts: TaskLeasesParts,
	owner: string,
	ids: readonly string[],
	leaseMs: number,
	at: number,
): Promise<RenewResult> {
	const kept = new Map<string, boolean>();
	const held: string[] = [];
	for (const part of chunks(ids)) {
		const { sql, bindings } = parts.sql.renew(owner, part, leaseMs, at);
		for (const row of await parts.query(sql, bindings)) kept.set(String(row['id']), Boolean(row['stop_requested']));
	}
	const { sql, bindings } = parts.sql.held(owner);
	for (const row of await parts.query(sql, bindings)) held.push(String(row['id']));
	// A task claimed ahead is not unknown: held for the owner's next claim, or brought by a statement whose reply is
	// on its way (so wait for those first: the read above may have seen what they claimed). One that does not answer
	// in time (a dead connection) may still bring any of them: then none is reported (a later renewal will).
	const settled = await new Promise<boolean>((resolve) => {
		const timer = setTimeout(() => resolve(false), AHEAD_WAIT_MS);
		void parts.aheadSettled().then(() => {
			clearTimeout(timer);
			resolve(true);
		});
	});
	const asked = new Set(ids);
	const ahead = parts.ahead.ids(owner);
	return {
		lost: ids.filter((id) => !kept.has(id)),
		stopRequested: ids.filter((id) => kept.get(id) === true),
		unknown: settled ? held.filter((id) => !asked.has(id) && !ahead.has(id)) : [],
	};
}

/** Move the tasks whose leases expired at `at` (see `TaskStatements.reclaim`); returns them in `seq` order. */
export async function reclaimExpired(parts: TaskLeasesParts, at: number): Promise<TaskRecord[]> {
	const { sql, bindings } = parts.sql.reclaim(at);
	const rows = (await parts.query(sql, bindings)).map(rowToRecord);
	if (rows.length > 0) parts.slotFreed();
	if (parts.channel !== null && rows.some((task) => task.status === 'waiting'))
		await parts.query('SELECT pg_notify(?, ?)', [parts.channel, WAKE_PAYLOAD]);
	return rows.sort((a, b) => a.seq - b.seq);
}

/** Ask the owner of running task `id` to stop it; on PostgreSQL the same statement wakes the owner. */
export async function requestStop(parts: TaskLeasesParts, id: string): Promise<TaskRecord | null> {
	let sql = parts.sql.requestStop;
	const bindings: unknown[] = [id];
	if (parts.channel !== null) {
		sql = `WITH asked AS (${sql}) SELECT asked.*, pg_notify(?, ?) AS notified FROM asked`;
		bindings.push(parts.channel, stopPayload(id));
	}
	const rows = await parts.query(sql, bindings);
	return rows[0] === undefined ? null : rowToRecord(rows[0]);
}
