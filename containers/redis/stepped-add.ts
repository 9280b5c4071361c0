/**
 * An add too large for one short script, in steps (the scripts are in add-step-scripts.ts, the reservations in
 * reservations.ts). One script per add would hold Redis for the whole add (100,000 tasks: seconds, past Redis's
 * 5 s script time limit, every other client answered BUSY), so:
 *
 * 1. Reserve: the ids, then the deduplication keys, a slice per script. Each slice is checked as a one-script add
 *    checks them (a waiting, running or exporting task, a key such a task holds, two tasks of this add sharing a
 *    key) and against the reservations of other adds in progress. A refusal is thrown as the one-script add throws
 *    it (`DuplicateTaskError`, `DuplicateKeyError`) and nothing was stored: the reservations are dropped.
 * 2. Write: the tasks, a slice per script (the add's own script body), in order. No other add can take a reserved
 *    id or key meanwhile, so nothing stops a step but the connection or the server. Each slice is atomic and
 *    visible (claimable) once written.
 *
 * A failure while writing (connection lost, a step's reply overdue, the container closed) rejects with
 * `PartialAddError`: the slices written before are stored, the one in flight may be (ioredis may send it again
 * after a reconnect; its token makes that repeat harmless), the rest are not, and the add's reservations are
 * dropped. The same from a process killed mid-way, minus the error: its reservations lapse with it.
 */
import {
	ContainerError,
	DuplicateKeyError,
	DuplicateTaskError,
	PartialAddError,
	type TaskRecord,
} from 'lightsched/kit';
import { ADD_STEP, RELEASE, RESERVE_IDS, RESERVE_KEYS } from './add-step-scripts.js';
import { ADD_FIELDS } from './codec.js';
import type { ClockedScript } from './scripts.js';

export { PartialAddError };

/**
 * The most tasks one script writes: larger adds go in steps. Measured on this machine (load 2): a script writing
 * 500 tasks holds Redis about 15 ms. See docs/containers/redis.md.
 */
export const ADD_STEP_TASKS = 500;
/** The most ids (or keys) one reservation script checks and reserves. */
const RESERVE_STEP = 2000;
const F = ADD_FIELDS.length;
const KEY_AT = ADD_FIELDS.indexOf('key');

/** What an add in steps needs of its container. */
export interface StepRunner {
	/** Run a script with these arguments (one bounded call). */
	run(script: ClockedScript, args: readonly string[]): Promise<unknown>;
	/** Names the container and the server, for errors (read when one is made). */
	readonly where: () => string;
}

/**
 * Store `tasks` (checked: storable, no id twice) whose ADD_FIELDS values are `encoded` (F per task, in order), as
 * the add `token`. Returns each task's seq.
 */
export async function addInSteps(
	runner: StepRunner,
	tasks: readonly TaskRecord[],
	encoded: readonly string[],
	token: string,
): Promise<number[]> {
	const ids = tasks.map((task) => task.id);
	try {
		for (let i = 0; i < ids.length; i += RESERVE_STEP) {
			const reply = (await runner.run(RESERVE_IDS, [token, ...ids.slice(i, i + RESERVE_STEP)])) as string[];
			refused(reply);
		}
		const keyed: string[] = [];
		for (let i = 0; i < tasks.length; i++) {
			const key = encoded[i * F + KEY_AT] as string;
			if (key !== 'null') keyed.push(ids[i] as string, key);
		}
		for (let i = 0; i < keyed.length; i += 2 * RESERVE_STEP) {
			const reply = (await runner.run(RESERVE_KEYS, [
				token,
				...keyed.slice(i, i + 2 * RESERVE_STEP),
			])) as string[];
			refused(reply);
		}
	} catch (error) {
		await release(runner, token, ids, tasks, encoded);
		throw error;
	}
	const seqs: number[] = [];
	try {
		for (let i = 0; i < tasks.length; i += ADD_STEP_TASKS) {
			const end = Math.min(i + ADD_STEP_TASKS, tasks.length);
			const args = [String(Date.now()), token].concat(encoded.slice(i * F, end * F));
			let reply: unknown[];
			try {
				reply = (await runner.run(ADD_STEP, args)) as unknown[];
			} catch (error) {
				throw new PartialAddError(runner.where(), tasks.length, ids.slice(0, i), ids.slice(i, end), error);
			}
			if (reply[0] !== 'ok') {
				// Only an add that ignores reservations (an older version of this container) can get here.
				const cause = new ContainerError(`${runner.where()}: a step of the add was refused: ${String(reply)}`);
				throw new PartialAddError(runner.where(), tasks.length, ids.slice(0, i), [], cause);
			}
			for (let j = i; j < end; j++) seqs.push(Number(reply[j - i + 1]));
		}
	} finally {
		// Ends the add: whatever it still reserves is free at once (not after the TTL).
		await runner.run(RELEASE, [token, '0']).catch(() => null);
	}
	return seqs;
}

/** Throws the refusal of a reservation step, as a one-script add throws it. */
function refused(reply: readonly string[]): void {
	const reserved = reply.at(-1) === 'reserved';
	if (reply[0] === 'dup')
		throw new DuplicateTaskError(
			reply[1] ?? '',
			reserved ? 'is being added by another add in progress' : undefined,
		);
	if (reply[0] === 'dupkey') throw new DuplicateKeyError(JSON.parse(String(reply[1])) as string, String(reply[2]));
}

/** Drops the add's reservations (best effort: they lapse with the add anyway), then ends it. */
async function release(
	runner: StepRunner,
	token: string,
	ids: readonly string[],
	tasks: readonly TaskRecord[],
	encoded: readonly string[],
): Promise<void> {
	try {
		const keys = tasks.map((_task, i) => encoded[i * F + KEY_AT] as string).filter((key) => key !== 'null');
		for (let i = 0; i < Math.max(ids.length, keys.length); i += RESERVE_STEP) {
			const someIds = ids.slice(i, i + RESERVE_STEP);
			const someKeys = keys.slice(i, i + RESERVE_STEP);
			if (someIds.length + someKeys.length === 0) break;
			await runner.run(RELEASE, [token, String(someIds.length), ...someIds, ...someKeys]);
		}
		await runner.run(RELEASE, [token, '0']);
	} catch {
		// The connection is down: the reservations lapse with the add (reservations.ts).
	}
}
