/**
 * A large add on SQLite goes in steps of short transactions (containers/sql/stepped-add.ts): another process's
 * writes get the write lock between steps instead of waiting for the whole add (one transaction of 100,000 tasks
 * held it for 8.5 s, past the 5 s busy timeout of other processes); an id or key taken before the add stores
 * nothing; one taken while it runs, or a close, rejects with `PartialAddError` saying exactly what is stored.
 * Each container here has its own connection to the file, as separate processes would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DuplicateKeyError, DuplicateTaskError, PartialAddError, type NewTask } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-large-add-'));
let n = 0;
const opened: SqlContainer[] = [];
afterAll(async () => {
	await Promise.allSettled(opened.map((c) => c.close()));
	rmSync(dir, { recursive: true, force: true });
});

/** Two containers on one new SQLite file, each with its own connection (as two processes). */
async function twoOnOneFile(): Promise<[SqlContainer, SqlContainer]> {
	const file = join(dir, `db${++n}.sqlite`);
	const made = [0, 1].map(
		() =>
			new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true },
				notify: false,
			}),
	) as [SqlContainer, SqlContainer];
	opened.push(...made);
	for (const c of made) await c.migrate();
	return made;
}
const tasks = (count: number, prefix: string, extra: (i: number) => Partial<NewTask> = () => ({})): NewTask[] =>
	Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, item: { i }, ...extra(i) }));

/** Resolves once `c` holds at least one waiting task (read on its own connection). */
async function firstStepVisible(c: SqlContainer, settled: () => boolean): Promise<boolean> {
	while (!settled()) {
		if ((await c.counts()).waiting > 0) return true;
		await sleep(2);
	}
	return false;
}

describe('SqlContainer on SQLite: a large add in steps', () => {
	it('lets another connection write between its steps, and stores every task in order', async () => {
		const [big, other] = await twoOnOneFile();
		const count = 20_000;
		let done = false;
		const add = big.add(records(tasks(count, 'a'))).finally(() => (done = true));
		// With one transaction nothing is visible until the add ends: this would only return false.
		const seenEarly = await firstStepVisible(other, () => done);
		expect(seenEarly).toBe(true);
		// Another writer gets the lock while the add still runs (it waited for the whole add before).
		await other.add(records([{ id: 'probe', item: null }]));
		const probeBeforeEnd = !done;
		await add;
		expect(probeBeforeEnd).toBe(true);
		const counts = await other.counts();
		expect(counts.waiting).toBe(count + 1);
		// In the add's order: claims take them first to last.
		const first = await other.claim(3, 'w', 60_000, Date.now());
		expect(first.map((t) => t.id).sort()).toEqual(expect.arrayContaining(['a0', 'a1']));
	});

	it('stores nothing when an id or a key is taken before it starts', async () => {
		const [big, other] = await twoOnOneFile();
		await other.add(records([{ id: 'b1500', item: null }]));
		await expect(big.add(records(tasks(2_000, 'b')))).rejects.toBeInstanceOf(DuplicateTaskError);
		await other.add(records([{ id: 'holder', item: null, key: 'k1700' }]));
		const keyed = tasks(2_000, 'c', (i) => ({ key: `k${i}` }));
		await expect(big.add(records(keyed))).rejects.toMatchObject({
			constructor: DuplicateKeyError,
			key: 'k1700',
			existingId: 'holder',
		});
		expect((await other.counts()).waiting).toBe(2);
		expect(await other.get('b0')).toBeNull();
		expect(await other.get('c0')).toBeNull();
	});

	it('says exactly what is stored when an id is taken while it runs (PartialAddError)', async () => {
		const [big, other] = await twoOnOneFile();
		const count = 20_000;
		let done = false;
		const add = big.add(records(tasks(count, 'd'))).finally(() => (done = true));
		expect(await firstStepVisible(other, () => done)).toBe(true);
		// The last step's first id, taken by another add after the add checked its ids.
		await other.add(records([{ id: `d${count - 500}`, item: 'other' }]));
		const error = (await add.catch((e: unknown) => e)) as PartialAddError;
		expect(error).toBeInstanceOf(PartialAddError);
		expect(error.cause).toBeInstanceOf(DuplicateTaskError);
		expect(error.unsureIds).toEqual([]);
		expect(error.storedIds).toEqual(tasks(count - 500, 'd').map((t) => t.id));
		expect((await other.counts()).waiting).toBe(count - 500 + 1);
		expect((await other.get(`d${count - 500}`))?.item).toBe('other');
		expect(await other.get(`d${count - 1}`)).toBeNull();
		expect(await other.get(`d${count - 501}`)).not.toBeNull();
	});

	it('says exactly what is stored when the container closes while it runs', async () => {
		const [big, other] = await twoOnOneFile();
		const count = 20_000;
		let done = false;
		const add = big.add(records(tasks(count, 'e'))).finally(() => (done = true));
		expect(await firstStepVisible(other, () => done)).toBe(true);
		const closing = big.close();
		const error = (await add.catch((e: unknown) => e)) as PartialAddError;
		await closing;
		expect(error).toBeInstanceOf(PartialAddError);
		const stored = new Set(error.storedIds);
		expect(stored.size % 500).toBe(0);
		expect(stored.size).toBeGreaterThan(0);
		expect(stored.size).toBeLessThan(count);
		expect(error.storedIds).toEqual(tasks(stored.size, 'e').map((t) => t.id));
		const waiting = (await other.counts()).waiting;
		expect([stored.size, stored.size + error.unsureIds.length]).toContain(waiting);
		expect(await other.get(`e${count - 1}`)).toBeNull();
	});
});
