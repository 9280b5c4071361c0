/**
 * The `trace` field survives what the record-fields test does not walk through: a CombinedContainer's restore from
 * its SQL half after a restart, and a re-run (a finished task added again with a new trace).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { CombinedContainer } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer } from 'lightsched/containers/sql';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-stored-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 congo=t61rcWkgMzE';
const sql = (file: string): SqlContainer =>
	new SqlContainer({ knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true } });
const record = (id: string, trace: string | null): TaskRecord =>
	createTaskRecord({ id, item: id }, 'task', { maxAttempts: 1 }, Date.now(), trace) as TaskRecord;

describe('the stored trace', () => {
	it('is restored by a CombinedContainer from its SQL half', async () => {
		const file = join(dir, 'combined.sqlite');
		const first = new CombinedContainer(new QueueContainer(), sql(file));
		await first.add([record('traced', TRACE), record('untraced', null)]);
		await first.close();
		const second = new CombinedContainer(new QueueContainer(), sql(file));
		try {
			expect((await second.restore()).restored).toBe(2);
			expect((await second.get('traced'))?.trace).toBe(TRACE);
			expect((await second.get('untraced'))?.trace).toBeNull();
			const claimed = await second.claim(2, 'o', 10_000, Date.now());
			expect(Object.fromEntries(claimed.map((t) => [t.id, t.trace]))).toEqual({ traced: TRACE, untraced: null });
		} finally {
			await second.close();
		}
	});

	it('is replaced when a finished task is added again', async () => {
		const c = sql(join(dir, 'rerun.sqlite'));
		try {
			await c.add([record('again', TRACE)]);
			await c.claim(1, 'o', 10_000, Date.now());
			await c.transition('again', 'running', 'succeeded', { finishedAt: Date.now() }, 'o');
			await c.add([record('again', null)]);
			expect(await c.get('again')).toMatchObject({ status: 'waiting', trace: null });
		} finally {
			await c.close();
		}
	});
});
