/**
 * The container contract's task changes (`readChanges`), declared by `describeOperations` when the container offers
 * them, else their absence: every move of a task recorded in order with its output, error and progress (a failure
 * and a lease-expiry reclaim too), read page by page after a cursor; a waiting read answers as soon as a change
 * comes, an aborted one at once.
 */
import { describe, expect, it } from 'vitest';
import type { TaskChange, TaskContainer } from 'lightsched';
import { LEASE, taskRecords } from './task-records.js';

/** Declare the task change cases for the containers `make` makes (`offered`: the container says it has them). */
export function describeChanges(make: () => Promise<TaskContainer>, offered: boolean): void {
	describe('task changes', () => {
		if (!offered) {
			it('offers no task changes (declared so)', async () => {
				expect((await make()).readChanges).toBeUndefined();
			});
			return;
		}
		const read = (c: TaskContainer): NonNullable<TaskContainer['readChanges']> => {
			if (typeof c.readChanges !== 'function') throw new Error('declared events, has no readChanges()');
			return c.readChanges.bind(c);
		};
		/** Every change after `after`, page by page (`limit` a page). */
		async function readAll(c: TaskContainer, after: string, limit = 100): Promise<TaskChange[]> {
			const all: TaskChange[] = [];
			for (let cursor = after; ;) {
				const page = await read(c)({ after: cursor, limit, waitMs: 0 });
				expect(page.gap).toBe(false);
				all.push(...page.changes);
				if (page.changes.length === 0) return all;
				expect(page.next).toBe(page.changes.at(-1)?.cursor);
				cursor = page.next;
			}
		}

		it('records every move of a followed task, in order, with its output, error and progress', async () => {
			const c = await make();
			const start = await read(c)({ after: null, limit: 10, waitMs: 0 });
			expect(start).toMatchObject({ changes: [], gap: false });
			const now = Date.now();
			await c.add(taskRecords([{ id: 'a', item: 1 }], now));
			await c.claim(1, 'o', LEASE, now);
			await c.transition('a', 'running', 'running', { ref: 'job-1' }, 'o'); // records nothing
			await c.transition('a', 'running', 'running', { progress: { done: 1 } }, 'o');
			const error = { message: 'boom', code: 'ERR_TASK_FAILED' };
			await c.transition('a', 'running', 'waiting', { error, runAt: now, owner: null, leaseUntil: null }, 'o');
			await c.claim(1, 'o', LEASE, now);
			await c.transition('a', 'running', 'exporting', {}, 'o'); // records nothing
			await c.transition(
				'a',
				'exporting',
				'succeeded',
				{ output: { sum: 3 }, error: null, finishedAt: now, owner: null, leaseUntil: null },
				'o',
			);
			await c.add(taskRecords([{ id: 'b', item: 2 }], now));
			await c.transition('b', 'waiting', 'stopped', { finishedAt: now });
			const changes = await readAll(c, start.next, 2);
			expect(changes.map((x) => [x.id, x.type, x.attempts])).toEqual([
				['a', 'added', 0],
				['a', 'started', 1],
				['a', 'progress', 1],
				['a', 'retrying', 1],
				['a', 'started', 2],
				['a', 'succeeded', 2],
				['b', 'added', 0],
				['b', 'stopped', 0],
			]);
			expect(changes[2]?.progress).toEqual({ done: 1 });
			expect(changes[3]?.error).toEqual(error);
			expect(changes[5]?.output).toEqual({ sum: 3 });
			// A final change may carry the final record (so waitFor need not read it back): then it is that record.
			if (changes[5]?.record !== undefined) expect(changes[5].record).toEqual(await c.get('a'));
			if (changes[7]?.record !== undefined) expect(changes[7].record).toEqual(await c.get('b'));
			expect(new Set(changes.map((x) => x.cursor)).size).toBe(changes.length);
			for (const change of changes) expect(typeof change.at).toBe('number');
			// Reading again after the last cursor: nothing new, the same cursor back.
			const last = changes.at(-1)?.cursor ?? '';
			expect(await read(c)({ after: last, limit: 10, waitMs: 0 })).toEqual({
				changes: [],
				next: last,
				gap: false,
			});
		});

		it('records a failure and the reclaim of an expired lease', async () => {
			const c = await make();
			const { next } = await read(c)({ after: null, limit: 10, waitMs: 0 });
			const now = Date.now();
			await c.add(
				taskRecords(
					[
						{ id: 'f', item: 1, maxAttempts: 1 },
						{ id: 'r', item: 2 },
					],
					now,
				),
			);
			await c.claim(2, 'o', 1, now);
			const error = { message: 'no', code: 'E_NO' };
			await c.transition(
				'f',
				'running',
				'failed',
				{ error, finishedAt: now, owner: null, leaseUntil: null },
				'o',
			);
			await new Promise((resolve) => setTimeout(resolve, 20));
			const moved = await c.reclaimExpired(Date.now() + 10);
			expect(moved.map((t) => [t.id, t.status])).toEqual([['r', 'waiting']]);
			const changes = await readAll(c, next);
			expect(changes.map((x) => [x.id, x.type])).toEqual([
				['f', 'added'],
				['r', 'added'],
				['f', 'started'],
				['r', 'started'],
				['f', 'failed'],
				['r', 'retrying'],
			]);
			expect(changes[4]?.error).toEqual(error);
		});

		it('answers a waiting read as soon as a change comes, and an aborted one at once', async () => {
			const c = await make();
			const { next } = await read(c)({ after: null, limit: 10, waitMs: 0 });
			const waiting = read(c)({ after: next, limit: 10, waitMs: 20_000 });
			await new Promise((resolve) => setTimeout(resolve, 50));
			await c.add(taskRecords([{ id: 'x', item: 1 }], Date.now()));
			const page = await waiting;
			expect(page.changes.map((x) => [x.id, x.type])).toEqual([['x', 'added']]);
			const abort = new AbortController();
			const aborted = read(c)({ after: page.next, limit: 10, waitMs: 20_000, signal: abort.signal });
			setTimeout(() => abort.abort(), 50);
			expect(await aborted).toMatchObject({ changes: [], next: page.next });
		});
	});
}
