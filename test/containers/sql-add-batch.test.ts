/**
 * SqlContainer's adds written together (containers/sql/add-queue.ts, add-batch.ts), on SQLite and PostgreSQL:
 * adds from two containers at once (two pools, as two processes would have) race for the same ids and keys and
 * each is stored exactly once; an add the database refuses for its own rows fails alone; bad input is refused
 * before it joins a batch. (The shared contract's concurrent-add case runs in sql.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, DuplicateKeyError, DuplicateTaskError, InvalidTaskError } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

const backends: [string, () => Promise<SqlBackend> | SqlBackend][] = [
	['SQLite', () => sqliteBackend()],
	['PostgreSQL', () => postgresBackend()],
];

describe.each(backends)('SqlContainer adds on %s', (name, start) => {
	let backend: SqlBackend;
	const open: SqlContainer[] = [];
	beforeAll(async () => {
		backend = await start();
	});
	afterAll(async () => {
		await Promise.all(open.map((c) => c.close()));
		await backend?.stop();
	});
	const containers = async (n: number): Promise<SqlContainer[]> => {
		const knex = await backend.freshDatabase();
		const made = Array.from({ length: n }, () => new SqlContainer({ knex }));
		open.push(...made);
		for (const c of made) await c.migrate();
		return made;
	};

	it('stores each id and key once when two containers add them at once; the other add is refused', async () => {
		const [a, b] = (await containers(2)) as [SqlContainer, SqlContainer];
		const n = 200;
		const calls = Array.from({ length: n }, (_, i) => [
			a.add(records([{ id: `t${i}`, item: `a${i}` }])),
			b.add(records([{ id: `t${i}`, item: `b${i}` }])),
			a.add(records([{ id: `ka${i}`, item: i, key: `k${i}` }])),
			b.add(records([{ id: `kb${i}`, item: i, key: `k${i}` }])),
		]);
		const settled = await Promise.all(calls.map((four) => Promise.allSettled(four)));
		for (let i = 0; i < n; i++) {
			const [idA, idB, keyA, keyB] = settled[i] as PromiseSettledResult<void>[];
			const ids = [idA, idB].map((s) => s?.status);
			expect(ids.sort(), `t${i}`).toEqual(['fulfilled', 'rejected']);
			const lost = [idA, idB].find((s) => s?.status === 'rejected') as PromiseRejectedResult;
			expect(lost.reason).toBeInstanceOf(DuplicateTaskError);
			const stored = await a.get(`t${i}`);
			expect(stored?.item).toBe(idA?.status === 'fulfilled' ? `a${i}` : `b${i}`);
			expect([keyA, keyB].map((s) => s?.status).sort(), `k${i}`).toEqual(['fulfilled', 'rejected']);
			const keyLost = [keyA, keyB].find((s) => s?.status === 'rejected') as PromiseRejectedResult;
			expect(keyLost.reason).toBeInstanceOf(DuplicateKeyError);
			const winner = keyA?.status === 'fulfilled' ? `ka${i}` : `kb${i}`;
			expect(keyLost.reason).toMatchObject({ key: `k${i}`, existingId: winner });
			expect(await b.get(winner)).toMatchObject({ key: `k${i}`, status: 'waiting' });
			expect(await b.get(winner === `ka${i}` ? `kb${i}` : `ka${i}`)).toBeNull();
		}
		expect((await a.counts()).waiting).toBe(2 * n);
	});

	it('fails only the add whose rows the database refuses; the adds written with it are stored', async () => {
		const [c] = (await containers(1)) as [SqlContainer];
		// A rule of the database's own that no check of the container's knows: no item may be "poison".
		if (c.dialect === 'pg') {
			await c.knex.raw(`CREATE FUNCTION no_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.item = '"poison"' THEN RAISE EXCEPTION 'poisoned' USING ERRCODE = 'check_violation'; END IF;
				RETURN NEW; END $$`);
			await c.knex.raw(
				`CREATE TRIGGER no_poison BEFORE INSERT ON lightsched_tasks FOR EACH ROW EXECUTE FUNCTION no_poison()`,
			);
		} else {
			await c.knex.raw(`CREATE TRIGGER no_poison BEFORE INSERT ON lightsched_tasks WHEN NEW.item = '"poison"'
				BEGIN SELECT RAISE(ABORT, 'poisoned'); END`);
		}
		const items = Array.from({ length: 50 }, (_, i) => (i === 25 ? 'poison' : i));
		const settled = await Promise.allSettled(items.map((item, i) => c.add(records([{ id: `p${i}`, item }]))));
		expect(settled.map((s) => s.status)).toEqual(
			items.map((item) => (item === 'poison' ? 'rejected' : 'fulfilled')),
		);
		expect((settled[25] as PromiseRejectedResult).reason).toBeInstanceOf(ContainerError);
		expect((settled[25] as PromiseRejectedResult).reason.message).toMatch(/poisoned/);
		expect(await c.get('p25')).toBeNull();
		for (let i = 0; i < 50; i++) if (i !== 25) expect(await c.get(`p${i}`)).toMatchObject({ item: i });
	});

	it('refuses a key or group PostgreSQL text cannot hold (NUL) before writing, naming the field', async () => {
		const [c] = (await containers(1)) as [SqlContainer];
		const bad = [
			c.add(records([{ id: 'fine', item: 1 }])),
			c.add(records([{ id: 'k', item: 1, key: 'a\u0000b' }])),
			c.add(records([{ id: 'g', item: 1, group: 'g\u0000' }])),
			c.add(records([{ id: 'also-fine', item: 2 }])),
		];
		const settled = await Promise.allSettled(bad);
		expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
		const [key, group] = [settled[1], settled[2]].map((s) => (s as PromiseRejectedResult).reason as Error);
		expect(key).toBeInstanceOf(InvalidTaskError);
		expect(key?.message).toMatch(/`tasks\[0\]\.key`.*NUL/);
		expect(group?.message).toMatch(/`tasks\[0\]\.group`.*NUL/);
		expect(await c.get('k')).toBeNull();
		expect(await c.get('g')).toBeNull();
		expect((await c.counts()).waiting).toBe(2);
	});
});
