import { describe, expect, it } from 'vitest';
import {
	Scheduler,
	type ClaimGuard,
	type TaskContainer,
	type TaskPatch,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { withTransition } from '../support/with-transition.js';

/** A container whose `transition` to `to` is applied, and then its reply is lost once (the call rejects), as when a connection breaks after the store committed. */
function losingReplies(to: TaskStatus): { container: TaskContainer; lost: () => number; inner: QueueContainer } {
	const inner = new QueueContainer();
	let lost = 0;
	const container = withTransition(
		inner,
		async (
			id: string,
			from: TaskStatus,
			next: TaskStatus,
			patch: TaskPatch,
			owner?: string,
			claim?: ClaimGuard,
		): Promise<TaskRecord | null> => {
			const result = await inner.transition(id, from, next, patch, owner, claim);
			if (next === to && result !== null && lost === 0) {
				lost++;
				throw new Error('connection reset after the write');
			}
			return result;
		},
	);
	return { container, lost: () => lost, inner };
}

describe('a container write applied but whose reply was lost', () => {
	it('a success still fires task:succeeded, the callback and finished(), once', async () => {
		const { container, lost } = losingReplies('succeeded');
		const called: string[] = [];
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator((n: number) => n + 1),
			callback: (task) => void called.push(task.id),
		});
		const succeeded: unknown[] = [];
		scheduler.on('task:succeeded', ({ task, output }) => succeeded.push([task.id, output]));
		scheduler.on('error', () => undefined);
		const stream = scheduler.finished();
		await scheduler.add({ id: 'a', item: 1 });
		await scheduler.onIdle();
		expect(lost()).toBe(1);
		expect(succeeded).toEqual([['a', 2]]);
		expect(called).toEqual(['a']);
		expect((await stream.next()).value).toMatchObject({ id: 'a', status: 'succeeded', output: 2 });
		await scheduler.close();
	});

	it('a failure with attempts left still fires task:retrying, and the retry runs', async () => {
		const { container, lost } = losingReplies('waiting');
		let runs = 0;
		const scheduler = new Scheduler({
			container,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 1 },
			actuator: new FunctionActuator(() => {
				if (++runs === 1) throw new Error('first try fails');
				return 'ok';
			}),
		});
		const retrying: number[] = [];
		scheduler.on('task:retrying', ({ delayMs }) => retrying.push(delayMs));
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 'r', item: null });
		await scheduler.onIdle();
		expect(lost()).toBe(1);
		expect(retrying).toEqual([1]);
		expect(await scheduler.get('r')).toMatchObject({ status: 'succeeded', attempts: 2 });
		await scheduler.close();
	});

	it('a retry whose reply was lost is never applied again to the claim that took the task since (concurrency 2)', async () => {
		// The first write put the task back to waiting (its reply lost); while the writer waited to try again, a free
		// slot claimed the task anew. The retried write used to find it running for this owner and move that new claim
		// back to waiting: the work then ran a third time, with \`maxAttempts: 2\`.
		const { container, lost } = losingReplies('waiting');
		let runs = 0;
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 1 },
			actuator: new FunctionActuator(() => {
				if (++runs === 1) throw new Error('first try fails');
				return 'ok';
			}),
		});
		const retrying: number[] = [];
		scheduler.on('task:retrying', ({ delayMs }) => retrying.push(delayMs));
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 'r2', item: null });
		await scheduler.onIdle();
		expect(lost()).toBe(1);
		expect(retrying).toEqual([1]);
		expect(runs).toBe(2);
		expect(await scheduler.get('r2')).toMatchObject({ status: 'succeeded', attempts: 2 });
		await scheduler.close();
	});

	it('a retry whose reply was lost is not written over a claim the container made between its read and its write', async () => {
		// The write back to waiting was applied, its reply lost. The retry holds the scheduler's claim fence, but a
		// container can claim for this owner by itself (a claim ahead in another task's finish, a task an add hands to
		// an idle owner): here one does so right after the retry read the task. The retry used to write all the same
		// (running -> waiting for this owner) and so moved that new claim back: the task then ran a third time, with
		// \`maxAttempts: 2\`.
		const { container: losing, lost, inner } = losingReplies('waiting');
		let claimed = false;
		const container: TaskContainer = {
			...losing,
			get: async (id) => {
				const task = await inner.get(id);
				if (lost() === 1 && !claimed && task?.status === 'waiting') {
					claimed = true;
					// Claimed as at the retry's due time (the scheduler itself would claim it only then).
					inner.claim(1, scheduler.id, 60_000, Date.now() + 1_000);
				}
				return task;
			},
		};
		let runs = 0;
		const scheduler = new Scheduler({
			container,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 300 },
			actuator: new FunctionActuator(() => {
				if (++runs === 1) throw new Error('first try fails');
				return 'ok';
			}),
		});
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 'c', item: null });
		// Past the retry's due time, when the scheduler would have claimed a task moved back to waiting.
		// (Not onIdle: the container's own claim holds the task running, and nothing of this scheduler runs it.)
		await new Promise((resolve) => setTimeout(resolve, 600));
		expect(lost()).toBe(1);
		// The container's own claim keeps the task: the retry found its write applied and wrote nothing more.
		expect(await inner.get('c')).toMatchObject({ status: 'running', attempts: 2, owner: scheduler.id });
		expect(runs).toBe(1);
		await scheduler.close();
	});

	it('a final failure still fires task:failed', async () => {
		const { container, lost } = losingReplies('failed');
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator(() => {
				throw new Error('broken');
			}),
		});
		const failed: string[] = [];
		scheduler.on('task:failed', ({ error }) => failed.push(error.message));
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 'f', item: null });
		await scheduler.onIdle();
		expect(lost()).toBe(1);
		expect(failed).toEqual(['broken']);
		await scheduler.close();
	});

	it('a task another scheduler moved meanwhile is not taken for this write', async () => {
		const inner = new QueueContainer();
		let stole = false;
		const container = withTransition(inner, async (id, from, to, patch, owner, claim) => {
			if (to === 'succeeded' && !stole) {
				stole = true;
				// Someone else finished it first (a different finish time), then our write fails.
				await inner.transition(id, from, 'succeeded', { ...patch, finishedAt: 1, output: 'theirs' }, owner);
				throw new Error('timeout');
			}
			return inner.transition(id, from, to, patch, owner, claim);
		});
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ours') });
		const succeeded: unknown[] = [];
		scheduler.on('task:succeeded', ({ output }) => succeeded.push(output));
		scheduler.on('error', () => undefined);
		await scheduler.add({ id: 's', item: null });
		await scheduler.onIdle();
		expect(succeeded).toEqual([]);
		expect(await scheduler.get('s')).toMatchObject({ status: 'succeeded', output: 'theirs' });
		await scheduler.close();
	});
});
