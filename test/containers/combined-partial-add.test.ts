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
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-combined-partial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqlite = (file: string): SqlContainer =>
	new SqlContainer({
		knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true },
		notify: false,
	});

describe('CombinedContainer: an add its persistent part stored in part', () => {
	it('runs the tasks that were stored now, not after a restart', async () => {
		const file = join(dir, 'partial.sqlite');
		const persistent = sqlite(file);
		const other = sqlite(file); // another connection to the file, as another process would have
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
