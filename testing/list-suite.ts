/**
 * The container contract's listing: by status, with offset, limit, order, `more` and an exact total, or without the
 * exact total (the same pages, a lower bound). Declared by `describeContainerContract`.
 */
import { expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/** Declare the listing cases for the containers `make` makes. */
export function describeLists(make: () => Promise<TaskContainer>): void {
	it('lists by status with offset, limit, order and total', async () => {
		const c = await make();
		await c.add(taskRecords(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
		await c.claim(3, 'o', LEASE, Date.now());
		const all = await c.list();
		expect(all.total).toBe(10);
		expect(all.tasks.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
		const waiting = await c.list({ status: 'waiting', offset: 2, limit: 3 });
		expect(waiting.total).toBe(7);
		expect(waiting.tasks.map((t) => t.id)).toEqual(['t5', 't6', 't7']);
		const both = await c.list({ status: ['running', 'waiting'], limit: 2, order: 'desc' });
		expect(both.total).toBe(10);
		expect(both.tasks.map((t) => t.id)).toEqual(['t9', 't8']);
		expect((await c.list({ status: 'succeeded' })).total).toBe(0);
		expect([all.more, waiting.more, both.more]).toEqual([false, true, true]);
		expect((await c.list({ status: 'waiting', offset: 4, limit: 3 })).more).toBe(false);
	});

	it('lists without an exact total: the same pages, `more` exactly when another page follows, a lower bound', async () => {
		const c = await make();
		await c.add(taskRecords(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
		await c.claim(3, 'o', LEASE, Date.now());
		const matching = { all: 10, waiting: 7, both: 10, none: 0 };
		const statuses = {
			all: undefined,
			waiting: 'waiting',
			both: ['running', 'waiting'],
			none: 'succeeded',
		} as const;
		for (const [name, status] of Object.entries(statuses))
			for (const order of ['asc', 'desc'] as const)
				for (const offset of [0, 3, 6, 7, 12])
					for (const limit of [0, 1, 3, 7]) {
						const query = { ...(status === undefined ? {} : { status }), order, offset, limit };
						const where = JSON.stringify(query);
						const exact = await c.list(query);
						const bound = await c.list({ ...query, exactTotal: false });
						const count = matching[name as keyof typeof matching];
						const shown = Math.min(limit, Math.max(0, count - offset));
						expect(exact.total, where).toBe(count);
						expect(
							bound.tasks.map((t) => t.id),
							where,
						).toEqual(exact.tasks.map((t) => t.id));
						expect(bound.tasks.length, where).toBe(shown);
						expect(exact.more, where).toBe(offset + shown < count);
						expect(bound.more, where).toBe(offset + shown < count);
						expect(bound.total, where).toBeLessThanOrEqual(count);
						if (shown === 0) expect(bound.total, where).toBe(count);
						else expect(bound.total, where).toBeGreaterThanOrEqual(offset + shown + (bound.more ? 1 : 0));
					}
		// Walking the pages by `more` alone reads every task once, in order.
		const seen: string[] = [];
		for (let offset = 0; ; offset += 3) {
			const page = await c.list({ order: 'desc', offset, limit: 3, exactTotal: false });
			seen.push(...page.tasks.map((t) => t.id));
			if (!page.more) break;
		}
		expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `t${9 - i}`));
	});
}
