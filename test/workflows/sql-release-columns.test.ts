/**
 * A batch of step releases (run writes carrying step tasks) keeps every run's queried columns (status, open, the
 * unique key's holder) in step with its record, whether the write leaves them as they were (a step's end) or
 * changes them (a run finishing), beside a stale compare-and-set and a refused key, each write with its own outcome;
 * on SQLite and PostgreSQL. (An update sets neither a run's definition, version nor key: run-writes.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionActuator } from 'lightsched/actuators/function';
import { Scheduler } from 'lightsched';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { taskRelease, withTaskRelease, type ReleasingUpdate, type TaskRecord } from 'lightsched/kit';
import { DuplicateRunError, type RunRecord } from 'lightsched/workflows';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { sampleRun } from './store.contract.js';

const sqlite = sqliteBackend();
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await postgres?.stop();
});

describe.each(['SQLite', 'PostgreSQL'] as const)('Step releases in one batch on %s', (backend) => {
	it('keep each run’s status, open flag and key holder as its record says, each write with its own outcome', async () => {
		const container = new SqlContainer({
			knex: await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase(),
		});
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const { prepare } = scheduler[taskRelease]();
			// Due later: not claimed during the test.
			const runAt = Date.now() + 60_000;
			const task = async (run: RunRecord, name: string): Promise<TaskRecord[]> =>
				prepare([{ id: `${run.id}:${name}`, item: {}, runAt }]);
			const first = sampleRun();
			const moving = sampleRun({ key: 'm', uniqueKey: true });
			const finishing = sampleRun({ key: 'f', uniqueKey: true });
			const stale = sampleRun();
			const other = sampleRun();
			for (const run of [first, moving, finishing, stale, other]) await store.create(run);
			expect(await store.update(stale)).not.toBeNull();
			// The five in one batch (one transaction on SQLite, one statement on PostgreSQL): asked for in one turn.
			const [, movingOut, finishingOut, staleOut, otherOut] = await Promise.all([
				release(first, await task(first, 'next')),
				release({ ...moving, shared: { step: 2 } }, await task(moving, 'next')),
				release(
					{ ...finishing, status: 'succeeded', open: false, finishedAt: 9, shared: { done: true } },
					await task(finishing, 'next'),
				),
				release(stale, await task(stale, 'next')),
				release({ ...other, shared: { step: 2 } }, await task(other, 'next')),
			]);
			expect(staleOut).toBeNull();
			expect(await scheduler.get(`${stale.id}:next`)).toBeNull();
			for (const [run, out] of [
				[moving, movingOut],
				[finishing, finishingOut],
				[other, otherOut],
			] as const) {
				expect(out?.run.rev).toBe(1);
				expect(out?.added.map((t) => t.id)).toEqual([`${run.id}:next`]);
				expect(await store.get(run.id)).toEqual(out?.run);
			}
			// The columns the queries read, as the records say.
			expect((await store.list({ status: 'succeeded' })).runs.map((run) => run.id)).toEqual([finishing.id]);
			expect((await store.list({ status: 'running' })).runs.map((run) => run.id).sort()).toEqual(
				[first.id, moving.id, stale.id, other.id].sort(),
			);
			expect((await store.open(100)).map((run) => run.id)).not.toContain(finishing.id);
			expect((await store.open(100)).map((run) => run.id)).toContain(moving.id);
			// `finishing` let its key go: a new run takes it; `moving` still holds its own.
			const taker = sampleRun({ key: 'f', uniqueKey: true });
			await store.create(taker);
			await expect(store.create(sampleRun({ key: 'm', uniqueKey: true }))).rejects.toBeInstanceOf(
				DuplicateRunError,
			);

			// A batch with a refused write (re-opening `finishing`, whose key `taker` now holds): the others are written
			// once each, the refused one not at all, nor its task.
			const again = await Promise.allSettled([
				release({ ...(first as RunRecord), rev: 1, shared: { step: 3 } }, await task(first, 'third')),
				release({ ...(movingOut?.run as RunRecord), shared: { step: 3 } }, await task(moving, 'third')),
				release(
					{ ...(finishingOut?.run as RunRecord), status: 'running', open: true, finishedAt: null },
					await task(finishing, 'again'),
				),
				release({ ...(otherOut?.run as RunRecord), shared: { step: 3 } }, await task(other, 'third')),
			]);
			const refused = again[2];
			expect(refused?.status === 'rejected' && refused.reason).toBeInstanceOf(DuplicateRunError);
			expect(await scheduler.get(`${finishing.id}:again`)).toBeNull();
			expect(await store.get(finishing.id)).toEqual(finishingOut?.run);
			for (const [i, run] of [
				[0, first],
				[1, moving],
				[3, other],
			] as const) {
				const out = again[i];
				expect(out?.status).toBe('fulfilled');
				expect(out?.status === 'fulfilled' && out.value?.run.rev).toBe(2);
				expect((await store.get(run.id))?.shared).toEqual({ step: 3 });
				expect(await scheduler.get(`${run.id}:third`)).not.toBeNull();
			}
			expect((await store.list({ status: 'succeeded' })).runs.map((run) => run.id)).toEqual([finishing.id]);
		} finally {
			await scheduler.close();
			await store.close();
		}
	});
});
