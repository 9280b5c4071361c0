/**
 * The actuator contract suite: what a user relies on from every `TaskActuator`, driven through a real `Scheduler`
 * on a `QueueContainer` (success with its output, failure and retry, stop of running work, stop while starting, a
 * stop that ends only its own task's work, timeout, close, progress, item checks at `add`). Every actuator of the
 * kit runs it; a third party's actuator runs the same suite in its own vitest with `actuatorContract` and a setup
 * that gives an actuator factory and fixture items (one that succeeds, one that fails, one that runs until
 * stopped, and optionally one that reports progress and one that `init` rejects). The suite waits on events, not
 * on sleeps, and asserts no speed. Needs `vitest` (a peer dependency).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
	InvalidTaskError,
	type Scheduler,
	type SchedulerOptions,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched';
import { eventLog, openScheduler, runTask, started, withScheduler, type SchedulerBase } from './scheduler-harness.js';

/** Work that runs until it is stopped (minutes), with probes that show it really runs and really ended. */
export interface LongWork<TItem> {
	/** The item of the long task. */
	readonly item: TItem;
	/**
	 * Resolves once the work really runs (the thread spins, the remote job exists, the container runs). The suite
	 * stops or closes only after this, so the check is of stopping running work, not of a start in flight.
	 * `current` reads the task's record as the scheduler has it now (its `ref` once the actuator's start answered).
	 */
	readonly running?: (task: TaskRecord<TItem>, current: () => Promise<TaskRecord<TItem> | null>) => Promise<void>;
	/**
	 * Whether the work is really ended, asked right after the scheduler says so (stop resolved, the timeout failure
	 * or the close): the thread no longer runs, the remote job reports stopped, the container is gone.
	 */
	readonly workGone?: (task: TaskRecord<TItem>) => Promise<boolean> | boolean;
}

/** The actuator under test and the items the suite runs on it. */
export interface ActuatorFixture<TItem, TOutput> {
	/** A fresh actuator (each test makes its own scheduler, which closes it). */
	actuator(): TaskActuator<TItem, TOutput>;
	/** Extra scheduler options this actuator needs (for example a short `pollIntervalMs` for one that polls). */
	readonly schedulerOptions?: Partial<SchedulerOptions<TItem, TOutput>>;
	/** An item that succeeds, and its output (compared with `toEqual`: asymmetric matchers work). */
	readonly succeeds: {
		/** The item. */
		readonly item: TItem;
		/** The output its task must end with. */
		readonly output: unknown;
	};
	/** An item that fails, and what its `error.message` says. */
	readonly fails: {
		/** The item. */
		readonly item: TItem;
		/** What the task's `error.message` must say (a substring or a pattern). */
		readonly message: string | RegExp;
	};
	/** Long work, made afresh for each test that needs it. */
	long(): LongWork<TItem>;
	/**
	 * The attempt timeout for the timeout test: long enough for the work to be running when it fires.
	 * @default 1000
	 */
	readonly timeoutMs?: number;
	/** An item whose work reports progress and then succeeds (required with `progress: true`). */
	readonly progress?: {
		/** The item. */
		readonly item: TItem;
	};
	/** A malformed item its `init` rejects at `add`, and the field the error must name (required with `init: true`). */
	readonly badItem?: {
		/** The malformed item. */
		readonly item: unknown;
		/** The field path the `InvalidTaskError` must name, such as `item.image`. */
		readonly field: string;
	};
}

/** Makes the fixture, once for the whole suite (start a test server or a daemon here). */
export type ActuatorSetup<TItem, TOutput> = () =>
	ActuatorFixture<TItem, TOutput> | Promise<ActuatorFixture<TItem, TOutput>>;

