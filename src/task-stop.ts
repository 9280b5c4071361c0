/**
 * `Scheduler.stop(id)`: stop a task in any state. A task this scheduler runs is settled as stopped through its
 * attempt; a waiting one is stopped by compare-and-set in the container; one another scheduler runs is asked to stop
 * (its owner stops it). The task can change state between the read and the write, so the stop is tried again, a
 * bounded number of rounds.
 */
import type { AttemptRunner } from './attempt-runner.js';
import type { CallsInFlight } from './calls-in-flight.js';
import { InvalidStateError, TaskNotFoundError } from './errors.js';
import type { SchedulerCore } from './scheduler-core.js';
import { isFinalStatus, type TaskRecord } from './task.js';

/** How many times the stop is tried while the task keeps changing state. */
const ROUNDS = 10;

/** Stop task `id`; see `Scheduler.stop` for what each state gives. */
export async function stopTask<TItem, TOutput>(
	core: SchedulerCore<TItem, TOutput>,
	runner: AttemptRunner<TItem, TOutput>,
	calls: CallsInFlight,
	id: string,
): Promise<TaskRecord<TItem, TOutput>> {
	const { writer, reporter } = core;
	const getOrThrow = async (): Promise<TaskRecord<TItem, TOutput>> => {
		const task = (await calls.track(core.options.container.get(id))) as TaskRecord<TItem, TOutput> | null;
		if (task === null) throw new TaskNotFoundError(id);
		return task;
	};
	for (let round = 0; round < ROUNDS; round++) {
		const local = runner.get(id);
		if (local !== undefined) {
			if (!local.settled) runner.settle(local, { kind: 'stopped' });
			await local.finishing;
			if (local.outcome?.kind === 'stopped') return await getOrThrow();
			continue;
		}
		const task = await getOrThrow();
		if (isFinalStatus(task.status)) return task;
		if (task.status === 'waiting') {
			const stopped = (await calls.track(writer.stopWaiting(id))) as TaskRecord<TItem, TOutput> | null;
			if (stopped === null) continue;
			reporter.emit('task:stopped', { task: stopped });
			reporter.final(stopped);
			return stopped;
		}
		if (task.owner === core.id && runner.get(id) !== undefined) continue;
		const requested = await calls.track(writer.requestStop(id));
		if (requested !== null) return requested as TaskRecord<TItem, TOutput>;
	}
	throw new InvalidStateError(`Task \`${id}\` kept changing state; stop it again`);
}
