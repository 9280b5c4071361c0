/**
 * The container contract's transitions: a task moves by compare-and-set on its status and owner, its progress, ref
 * and error are stored as given, and a task moved back to waiting is claimable again after its `runAt`. Declared by
 * `describeContainerContract`.
 */
import { expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/** Declare the transition cases for the containers `make` makes. */
export function describeTransitions(make: () => Promise<TaskContainer>): void {
	it('transitions by compare-and-set on status and owner', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		const [task] = await c.claim(1, 'owner-1', LEASE, Date.now());
		expect(task?.id).toBe('a');
		expect(await c.transition('a', 'waiting', 'stopped', {})).toBeNull();
		expect(await c.transition('a', 'running', 'succeeded', {}, 'owner-2')).toBeNull();
		expect(await c.transition('missing', 'running', 'succeeded', {})).toBeNull();
		const done = await c.transition(
			'a',
			'running',
			'succeeded',
			{ output: { sum: 3 }, finishedAt: 123, owner: null },
			'owner-1',
		);
		expect(done).toMatchObject({ status: 'succeeded', output: { sum: 3 }, finishedAt: 123, owner: null });
		expect(await c.transition('a', 'running', 'failed', {}, 'owner-1')).toBeNull();
		expect(await c.get('a')).toMatchObject({ status: 'succeeded', output: { sum: 3 } });
		expect(await c.counts()).toMatchObject({ running: 0, succeeded: 1 });
	});

	it('stores progress, ref and error as given', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		await c.claim(1, 'o', LEASE, Date.now());
		await c.transition('a', 'running', 'running', { progress: { pct: 50 }, ref: 'job-7' }, 'o');
		await c.transition('a', 'running', 'failed', { error: { message: 'boom', code: 'E_BOOM' } }, 'o');
		expect(await c.get('a')).toMatchObject({
			progress: { pct: 50 },
			ref: 'job-7',
			error: { message: 'boom', code: 'E_BOOM' },
		});
	});

	it('makes a task claimable again when it goes back to waiting, after its runAt', async () => {
		const c = await make();
		await c.add(taskRecords([{ id: 'a', item: 1 }]));
		const now = Date.now();
		await c.claim(1, 'o', LEASE, now);
		const back = await c.transition(
			'a',
			'running',
			'waiting',
			{ runAt: now + 5_000, owner: null, leaseUntil: null },
			'o',
		);
		expect(back).toMatchObject({ status: 'waiting', attempts: 1 });
		expect(await c.claim(1, 'o', LEASE, now + 1_000)).toEqual([]);
		expect(await c.nextDueAt(now + 1_000)).toBe(now + 5_000);
		const again = await c.claim(1, 'o2', LEASE, now + 5_000);
		expect(again.map((t) => [t.id, t.attempts, t.owner])).toEqual([['a', 2, 'o2']]);
	});
}
