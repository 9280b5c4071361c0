/**
 * The workflow store contract: every `WorkflowStore` passes this suite (memory, SQL, and any later store).
 * `makeStore` gives a fresh, empty store each call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRecord, RunStatus, WorkflowStore } from 'lightsched/workflows';
import { DuplicateRunError } from 'lightsched/workflows';

let n = 0;

/** A run record with one step, for store tests. */
export function sampleRun(patch: Partial<RunRecord> = {}): RunRecord {
	n += 1;
	return {
		id: `run-${n}-${Math.random().toString(36).slice(2, 8)}`,
		definition: 'deploy',
		version: 1,
		vars: { region: 'eu', nodes: 3 },
		key: null,
		uniqueKey: false,
		status: 'running',
		shared: {},
		steps: {
			a: {
				status: 'running',
				generation: 1,
				attempts: 0,
				output: null,
				error: null,
				checkpoint: null,
				trace: [],
				startedAt: 1,
				finishedAt: null,
				continued: false,
				handBack: false,
			},
		},
		createdAt: 1_000 + n,
		updatedAt: 1_000 + n,
		finishedAt: null,
		deadlineAt: null,
		error: null,
		open: true,
		notified: null,
		rev: 0,
		...patch,
	};
}

export function workflowStoreContract(name: string, makeStore: () => Promise<WorkflowStore>): void {
	describe(`WorkflowStore contract: ${name}`, () => {
		const stores: WorkflowStore[] = [];
		const fresh = async (): Promise<WorkflowStore> => {
			const store = await makeStore();
			stores.push(store);
			return store;
		};
		afterEach(async () => {
			for (const store of stores.splice(0)) await store.close();
		});

		it('stores and returns copies: changing a record handed in or out changes nothing stored', async () => {
			const store = await fresh();
			const run = sampleRun({ shared: { a: [1, 2] } });
			await store.create(run);
			(run.shared.a as number[]).push(3);
			const got = (await store.get(run.id)) as RunRecord;
			expect(got.shared).toEqual({ a: [1, 2] });
			got.steps.a!.status = 'failed';
			expect((await store.get(run.id))?.steps.a?.status).toBe('running');
			expect(got.rev).toBe(0);
			expect(await store.get('missing')).toBeNull();
		});

		it('an update stores a copy: what changed in a step is written, and changing records afterwards changes nothing stored', async () => {
			const store = await fresh();
			const base = sampleRun();
			const run = sampleRun({
				steps: { a: base.steps.a!, b: { ...base.steps.a!, status: 'succeeded', output: { list: [1] } } },
			});
			await store.create(run);
			const first = (await store.get(run.id)) as RunRecord;
			first.steps.a!.status = 'succeeded';
			const written = (await store.update(first)) as RunRecord;
			// Step b was left as it was by that write: changing it, in the record written or returned, changes nothing stored.
			(first.steps.b!.output as { list: number[] }).list.push(9);
			(written.steps.b!.output as { list: number[] }).list.push(8);
			written.steps.b!.trace.push('late');
			let stored = (await store.get(run.id)) as RunRecord;
			expect(stored.steps.a?.status).toBe('succeeded');
			expect(stored.steps.b?.output).toEqual({ list: [1] });
			expect(stored.steps.b?.trace).toEqual([]);
			// A change deep in a step otherwise unchanged is written.
			(stored.steps.b!.output as { list: number[] }).list.push(2);
			stored = (await store.update(stored)) as RunRecord;
			expect((await store.get(run.id))?.steps.b?.output).toEqual({ list: [1, 2] });
			stored.steps.b!.trace = ['x'];
			stored.steps.b!.output = { list: [1, 2], more: null };
			await store.update(stored);
			expect((await store.get(run.id))?.steps.b).toMatchObject({
				output: { list: [1, 2], more: null },
				trace: ['x'],
			});
		});

		it('refuses a second run with the same id', async () => {
			const store = await fresh();
			const run = sampleRun();
			await store.create(run);
			await expect(store.create(run)).rejects.toBeInstanceOf(DuplicateRunError);
		});

		it('update is a compare-and-set on rev: the first writer wins, a stale rev gets null', async () => {
			const store = await fresh();
			const run = sampleRun();
			await store.create(run);
			const a = (await store.get(run.id)) as RunRecord;
			const b = (await store.get(run.id)) as RunRecord;
			a.shared.x = 1;
			b.shared.y = 2;
			const written = await store.update(a);
			expect(written?.rev).toBe(1);
			expect(written?.shared).toEqual({ x: 1 });
			expect(await store.update(b)).toBeNull();
			expect((await store.get(run.id))?.shared).toEqual({ x: 1 });
			expect(await store.update({ ...sampleRun(), id: 'missing' })).toBeNull();
			// Concurrent updates from one rev: exactly one wins.
			const base = (await store.get(run.id)) as RunRecord;
			const results = await Promise.all(
				[1, 2, 3, 4, 5].map((i) => store.update({ ...structuredClone(base), shared: { i } })),
			);
			expect(results.filter((r) => r !== null)).toHaveLength(1);
			expect((await store.get(run.id))?.rev).toBe(2);
		});

		it('update refuses a record of a removed run to another run created under its id, at the same rev', async () => {
			const store = await fresh();
			const old = sampleRun({ status: 'running' });
			await store.create(old);
			const remembered = (await store.update(old)) as RunRecord; // rev 1, as a process remembers it
			await store.update({ ...remembered, status: 'succeeded', open: false, finishedAt: 5 });
			expect(await store.remove(old.id)).toBe(true);
			// Created again under the id (a caller's id reused), and brought to the same rev.
			await store.create({ ...old, createdAt: old.createdAt + 5, vars: { fresh: true } });
			const now = (await store.update({ ...((await store.get(old.id)) as RunRecord) })) as RunRecord;
			expect(now.rev).toBe(remembered.rev);
			// The old record's write, planned from memory: refused, the new run as it was.
			expect(await store.update({ ...remembered, shared: { stale: true } })).toBeNull();
			const stored = (await store.get(old.id)) as RunRecord;
			expect(stored).toMatchObject({
				createdAt: old.createdAt + 5,
				vars: { fresh: true },
				shared: {},
				rev: now.rev,
			});
			// Its own record is still written.
			expect(await store.update({ ...stored, shared: { mine: true } })).toMatchObject({ rev: now.rev + 1 });
		});

		it('a unique key refuses a second unfinished run with it, and is free again once the holder is final', async () => {
			const store = await fresh();
			const first = sampleRun({ key: 'cluster-1', uniqueKey: true });
			await store.create(first);
			const error = await store.create(sampleRun({ key: 'cluster-1', uniqueKey: true })).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(DuplicateRunError);
			expect((error as DuplicateRunError).key).toBe('cluster-1');
			expect((error as Error).message).toContain(first.id);
			// A run without `uniqueKey` may share the key; other keys are free.
			await store.create(sampleRun({ key: 'cluster-1' }));
			await store.create(sampleRun({ key: 'cluster-2', uniqueKey: true }));
			// Concurrent creates with one key: exactly one wins.
			const racing = await Promise.allSettled(
				[1, 2, 3, 4].map(() => store.create(sampleRun({ key: 'race', uniqueKey: true }))),
			);
			expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
			const held = (await store.get(first.id)) as RunRecord;
			const finished = (await store.update({ ...held, status: 'failed', finishedAt: 5 })) as RunRecord;
			const second = sampleRun({ key: 'cluster-1', uniqueKey: true });
			await store.create(second);
			// Re-opening the first (a retry) while the second holds the key is refused, and stores nothing.
			await expect(store.update({ ...finished, status: 'running' })).rejects.toBeInstanceOf(DuplicateRunError);
			expect((await store.get(first.id))?.status).toBe('failed');
		});

		it('updates of many runs at once each keep their own compare-and-set: stale ones and a taken key fail alone', async () => {
			const store = await fresh();
			const runs = Array.from({ length: 12 }, () => sampleRun());
			for (const run of runs) await store.create(run);
			// Every update asked for in one go (SQL sends those that arrive while one is on its way as one statement).
			const values = await Promise.all([
				...runs.map((run, i) =>
					// Even runs at their stored rev; odd ones at a rev that is not stored (stale).
					store.update({ ...run, rev: i % 2 === 0 ? 0 : 7, shared: { i } }),
				),
				// A second write of one run from the same rev: one of the two wins.
				store.update({ ...(runs[2] as RunRecord), rev: 0, shared: { twice: true } }),
			]);
			for (let i = 0; i < runs.length; i++) {
				const stored = (await store.get((runs[i] as RunRecord).id)) as RunRecord;
				if (i === 2) continue;
				if (i % 2 === 0) {
					expect(values[i]).toMatchObject({ id: runs[i]!.id, rev: 1, shared: { i } });
					expect(stored).toMatchObject({ rev: 1, shared: { i } });
				} else {
					expect(values[i]).toBeNull();
					expect(stored).toMatchObject({ rev: 0, shared: {} });
				}
			}
			const twice = (await store.get(runs[2]!.id)) as RunRecord;
			expect(twice.rev).toBe(1);
			const winners = [values[2], values[runs.length]].filter((v) => v !== null);
			expect(winners).toHaveLength(1);
			expect(twice.shared).toEqual((winners[0] as RunRecord).shared);
			// A unique-key run finished, and another run now holding its key: re-opening the first fails, the
			// updates asked for with it are written.
			const holder = sampleRun({ key: 'k', uniqueKey: true });
			await store.create(holder);
			const done = (await store.update({ ...holder, status: 'failed', finishedAt: 5 })) as RunRecord;
			await store.create(sampleRun({ key: 'k', uniqueKey: true }));
			const [, reopened, ...others] = await Promise.allSettled([
				store.update({ ...(values[0] as RunRecord), shared: { again: 0 } }),
				store.update({ ...done, status: 'running' }),
				store.update({ ...(values[4] as RunRecord), shared: { again: 4 } }),
				store.update({ ...(values[6] as RunRecord), shared: { again: 6 } }),
			]);
			expect(reopened.status === 'rejected' && reopened.reason).toBeInstanceOf(DuplicateRunError);
			expect((await store.get(holder.id))?.status).toBe('failed');
			expect(others.map((o) => o.status === 'fulfilled' && o.value?.shared)).toEqual([
				{ again: 4 },
				{ again: 6 },
			]);
			expect((await store.get(runs[4]!.id))?.shared).toEqual({ again: 4 });
		});

		it('lists by definition, status, key and creation time, paged, in both orders', async () => {
			const store = await fresh();
			const runs: RunRecord[] = [];
			const statuses: RunStatus[] = ['running', 'failed', 'succeeded', 'failed', 'blocked', 'failed'];
			for (let i = 0; i < 6; i++) {
				const run = sampleRun({
					definition: i % 2 === 0 ? 'deploy' : 'backup',
					status: statuses[i] as RunStatus,
					key: i < 3 ? 'k1' : 'k2',
					createdAt: 10_000 + i * 10,
				});
				runs.push(run);
				await store.create(run);
			}
			const ids = async (query: Parameters<WorkflowStore['list']>[0]): Promise<string[]> =>
				(await store.list(query)).runs.map((r) => r.id);
			expect(await ids({})).toEqual(runs.map((r) => r.id));
			expect(await ids({ order: 'desc' })).toEqual(runs.map((r) => r.id).reverse());
			expect(await ids({ definition: 'backup' })).toEqual([runs[1]!.id, runs[3]!.id, runs[5]!.id]);
			expect(await ids({ status: 'failed', key: 'k2' })).toEqual([runs[3]!.id, runs[5]!.id]);
			expect(await ids({ status: ['running', 'blocked'] })).toEqual([runs[0]!.id, runs[4]!.id]);
			expect(await ids({ from: 10_010, to: 10_030 })).toEqual([runs[1]!.id, runs[2]!.id]);
			const page = await store.list({ offset: 2, limit: 3 });
			expect(page.total).toBe(6);
			expect(page.runs.map((r) => r.id)).toEqual(runs.slice(2, 5).map((r) => r.id));
			expect((await store.list({ status: 'failed', limit: 1 })).total).toBe(3);
		});

		it('open lists the open runs only, up to the limit', async () => {
			const store = await fresh();
			const open1 = sampleRun();
			const closed = sampleRun({ status: 'succeeded', open: false, notified: 'succeeded' });
			const open2 = sampleRun({ status: 'stopped' });
			for (const run of [open1, closed, open2]) await store.create(run);
			expect((await store.open(10)).map((r) => r.id).sort()).toEqual([open1.id, open2.id].sort());
			expect(await store.open(1)).toHaveLength(1);
			const got = (await store.get(open1.id)) as RunRecord;
			await store.update({ ...got, status: 'succeeded', open: false });
			expect((await store.open(10)).map((r) => r.id)).toEqual([open2.id]);
		});

		it('removes a run that is not open; refuses an open one', async () => {
			const store = await fresh();
			const open = sampleRun();
			const done = sampleRun({ status: 'succeeded', open: false });
			await store.create(open);
			await store.create(done);
			await expect(store.remove(open.id)).rejects.toThrow(/remove/);
			expect(await store.remove(done.id)).toBe(true);
			expect(await store.remove(done.id)).toBe(false);
			expect(await store.get(done.id)).toBeNull();
		});

		it('remove with the run as read deletes only that run: one changed since, or another under its id, stays', async () => {
			const store = await fresh();
			const first = sampleRun({ status: 'failed', open: false, notified: 'failed' });
			await store.create(first);
			const read = (await store.get(first.id)) as RunRecord;
			// Retried and failed again since it was read: another rev, not open.
			const retried = (await store.update({ ...read, status: 'running', open: true })) as RunRecord;
			const again = (await store.update({ ...retried, status: 'failed', open: false })) as RunRecord;
			expect(await store.remove(first.id, read)).toBe(false);
			expect((await store.get(first.id))?.rev).toBe(again.rev);
			// Open again, and read before: not this run (false, not a rejection); read as it is now: refused as open.
			const reopened = (await store.update({ ...again, status: 'running', open: true })) as RunRecord;
			expect(await store.remove(first.id, again)).toBe(false);
			await expect(store.remove(first.id, reopened)).rejects.toThrow(/remove/);
			const closed = (await store.update({ ...reopened, status: 'failed', open: false })) as RunRecord;
			expect(await store.remove(first.id, closed)).toBe(true);
			expect(await store.get(first.id)).toBeNull();
			expect(await store.remove(first.id, closed)).toBe(false);
			// Another run created under the id since, at the same rev: another createdAt.
			const old = sampleRun({ status: 'succeeded', open: false, notified: 'succeeded' });
			await store.create(old);
			expect(await store.remove(old.id, old)).toBe(true);
			await store.create({ ...old, createdAt: old.createdAt + 5 });
			expect(await store.remove(old.id, old)).toBe(false);
			expect((await store.get(old.id))?.createdAt).toBe(old.createdAt + 5);
			expect(await store.remove(old.id, { rev: 0, createdAt: old.createdAt + 5 })).toBe(true);
		});

		it('keeps the first body stored under a definition version', async () => {
			const store = await fresh();
			const first = { name: 'deploy', version: 1, body: { name: 'deploy', steps: [{ id: 'a', action: 'x' }] } };
			expect(await store.putDefinition(first)).toEqual(first);
			const other = await store.putDefinition({ ...first, body: { name: 'deploy', steps: [] } });
			expect(other).toEqual(first);
			expect(await store.getDefinition('deploy', 1)).toEqual(first);
			expect(await store.getDefinition('deploy', 2)).toBeNull();
		});
	});
}
