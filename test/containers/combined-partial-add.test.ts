/**
 * A CombinedContainer whose persistent part stores an add only in part (`PartialAddError`): the tasks it stored must
 * also go to memory, where the scheduler claims from, or they would wait in SQLite until the next restart's restore.
 * The partial add is a real one: a large SQLite add goes in steps (containers/sql/stepped-add.ts), and a second
 * connection to the same file takes the id of its last step while it runs, so that step is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { CombinedContainer } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { refuseLastStep, sqliteFile } from '../support/partial-sqlite-add.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-combined-partial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CombinedContainer: an add its persistent part stored in part', () => {
	it('runs the tasks that were stored now, not after a restart', async () => {
		const file = join(dir, 'partial.sqlite');
		const persistent = sqliteFile(file);
		const other = sqliteFile(file); // another connection to the file, as another process would have
		await persistent.migrate();
		await other.migrate();
		const combined = new CombinedContainer(new QueueContainer(), persistent);
		const ran = new Set<string>();
		const scheduler = new Scheduler({
			container: combined,
			actuator: new FunctionActuator((_item: unknown, ctx) => void ran.add(ctx.task.id)),
			concurrency: 16,
		});
		try {
			const count = 5_000;
			const error = await refuseLastStep(
				scheduler.add(Array.from({ length: count }, (_, i) => ({ id: `p${i}`, item: i }))),
				other,
				count,
			);
			expect(error).toBeInstanceOf(PartialAddError);
			const { storedIds } = error as PartialAddError;
			expect(storedIds).toHaveLength(count - 500);

			// Every stored task of the add runs in this process, without a restart.
			const deadline = Date.now() + 30_000;
			while (ran.size < storedIds.length && Date.now() < deadline) await sleep(20);
			expect(ran.size).toBe(storedIds.length);
			expect([...ran].sort()).toEqual([...storedIds].sort());
		} finally {
			await scheduler.close();
			await other.close();
		}
	}, 60_000);
});
