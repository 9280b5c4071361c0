/**
 * SqlWorkflowStore: runs whose records hold awkward text (every control character, U+0001 included, quotes,
 * backslashes, braces and commas, non-ASCII, the word NULL) come back as they were written when their creates and
 * updates go in batches (on PostgreSQL the bodies of a batch travel as one text split by the server,
 * run-writes.ts `pgColumnArgument`), on SQLite and PostgreSQL. A body stores each step as an array
 * (workflows/run-body.ts) and reads back whole; a body stored whole, or with each step an object (as stores wrote
 * before), reads the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import type { RunRecord } from '../../src/workflow-store.js';
import { newStepState } from '../../workflows/advance.js';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
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

const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
const awkward = [
	controls,
	'\u0001',
	'a\u0001b\u0001',
	'"quoted" \\"escaped\\" \\\\ back\\slash',
	'{braces}, {"a": [1, 2]}, (parens)',
	'NULL',
	'',
	'naïve 日本語 🚀 \u2028\u2029',
];

describe.each(['SQLite', 'PostgreSQL'] as const)('SqlWorkflowStore on %s: batched run bodies', (backend) => {
	it('keep awkward text as written, through batched creates and batched updates', async () => {
		const store = new SqlWorkflowStore({
			knex: await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase(),
		});
		try {
			const runs = awkward.map((text, i) => sampleRun({ vars: { text, i, list: awkward } }));
			// Started together: all but the first go in one batch.
			await Promise.all(runs.map((run) => store.create(run)));
			for (const run of runs) expect(await store.get(run.id)).toEqual(run);
			const updated = (await Promise.all(
				runs.map((run, i) =>
					store.update({ ...run, shared: { note: awkward[(i + 1) % awkward.length] as string, controls } }),
				),
			)) as (RunRecord | null)[];
			expect(updated.every((run) => run !== null)).toBe(true);
			for (const run of updated as RunRecord[]) expect(await store.get(run.id)).toEqual(run);
			// Once more: each write compared against the rev the batch wrote.
			const again = await Promise.all(
				(updated as RunRecord[]).map((run) => store.update({ ...run, vars: { ...run.vars, again: controls } })),
			);
			for (const run of again) expect(await store.get((run as RunRecord).id)).toEqual(run);
		} finally {
			await store.close();
		}
	});

	it('stores each step as an array, and reads a body stored whole or with each step an object the same', async () => {
		const config = await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase();
		const store = new SqlWorkflowStore({ knex: config });
		const raw = knexFactory({ ...config, pool: { min: 0, max: 1 } });
		try {
			const waiting = newStepState();
			const done = { ...newStepState(), status: 'succeeded' as const, generation: 1, attempts: 1, finishedAt: 9 };
			const run = sampleRun({ createdAt: 2, steps: { done, next: waiting, later: { ...waiting, trace: [] } } });
			await store.create(run);
			const read = async (): Promise<Record<string, unknown>> => {
				const row = (await raw('lightsched_wf_runs').where({ id: run.id }).first('body')) as { body: string };
				return JSON.parse(row.body) as Record<string, unknown>;
			};
			// A waiting step's fields are all at their defaults: stored as []; the succeeded one keeps its status code,
			// generation, attempts, no start (null) and its end 7 ms after the run's creation.
			expect((await read()).steps).toEqual({ done: [2, 1, 1, null, 7], next: [], later: [] });
			expect(await store.get(run.id)).toEqual(run);
			const updated = (await store.update({ ...run, status: 'succeeded' })) as RunRecord;
			expect((await read()).steps).toEqual({ done: [2, 1, 1, null, 7], next: [], later: [] });
			expect(await store.get(run.id)).toEqual(updated);
			// A body stored whole reads the same, and updates as any other.
			await raw('lightsched_wf_runs')
				.where({ id: run.id })
				.update({ body: JSON.stringify({ ...updated, rev: undefined }) });
			expect(await store.get(run.id)).toEqual(updated);
			expect((await store.list({})).runs).toEqual([updated]);
			// And so does one with each step an object, its default fields left out.
			await raw('lightsched_wf_runs')
				.where({ id: run.id })
				.update({
					body: JSON.stringify({
						...updated,
						rev: undefined,
						steps: {
							done: { status: 'succeeded', generation: 1, attempts: 1, finishedAt: 9 },
							next: {},
							later: {},
						},
					}),
				});
			expect(await store.get(run.id)).toEqual(updated);
			const again = (await store.update({ ...updated, shared: { k: 1 } })) as RunRecord;
			expect(await store.get(run.id)).toEqual(again);
		} finally {
			await raw.destroy();
			await store.close();
		}
	});
});
