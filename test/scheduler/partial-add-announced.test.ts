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
import { afterAll, describe, expect, it } from 'vitest';
import { PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { refuseLastStep, sqliteFile } from '../support/partial-sqlite-add.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-partial-announced-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Scheduler.add stored in part', () => {
	it('emits task:added for every task the container stored, and for no other', async () => {
		const file = join(dir, 'partial.sqlite');
		const container = sqliteFile(file);
		const other = sqliteFile(file); // another connection to the file, as another process would have
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
			const error = await refuseLastStep(
				scheduler.add(Array.from({ length: count }, (_, i) => ({ id: `p${i}`, item: i }))),
				other,
				count,
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
