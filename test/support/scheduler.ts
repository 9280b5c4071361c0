/** Small helpers for scheduler tests. */
import { Scheduler, type SchedulerEvents, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';

/**
 * A scheduler on `container` (concurrency 4) whose work records each string item in `ran`; its `error` events (a
 * wake-up channel's down report, in the tests that silence it) are ignored.
 */
export function recordingScheduler(container: TaskContainer, ran: string[]): Scheduler<string> {
	const scheduler = new Scheduler<string>({
		container,
		actuator: new FunctionActuator(async (item: string) => {
			ran.push(item);
			return item;
		}),
		concurrency: 4,
	});
	scheduler.on('error', () => undefined);
	return scheduler;
}

/** Resolves with the payload of the next `event` (optionally the next one matching `filter`). */
export function nextEvent<E extends keyof SchedulerEvents>(
	// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any item and output types
	scheduler: Scheduler<any, any>,
	event: E,
	filter: (...args: SchedulerEvents[E]) => boolean = () => true,
): Promise<SchedulerEvents[E]> {
	return new Promise((resolve) => {
		const listener = (...args: SchedulerEvents[E]): void => {
			if (!filter(...args)) return;
			(scheduler.off as (e: string, l: unknown) => void)(event, listener);
			resolve(args);
		};
		(scheduler.on as (e: string, l: unknown) => void)(event, listener);
	});
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps a container and counts calls per method; `fail` makes the next calls of a method throw. */
export function spyContainer<C extends TaskContainer>(
	container: C,
): {
	container: C;
	calls: Record<string, number>;
	log: { method: string; args: unknown[] }[];
	failNext: (method: string, times?: number) => void;
} {
	const calls: Record<string, number> = {};
	const log: { method: string; args: unknown[] }[] = [];
	const failures: Record<string, number> = {};
	const wrap = <T extends object>(object: T, sync: boolean): T =>
		new Proxy(object, {
			get(target, prop, receiver) {
				const value = Reflect.get(target, prop, receiver) as unknown;
				// The synchronous fast path of in-process containers is counted and failed like the async methods.
				if (prop === 'sync' && typeof value === 'object' && value !== null) return wrap(value, true);
				if (typeof value !== 'function' || typeof prop !== 'string') return value;
				return (...args: unknown[]) => {
					calls[prop] = (calls[prop] ?? 0) + 1;
					log.push({ method: prop, args });
					if ((failures[prop] ?? 0) > 0) {
						failures[prop] = (failures[prop] ?? 0) - 1;
						const error = new Error(`injected ${prop} failure`);
						if (sync) throw error;
						return Promise.reject(error);
					}
					return (value as (...a: unknown[]) => unknown).apply(target, args);
				};
			},
		});
	const proxy = wrap(container, false);
	return {
		container: proxy,
		calls,
		log,
		failNext: (method, times = 1) => {
			failures[method] = times;
		},
	};
}
