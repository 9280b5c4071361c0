/**
 * An add a container stored in part (`PartialAddError`): the tasks it did store are announced with `task:added`
 * like those of any add, so a listener that counts or mirrors added tasks does not miss them (they run, and their
 * `task:succeeded` would otherwise come for a task never announced). The partial add is a real one: a large SQLite
 * add goes in steps (containers/sql/stepped-add.ts), and a second connection to the same file takes the id of its
 * last step while it runs, so that step is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-partial-announced-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqlite = (file: string): SqlContainer =>
	new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true },
		notify: false,
	});

describe('Scheduler.add stored in part', () => {
	it('emits task:added for every task the container stored, and for no other', async () => {
		const file = join(dir, 'partial.sqlite');
		const container = sqlite(file);
		const other = sqlite(file); // another connection to the file, as another process would have
		await container.migrate();
		await other.migrate();
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator(() => undefined),
			concurrency: 16,
		});
		const added: string[] = [];
		scheduler.on('task:added', ({ task }) => added.push(task.id));
		try {
			const count = 2_000;
			let done = false;
			const adding = scheduler
				.add(Array.from({ length: count }, (_, i) => ({ id: `p${i}`, item: i })))
				.finally(() => (done = true));
			// Once the first step is visible, the last step's first id is taken by the other connection.
			while (!done && (await other.counts()).waiting === 0) await sleep(2);
			expect(done).toBe(false);
			await other.add(records([{ id: `p${count - 500}`, item: 'other' }]));
			const error = await adding.then(
				() => null,
				(e: unknown) => e,
			);
			expect(error).toBeInstanceOf(PartialAddError);
			const { storedIds, unsureIds } = error as PartialAddError;
			expect(storedIds).toHaveLength(count - 500);
			expect(unsureIds).toHaveLength(0);
			expect(added).toEqual(storedIds);
			// What was announced is what is stored: the other connection's task and the announced ones, no more.
			const counts = await other.counts();
			const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
			expect(total).toBe(storedIds.length + 1);
		} finally {
			await scheduler.close();
			await other.close();
		}
	}, 60_000);
});
