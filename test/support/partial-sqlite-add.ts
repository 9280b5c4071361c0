/**
 * A real partial add for the tests of what follows a `PartialAddError`: a large SQLite add goes in steps
 * (containers/sql/stepped-add.ts), and a second connection to the same file takes the id of its last step while it
 * runs, so that step is refused and the earlier ones stay stored.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';

/** A SqlContainer on the SQLite file `file` (no wake-up channel). */
export const sqliteFile = (file: string): SqlContainer =>
	new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true },
		notify: false,
	});

/**
 * Wait until the first step of `adding` (an add of `count` tasks with ids `p0`…) is visible to `other` (another
 * connection to the file), then take the last step's first id there; resolves with what `adding` rejected with.
 */
export async function refuseLastStep(adding: Promise<unknown>, other: SqlContainer, count: number): Promise<unknown> {
	let done = false;
	const settled = adding.then(
		() => null,
		(e: unknown) => e,
	);
	void settled.finally(() => (done = true));
	while (!done && (await other.counts()).waiting === 0) await sleep(2);
	expect(done).toBe(false);
	await other.add(records([{ id: `p${count - 500}`, item: 'other' }]));
	return settled;
}
