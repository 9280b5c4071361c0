/**
 * The container contract's task logs (`appendLogs`, `getLogs`), declared by `describeOperations` when the container
 * offers them, else their absence: the newest lines of a task kept, numbered from its first and paged from any
 * offset; a log goes with its task and starts anew for a re-run.
 */
import { describe, expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { taskRecords } from './task-records.js';

/** Declare the task log cases for the containers `make` makes (`offered`: the container says it has logs). */
export function describeLogs(make: () => Promise<TaskContainer>, offered: boolean): void {
	describe('task logs', () => {
		if (!offered) {
			it('offers no task logs (declared so)', async () => {
				const c = await make();
				expect(c.appendLogs).toBeUndefined();
				expect(c.getLogs).toBeUndefined();
			});
			return;
		}
		type Logs = Required<Pick<TaskContainer, 'appendLogs' | 'getLogs'>>;
		const logs = (c: TaskContainer): Logs => {
			if (typeof c.appendLogs !== 'function' || typeof c.getLogs !== 'function')
				throw new Error('declared logs, has no appendLogs()/getLogs()');
			return c as TaskContainer & Logs;
		};

		it('keeps the newest lines of a task, numbered from its first, paged from any offset', async () => {
			const c = await make();
			const l = logs(c);
			await c.add(taskRecords([{ id: 'a', item: 1 }], Date.now()));
			expect(await l.getLogs('a')).toEqual({ lines: [], offset: 0, total: 0, dropped: 0 });
			await l.appendLogs('a', ['one', 'two', 'ünïcode ✓'], 5);
			await l.appendLogs('a', ['four', 'five', 'six', 'seven'], 5);
			// Seven logged, the newest five kept: lines 2..6.
			expect(await l.getLogs('a')).toEqual({
				lines: ['ünïcode ✓', 'four', 'five', 'six', 'seven'],
				offset: 2,
				total: 7,
				dropped: 2,
			});
			expect(await l.getLogs('a', { offset: 3, limit: 2 })).toMatchObject({ lines: ['four', 'five'], offset: 3 });
			expect(await l.getLogs('a', { offset: -2 })).toMatchObject({ lines: ['six', 'seven'], offset: 5 });
			expect(await l.getLogs('a', { offset: 0, limit: 1 })).toMatchObject({ lines: ['ünïcode ✓'], offset: 2 });
			expect(await l.getLogs('a', { offset: 99 })).toMatchObject({ lines: [], offset: 7, total: 7 });
			// A task that does not exist has no log, and its lines are dropped.
			await l.appendLogs('ghost', ['boo'], 5);
			expect(await l.getLogs('ghost')).toEqual({ lines: [], offset: 0, total: 0, dropped: 0 });
			await expect(l.getLogs('a', { limit: -1 })).rejects.toThrow(/`limit`/);
		});

		it('deletes a log with its task, and starts a new one for a re-run', async () => {
			const c = await make();
			const l = logs(c);
			const now = Date.now();
			await c.add(
				taskRecords(
					[
						{ id: 'a', item: 1 },
						{ id: 'b', item: 2 },
					],
					now,
				),
			);
			await l.appendLogs('a', ['first run'], 100);
			await l.appendLogs('b', ['b line'], 100);
			await c.claim(2, 'o', 10_000, now);
			await c.transition('a', 'running', 'failed', { finishedAt: now, owner: null }, 'o');
			await c.transition('b', 'running', 'succeeded', { finishedAt: now, owner: null }, 'o');
			await c.add(taskRecords([{ id: 'a', item: 'again' }], now));
			expect(await l.getLogs('a')).toMatchObject({ lines: [], total: 0 });
			await l.appendLogs('a', ['second run'], 100);
			expect((await l.getLogs('a')).lines).toEqual(['second run']);
			expect(await c.remove('b')).toBe(true);
			expect(await l.getLogs('b')).toMatchObject({ lines: [], total: 0 });
			await c.add(taskRecords([{ id: 'b', item: 'new' }], now));
			expect((await l.getLogs('b')).lines).toEqual([]);
		});
	});
}
