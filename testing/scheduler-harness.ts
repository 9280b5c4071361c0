/**
 * How the actuator contract drives the actuator under test: a real `Scheduler` on a fresh `QueueContainer` (one slot
 * unless the options say more) whose `error` events are collected and which is closed at the end of its test, failed
 * or not; the task events of one task in order; a task run to its end; the start of a task's attempt.
 */
import { Scheduler, type SchedulerEvents, type SchedulerOptions, type TaskActuator, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';

const TASK_EVENTS = [
	'task:added',
	'task:started',
	'task:progress',
	'task:succeeded',
	'task:retrying',
	'task:failed',
	'task:stopped',
] as const satisfies readonly (keyof SchedulerEvents)[];

/** The events of one task's life that `eventLog` records. */
export type TaskEventName = (typeof TASK_EVENTS)[number];

/** What each scheduler of a test is made with: the actuator under test and the options it needs. */
export type SchedulerBase<TItem, TOutput> = Partial<SchedulerOptions<TItem, TOutput>> & {
	readonly actuator: TaskActuator<TItem, TOutput>;
};

/** A scheduler made for a test, its container, and the errors it emitted so far. */
export interface OpenScheduler<TItem, TOutput> {
	readonly scheduler: Scheduler<TItem, TOutput>;
	readonly container: QueueContainer;
	readonly errors: Error[];
}

/** A scheduler on a fresh `QueueContainer`: concurrency 1, then `base`, then `options`; its errors collected. */
export function openScheduler<TItem, TOutput>(
	base: SchedulerBase<TItem, TOutput>,
	options: Partial<SchedulerOptions<TItem, TOutput>> = {},
): OpenScheduler<TItem, TOutput> {
	const container = new QueueContainer();
	const scheduler = new Scheduler<TItem, TOutput>({ container, concurrency: 1, ...base, ...options });
	const errors: Error[] = [];
	scheduler.on('error', (error) => errors.push(error));
	return { scheduler, container, errors };
}

/** A test's body, given its scheduler, that scheduler's container and the errors it emits. */
export type SchedulerBody<TItem, TOutput> = (
	scheduler: Scheduler<TItem, TOutput>,
	container: QueueContainer,
	errors: Error[],
) => Promise<void>;

/** Run `body` with a scheduler of `openScheduler`, closed at its end, failed or not. */
export async function withScheduler<TItem, TOutput>(
	base: SchedulerBase<TItem, TOutput>,
	options: Partial<SchedulerOptions<TItem, TOutput>>,
	body: SchedulerBody<TItem, TOutput>,
): Promise<void> {
	const { scheduler, container, errors } = openScheduler(base, options);
	try {
		await body(scheduler, container, errors);
	} finally {
		await scheduler.close();
	}
}

/** The task events of one task, in order, from now on (the array fills as they come). */
export function eventLog<TItem, TOutput>(scheduler: Scheduler<TItem, TOutput>, id: string): TaskEventName[] {
	const log: TaskEventName[] = [];
	for (const event of TASK_EVENTS) {
		(scheduler.on as (e: string, l: (payload: { task: TaskRecord }) => void) => void)(event, ({ task }) => {
			if (task.id === id) log.push(event);
		});
	}
	return log;
}

/** Add one task and resolve with its record once it reaches a final status. */
export async function runTask<TItem, TOutput>(
	scheduler: Scheduler<TItem, TOutput>,
	id: string,
	item: TItem,
	timeoutMs?: number,
): Promise<TaskRecord<TItem, TOutput>> {
	const stream = scheduler.finished();
	await scheduler.add(timeoutMs === undefined ? { id, item } : { id, item, timeoutMs });
	for await (const task of stream) if (task.id === id) return task;
	throw new Error(`the scheduler closed before task ${id} finished`);
}

/** Resolves with the task's record when an attempt of task `id` starts (listen before adding it). */
export function started<TItem, TOutput>(
	scheduler: Scheduler<TItem, TOutput>,
	id: string,
): Promise<TaskRecord<TItem, TOutput>> {
	return new Promise((resolve) => {
		const listener = ({ task }: { task: TaskRecord<TItem, TOutput> }): void => {
			if (task.id !== id) return;
			scheduler.off('task:started', listener);
			resolve(task);
		};
		scheduler.on('task:started', listener);
	});
}
