/**
 * `Scheduler.waitFor` and `TaskEvents` over the in-memory containers (issue 14 item 2): the same API as across
 * processes (test/operations/wait-for-multiprocess.test.ts runs it on Redis, PostgreSQL and SQLite).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerClosedError, TaskEvents, WaitTimeoutError, type TaskChange } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';

function scheduler(container = new QueueContainer()): Scheduler<{ n: number; fail?: boolean }, number> {
	return new Scheduler({
		container,
		actuator: new FunctionActuator(async ({ n, fail }: { n: number; fail?: boolean }) => {
			await new Promise((resolve) => setTimeout(resolve, 20));
			if (fail === true) throw new Error(`failing ${n}`);
			return n * 2;
		}),
		maxAttempts: 1,
	});
}

describe('waitFor', () => {
	it('resolves with the final record: succeeded with its output, failed with its error', async () => {
		const s = scheduler();
		await s.add({ id: 'ok', item: { n: 21 } });
		await s.add({ id: 'bad', item: { n: 1, fail: true } });
		const [ok, bad] = await Promise.all([s.waitFor('ok'), s.waitFor('bad')]);
		expect(ok).toMatchObject({ id: 'ok', status: 'succeeded', output: 42 });
		expect(bad).toMatchObject({ id: 'bad', status: 'failed', error: { message: 'failing 1' } });
		// Already finished: answers at once from the record.
		expect(await s.waitFor('ok', { timeoutMs: 1 })).toMatchObject({ status: 'succeeded' });
		await s.close();
	});

	it('rejects on timeout with a coded error, and at close with SchedulerClosedError', async () => {
		const s = scheduler();
		await s.pause();
		await s.add({ id: 'held', item: { n: 1 } });
		const timedOut = await s.waitFor('held', { timeoutMs: 50 }).catch((error: unknown) => error);
		expect(timedOut).toBeInstanceOf(WaitTimeoutError);
		expect(timedOut).toMatchObject({ code: 'ERR_WAIT_TIMEOUT', id: 'held', timeoutMs: 50 });
		const pending = s.waitFor('held');
		await s.close();
		await expect(pending).rejects.toBeInstanceOf(SchedulerClosedError);
		await expect(s.waitFor('held')).rejects.toBeInstanceOf(SchedulerClosedError);
	});

	it('a timeout while the container could not be read says so, with the read error as its cause', async () => {
		// A container whose reads all fail (a server that stopped answering): the wait cannot tell whether the
		// task exists, and used to time out saying that no task with this id was found.
		const container = new QueueContainer();
		const s = scheduler(container);
		await s.pause();
		await s.add({ id: 'held', item: { n: 1 } });
		const down = new Error('no reply within 10000 ms');
		container.get = () => Promise.reject(down);
		const timedOut = await s.waitFor('held', { timeoutMs: 150 }).catch((error: unknown) => error);
		expect(timedOut).toBeInstanceOf(WaitTimeoutError);
		expect(timedOut).toMatchObject({ code: 'ERR_WAIT_TIMEOUT', found: false, cause: down });
		expect((timedOut as Error).message).toBe(
			'Task `held` did not finish within 150 ms: the container could not be read while waiting (no reply within 10000 ms)',
		);
		await s.close();
	});
});

describe('TaskEvents', () => {
	it('follows every change of a container from code with no scheduler of its own', async () => {
		const container = new QueueContainer();
		const events = new TaskEvents(container);
		await events.ready();
		const seen: TaskChange[] = [];
		events.on('change', (change) => seen.push(change));
		const iterated: TaskChange[] = [];
		const iterating = (async () => {
			for await (const change of events) iterated.push(change);
		})();
		const s = scheduler(container);
		await s.add({ id: 't', item: { n: 5 } });
		expect(await events.waitFor('t', { timeoutMs: 10_000 })).toMatchObject({ status: 'succeeded', output: 10 });
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(seen.map((c) => c.type)).toEqual(['added', 'started', 'succeeded']);
		expect(seen[2]).toMatchObject({ id: 't', output: 10, attempts: 1 });
		await events.close();
		await iterating;
		expect(iterated).toEqual(seen);
		await expect(events.waitFor('t')).rejects.toBeInstanceOf(SchedulerClosedError);
		await s.close();
	});

	it('resumes after a cursor, and reports a gap for a cursor it cannot serve', async () => {
		const container = new QueueContainer();
		const first = new TaskEvents(container);
		await first.ready();
		const s = scheduler(container);
		await s.add({ id: 'a', item: { n: 1 } });
		await first.waitFor('a');
		const cursor = first.cursor;
		await first.close();
		await s.add({ id: 'b', item: { n: 2 } });
		await s.onIdle();
		const resumed = new TaskEvents(container, { from: cursor ?? 'now' });
		const seen: string[] = [];
		resumed.on('change', (c) => seen.push(`${c.id}:${c.type}`));
		await resumed.ready();
		expect(seen).toEqual(['b:added', 'b:started', 'b:succeeded']);
		await resumed.close();
		const gaps: unknown[] = [];
		const stranger = new TaskEvents(container, { from: '999999' });
		stranger.on('gap', (gap) => gaps.push(gap));
		await stranger.ready();
		expect(gaps).toHaveLength(1);
		await stranger.close();
		await s.close();
	});

	it('pauses between failed reads without piling listeners on its abort signal', async () => {
		// Every read fails (the container is down): the follower pauses 100, 200, 400 ms… between reads. Each pause
		// used to leave a listener on the follower's signal, so a long outage grew them without bound.
		const container = new QueueContainer();
		let signal: AbortSignal | undefined;
		let reads = 0;
		container.readChanges = (query) => {
			signal = query.signal;
			reads += 1;
			return Promise.reject(new Error('down'));
		};
		const events = new TaskEvents(container);
		events.on('error', () => undefined);
		while (reads < 5) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(signal).toBeDefined();
		expect(getEventListeners(signal as AbortSignal, 'abort').length).toBeLessThanOrEqual(1);
		await events.close();
	});
});