/** What the actuator offers beyond start and stop; decides which tests run (as the container contract's options). */
export interface ActuatorCapabilities {
	/** The work reports progress (`ctx.progress`, or `status` answers with `progress`). */
	readonly progress: boolean;
	/** The actuator has `init` and rejects malformed items at `add`. */
	readonly init: boolean;
	/**
	 * A stop that comes while `start` is still in progress ends the work all the same (false for an actuator whose
	 * start cannot be undone before it answers, such as an HTTP start aborted in flight).
	 */
	readonly stopWhileStarting: boolean;
}

/**
 * Declare the contract's tests (one vitest `describe` block named `<name>: actuator contract`) for the actuator
 * the fixture of `setup` makes. Call it at the top level of a `*.test.ts` file.
 * @param name how the actuator is named in the test report
 * @param supports what the actuator offers beyond start and stop (decides which tests run)
 */
export function actuatorContract<TItem, TOutput>(
	name: string,
	setup: ActuatorSetup<TItem, TOutput>,
	supports: ActuatorCapabilities,
): void {
	describe(`${name}: actuator contract`, { timeout: 120_000 }, () => {
		let fixture: ActuatorFixture<TItem, TOutput>;
		beforeAll(async () => {
			fixture = await setup();
		});

		/** The actuator under test, with the scheduler options it needs (each test's schedulers are made of it). */
		const base = (): SchedulerBase<TItem, TOutput> => ({
			actuator: fixture.actuator(),
			...fixture.schedulerOptions,
		});

		/** Add the long task, wait until its attempt started and the work really runs. */
		const startLong = async (scheduler: Scheduler<TItem, TOutput>, id: string): Promise<LongWork<TItem>> => {
			const work = fixture.long();
			const start = started(scheduler, id);
			await scheduler.add({ id, item: work.item });
			const task = await start;
			await work.running?.(task, () => scheduler.get(id) as Promise<TaskRecord<TItem> | null>);
			expect((await scheduler.get(id))?.status).toBe('running');
			return work;
		};

		const expectWorkGone = async (
			work: LongWork<TItem>,
			task: TaskRecord<TItem, TOutput> | null,
		): Promise<void> => {
			if (task === null) throw new Error('the task is missing');
			if (work.workGone !== undefined) expect(await work.workGone(task), 'the work still runs').toBe(true);
		};

		it('success: the task ends succeeded with the output, attempts 1, started then succeeded once', async () => {
			await withScheduler(base(), {}, async (scheduler) => {
				const log = eventLog(scheduler, 'ok');
				const task = await runTask(scheduler, 'ok', fixture.succeeds.item);
				expect(task.status).toBe('succeeded');
				expect(task.attempts).toBe(1);
				expect(task.error).toBeNull();
				expect(task.output).toEqual(fixture.succeeds.output);
				const stored = await scheduler.get('ok');
				expect(stored).toMatchObject({ status: 'succeeded', attempts: 1 });
				expect(stored?.output).toEqual(fixture.succeeds.output);
				expect(typeof stored?.finishedAt).toBe('number');
				expect(log.filter((e) => e !== 'task:progress')).toEqual([
					'task:added',
					'task:started',
					'task:succeeded',
				]);
			});
		});

		it('failure: the task ends failed with the message; with maxAttempts 2 it is tried twice', async () => {
			await withScheduler(base(), {}, async (scheduler) => {
				const log = eventLog(scheduler, 'bad');
				const task = await runTask(scheduler, 'bad', fixture.fails.item);
				expect(task.status).toBe('failed');
				expect(task.attempts).toBe(1);
				expect(task.error?.message).toMatch(fixture.fails.message);
				expect(log.filter((e) => e !== 'task:progress')).toEqual(['task:added', 'task:started', 'task:failed']);
			});
			await withScheduler(
				base(),
				{ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 5 } },
				async (scheduler) => {
					const log = eventLog(scheduler, 'twice');
					const retries: Error[] = [];
					scheduler.on('task:retrying', ({ task, error }) => {
						if (task.id === 'twice') retries.push(error);
					});
					const task = await runTask(scheduler, 'twice', fixture.fails.item);
					expect(task).toMatchObject({ status: 'failed', attempts: 2 });
					expect(task.error?.message).toMatch(fixture.fails.message);
					expect(retries).toHaveLength(1);
					expect(retries[0]?.message).toMatch(fixture.fails.message);
					expect(log.filter((e) => e !== 'task:progress')).toEqual([
						'task:added',
						'task:started',
						'task:retrying',
						'task:started',
						'task:failed',
					]);
				},
			);
		});

		it('stop: stopping the running long task resolves stopped, ends the work and frees the slot', async () => {
			await withScheduler(base(), {}, async (scheduler, _container, errors) => {
				const log = eventLog(scheduler, 'long');
				const work = await startLong(scheduler, 'long');
				const stopped = await scheduler.stop('long');
				expect(stopped).toMatchObject({ id: 'long', status: 'stopped', attempts: 1 });
				await expectWorkGone(work, stopped);
				expect((await scheduler.get('long'))?.status).toBe('stopped');
				// concurrency 1: the next task runs only if the stopped one gave its slot back.
				const next = await runTask(scheduler, 'next', fixture.succeeds.item);
				expect(next.status).toBe('succeeded');
				expect(next.output).toEqual(fixture.succeeds.output);
				expect(log).toEqual(['task:added', 'task:started', 'task:stopped']);
				expect(errors).toEqual([]);
			});
		});

		if (supports.stopWhileStarting) {
			it('stop while starting: a stop right after task:started, before the work runs, still ends the work', async () => {
				await withScheduler(base(), {}, async (scheduler, _container, errors) => {
					const work = fixture.long();
					const started = new Promise<void>((resolve) => {
						scheduler.once('task:started', () => resolve());
					});
					await scheduler.add({ id: 'early', item: work.item });
					await started;
					const stopped = await scheduler.stop('early');
					expect(stopped).toMatchObject({ status: 'stopped', attempts: 1 });
					await expectWorkGone(work, stopped);
					const next = await runTask(scheduler, 'next', fixture.succeeds.item);
					expect(next.status).toBe('succeeded');
					expect(errors).toEqual([]);
				});
			});
		}

		it("stop ends only that task's work: another running task goes on, and the stopped id can run again", async () => {
			await withScheduler(base(), { concurrency: 2 }, async (scheduler, _container, errors) => {
				const first = await startLong(scheduler, 'first');
				const second = await startLong(scheduler, 'second');
				const stillRuns = async (): Promise<void> => {
					const task = await scheduler.get('second');
					expect(task?.status).toBe('running');
					if (second.workGone !== undefined && task !== null) {
						expect(await second.workGone(task), "stopping one task ended the other one's work").toBe(false);
					}
				};
				await expectWorkGone(first, await scheduler.stop('first'));
				await stillRuns();
				// A re-run of the stopped id: nothing of its first run (kept by task id) gets in the way.
				const again = await runTask(scheduler, 'first', fixture.succeeds.item);
				expect(again).toMatchObject({ status: 'succeeded', attempts: 1 });
				expect(again.output).toEqual(fixture.succeeds.output);
				await stillRuns();
				const stopped = await scheduler.stop('second');
				expect(stopped.status).toBe('stopped');
				await expectWorkGone(second, stopped);
				expect(errors).toEqual([]);
			});
		});

		it('timeout: the long task fails with ERR_TASK_TIMEOUT, its work is ended and the slot freed', async () => {
			await withScheduler(base(), {}, async (scheduler, _container, errors) => {
				const log = eventLog(scheduler, 'slow');
				const work = fixture.long();
				const task = await runTask(scheduler, 'slow', work.item, fixture.timeoutMs ?? 1_000);
				expect(task).toMatchObject({ status: 'failed', attempts: 1 });
				expect(task.error?.code).toBe('ERR_TASK_TIMEOUT');
				await expectWorkGone(work, task);
				// The timeout was the task's own: the next task runs without one, in the freed slot.
				const next = await runTask(scheduler, 'next', fixture.succeeds.item);
				expect(next.status).toBe('succeeded');
				expect(log.filter((e) => e !== 'task:progress')).toEqual(['task:added', 'task:started', 'task:failed']);
				expect(errors).toEqual([]);
			});
		});

		it('close: closing the scheduler while the long task runs hands it back uncounted and ends the work', async () => {
			const { scheduler, container, errors } = openScheduler(base());
			const log = eventLog(scheduler, 'long');
			let work: LongWork<TItem>;
			try {
				work = await startLong(scheduler, 'long');
			} finally {
				await scheduler.close();
			}
			// The container keeps its records after close: read the handed-back task there.
			const task = await container.get('long');
			expect(task).toMatchObject({ status: 'waiting', attempts: 0, owner: null });
			await expectWorkGone(work, task as TaskRecord<TItem, TOutput> | null);
			expect(log).toEqual(['task:added', 'task:started']);
			expect(errors).toEqual([]);
		});

		if (supports.progress)
			it('progress: task:progress is emitted and the last progress is stored on the task', async () => {
				if (fixture.progress === undefined)
					throw new Error(`${name} supports progress: give the fixture a progress item`);
				const progressItem = fixture.progress.item;
				await withScheduler(base(), {}, async (scheduler) => {
					const seen: unknown[] = [];
					const onRecord: unknown[] = [];
					scheduler.on('task:progress', ({ task, progress }) => {
						if (task.id !== 'p') return;
						seen.push(progress);
						onRecord.push(task.progress);
					});
					const log = eventLog(scheduler, 'p');
					const task = await runTask(scheduler, 'p', progressItem);
					expect(task.status).toBe('succeeded');
					expect(seen.length).toBeGreaterThan(0);
					// Each event's task record already carries the progress it reports.
					expect(onRecord).toEqual(seen);
					expect(task.progress).toEqual(seen.at(-1));
					expect((await scheduler.get('p'))?.progress).toEqual(seen.at(-1));
					expect(log.slice(0, 2)).toEqual(['task:added', 'task:started']);
					expect(log.at(-1)).toBe('task:succeeded');
					expect(log.slice(2, -1).every((e) => e === 'task:progress')).toBe(true);
				});
			});

		if (supports.init) {
			it('bad item: init rejects a malformed item at add naming the field, and nothing is stored', async () => {
				if (fixture.badItem === undefined) throw new Error(`${name} has init: give the fixture a badItem`);
				expect(typeof fixture.actuator().init).toBe('function');
				const { item, field } = fixture.badItem;
				await withScheduler(base(), {}, async (scheduler, container) => {
					const alone = await scheduler
						.add({ id: 'bad', item: item as TItem })
						.catch((error: unknown) => error);
					expect(alone).toBeInstanceOf(InvalidTaskError);
					expect((alone as InvalidTaskError).field).toBe(field);
					expect((alone as Error).message).toContain(`\`${field}\``);
					// All or nothing: a good task in the same add is not stored either.
					const batch = await scheduler
						.add([
							{ id: 'good', item: fixture.succeeds.item },
							{ id: 'bad', item: item as TItem },
						])
						.catch((error: unknown) => error);
					expect(batch).toBeInstanceOf(InvalidTaskError);
					expect(await container.get('bad')).toBeNull();
					expect(await container.get('good')).toBeNull();
					expect(await scheduler.counts()).toEqual({
						waiting: 0,
						running: 0,
						exporting: 0,
						succeeded: 0,
						failed: 0,
						stopped: 0,
					});
				});
			});
		} else {
			it('has no init: add accepts any item and the work decides', () => {
				expect(
					fixture.actuator().init,
					`${name} has init: run the contract with \`init: true\` and a badItem`,
				).toBeUndefined();
			});
		}
	});
}
