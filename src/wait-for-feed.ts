/**
 * The scheduler's `waitFor`: one `TaskEvents` follower shared by every pending call, opened at the first call and
 * closed once no call was pending for a while, so a scheduler that never waits (or stopped waiting) follows nothing
 * and its container records no changes on its behalf.
 */
import type { TaskContainer } from './contracts.js';
import { SchedulerClosedError } from './errors.js';
import { TaskEvents } from './task-events.js';
import type { TaskRecord } from './task.js';
import type { WaitForOptions } from './wait-for.js';

/** How long the follower stays open after its last pending call settled. */
const IDLE_MS = 60_000;

export class WaitForFeed {
	readonly #container: TaskContainer;
	#events: TaskEvents | null = null;
	#idle: ReturnType<typeof setTimeout> | undefined;
	#closed = false;

	constructor(container: TaskContainer) {
		this.#container = container;
	}

	waitFor<TItem, TOutput>(id: string, options?: WaitForOptions): Promise<TaskRecord<TItem, TOutput>> {
		if (this.#closed) return Promise.reject(new SchedulerClosedError());
		clearTimeout(this.#idle);
		let events: TaskEvents;
		try {
			events = this.#events ??= new TaskEvents(this.#container);
		} catch (error) {
			return Promise.reject(error);
		}
		const waiting = events.waitFor<TItem, TOutput>(id, options);
		const settled = (): void => {
			if (events !== this.#events || events.waiting > 0) return;
			clearTimeout(this.#idle);
			this.#idle = setTimeout(() => {
				if (events !== this.#events || events.waiting > 0) return;
				this.#events = null;
				void events.close();
			}, IDLE_MS);
			this.#idle.unref?.();
		};
		waiting.then(settled, settled);
		return waiting;
	}

	/** Resolves once every call pending now on one of `ids` has settled (at once when none is). */
	settled(ids: readonly string[]): Promise<void> {
		return this.#events?.settled(ids) ?? Promise.resolve();
	}

	/** Pending calls reject with `SchedulerClosedError`. */
	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#idle);
		const events = this.#events;
		this.#events = null;
		await events?.close();
	}
}
