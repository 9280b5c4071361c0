/**
 * The task list over SQLite counts nothing per page: its pages read `limit + 1` rows (`exactTotal: false`), the
 * total shown comes from the sampler's counts (one `GROUP BY status` per sample, not per request) and is exact on
 * the last page; `more` drives the next link. And a slow `counts()` spaces the samples out.
 */
import { type TaskContainer, type TaskCounts } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { QueueContainer } from 'lightsched/containers/queue';
import { startDashboard, type RunningDashboard } from 'lightsched/dashboard';
import { records } from 'lightsched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend, type SqlBackend } from '../support/sql.js';

interface ListAnswer {
	tasks: { id: string; status: string }[];
	total: number;
	more: boolean;
	totalFrom: 'page' | 'sample' | 'at-least';
	sampledAt: number | null;
}

const id = (i: number) => `t${String(i).padStart(2, '0')}`;

describe('the task list over SQLite', () => {
	let sql: SqlBackend;
	let container: SqlContainer;
	let dashboard: RunningDashboard;
	const queries: string[] = [];
	const list = async (query: string) => {
		const response = await fetch(`${dashboard.url}api/tasks?${query}`);
		expect(response.status).toBe(200);
		return (await response.json()) as ListAnswer;
	};

	beforeAll(async () => {
		sql = sqliteBackend();
		container = new SqlContainer({ knex: await sql.freshDatabase() });
		await container.add(records(Array.from({ length: 23 }, (_, i) => ({ id: id(i), item: i }))));
		for (const i of [3, 9, 17]) await container.transition(id(i), 'waiting', 'failed', { finishedAt: Date.now() });
		// One sample a minute: every request below is served by the first.
		dashboard = await startDashboard({ container, port: 0, sampleMs: 60_000 });
		container.knex.on('query', (query: { sql: string }) => queries.push(query.sql));
	});
	afterAll(async () => {
		await dashboard?.close();
		await container?.close();
		await sql?.stop();
	});

	it('pages by `more`, with the sampled total, and no page counts the matching tasks', async () => {
		const first = await list('limit=5&order=asc');
		expect(first).toMatchObject({ total: 23, more: true, totalFrom: 'sample' });
		expect(first.tasks.map((t) => t.id)).toEqual([0, 1, 2, 3, 4].map(id));
		expect(first.sampledAt).toBeLessThanOrEqual(Date.now());
		const seen: string[] = [];
		let last = first;
		for (let offset = 0; ; offset += 5) {
			last = await list(`limit=5&order=asc&offset=${offset}`);
			seen.push(...last.tasks.map((t) => t.id));
			if (!last.more) break;
			expect(last).toMatchObject({ total: 23, totalFrom: 'sample' });
		}
		expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => id(i)));
		expect(last).toMatchObject({ total: 23, more: false, totalFrom: 'page', sampledAt: null });
		const failed = await list('status=failed&limit=2&order=desc');
		expect(failed).toMatchObject({ total: 3, more: true, totalFrom: 'sample' });
		expect(failed.tasks.map((t) => t.id)).toEqual([id(17), id(9)]);
		expect(await list('status=failed&limit=2&order=desc&offset=2')).toMatchObject({
			total: 3,
			more: false,
			tasks: [{ id: id(3), status: 'failed' }],
		});
		expect(await list('status=waiting,waiting&limit=50')).toMatchObject({ total: 20, more: false });
		expect(await list('status=waiting,failed&limit=5')).toMatchObject({ total: 23, more: true });

		expect(queries.some((q) => /\bLIMIT\b/i.test(q))).toBe(true);
		const counting = queries.filter((q) => /count\(/i.test(q));
		// Only the sampler's own first sample counted (the list reads only pages).
		expect(counting.length).toBeLessThanOrEqual(1);
		for (const q of counting) expect(q).toMatch(/GROUP BY status/i);
	});

	it('is exact on the last page for tasks added after the sample, and past the end', async () => {
		await container.add(records([24, 25, 26].map((i) => ({ id: id(i), item: i }))));
		expect(await list('limit=5&order=asc&offset=23')).toMatchObject({
			total: 26,
			more: false,
			totalFrom: 'page',
			tasks: [{ id: id(24) }, { id: id(25) }, { id: id(26) }],
		});
		// The first page still shows the sampled total (at least what the page itself proves).
		const first = await list('limit=5&order=asc');
		expect(first.totalFrom).toBe('sample');
		expect(first.total).toBeGreaterThanOrEqual(6);
		expect(await list('limit=5&offset=100')).toMatchObject({
			tasks: [],
			total: 26,
			more: false,
			totalFrom: 'page',
		});
	});
});

describe("the dashboard's sampler", () => {
	it('spaces its samples out when counts() is slow (ten times its duration at least)', async () => {
		const memory = new QueueContainer();
		let calls = 0;
		const slow = new Proxy(memory, {
			get(target, name) {
				if (name === 'counts')
					return async (): Promise<TaskCounts> => {
						calls++;
						await new Promise((resolve) => setTimeout(resolve, 200));
						return target.counts();
					};
				const value: unknown = Reflect.get(target, name, target);
				return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
			},
		}) as TaskContainer;
		const dashboard = await startDashboard({ container: slow, port: 0, sampleMs: 50 });
		try {
			await fetch(`${dashboard.url}api/stats`);
			await new Promise((resolve) => setTimeout(resolve, 3_000));
			// Every 50 ms plus 200 ms would be 12 samples in these 3 s; 2.2 s apart (or more), 2 at most.
			expect(calls).toBeGreaterThanOrEqual(1);
			expect(calls).toBeLessThanOrEqual(4);
		} finally {
			await dashboard.close();
			await memory.close();
		}
	});
});
