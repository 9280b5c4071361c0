/**
 * The ticks of repeating tasks, in every scheduler whose container stores repeats: a timer at the earliest next
 * tick, and a slow re-read of the stored repeats (`REREAD_MS`) so repeats another process added or changed are
 * seen. Each due tick is one `advanceRepeat`: its compare-and-set lets exactly one scheduler add the tick's task.
 * Ticks are judged by this process's clock; a process whose clock runs ahead ticks early, never twice.
 */
import type { TaskContainer } from './contracts.js';
import { DuplicateTaskError } from './errors.js';
import { createTaskRecord } from './new-task.js';
import { planTick, tickTask, type RepeatOptions } from './repeat-spec.js';
import type { TaskRecord } from './task.js';

/** How often the stored repeats are read again when no tick is due sooner. */
export const REREAD_MS = 5_000;

export interface RepeatTickerHost {
	readonly container: TaskContainer;
	readonly maxAttempts: number;
	/** A tick added this task. */
	added(task: TaskRecord): void;
	/** A background call failed (reported once per outage). */
	failed(operation: string, error: unknown, calledAt: number): void;
	/** A background call worked. */
	ok(calledAt: number): void;
}

export class RepeatTicker {
	readonly #host: RepeatTickerHost;
	#timer: NodeJS.Timeout | undefined;
	#running: Promise<void> | undefined;
	#again = false;
	#stopped = false;

	constructor(host: RepeatTickerHost) {
		this.#host = host;
	}

	/** Read the repeats and tick what is due, now (also after `repeat()` and `removeRepeat()`). */
	refresh(): void {
		if (this.#stopped) return;
		clearTimeout(this.#timer);
		if (this.#running !== undefined) {
			this.#again = true;
			return;
		}
		this.#running = this.#round().finally(() => {
			this.#running = undefined;
			if (this.#again) {
				this.#again = false;
				this.refresh();
			}
		});
	}

	async stop(): Promise<void> {
		this.#stopped = true;
		clearTimeout(this.#timer);
		await this.#running;
	}

	async #round(): Promise<void> {
		const { container } = this.#host;
		const calledAt = Date.now();
		let wakeAt = calledAt + REREAD_MS;
		try {
			const repeats = (await container.listRepeats?.()) ?? [];
			for (const repeat of repeats) {
				if (this.#stopped) return;
				const at = repeat.nextRunAt;
				if (at === null) continue;
				const now = Date.now();
				if (at > now) {
					wakeAt = Math.min(wakeAt, at);
					continue;
				}
				const next = await this.#tick(repeat.spec as RepeatOptions, at, now);
				if (next !== null) wakeAt = Math.min(wakeAt, next);
			}
			this.#host.ok(calledAt);
		} catch (error) {
			this.#host.failed('ticking repeating tasks', error, calledAt);
		}
		if (this.#stopped) return;
		this.#timer = setTimeout(() => this.refresh(), Math.max(0, wakeAt - Date.now()));
		this.#timer.unref();
	}

	/** One due tick: add its task and move the repeat on, unless another scheduler did first. */
	async #tick(spec: RepeatOptions, due: number, now: number): Promise<number | null> {
		const { container, maxAttempts } = this.#host;
		const plan = planTick(spec, due, now);
		const task =
			plan.fire === null ? null : createTaskRecord(tickTask(spec, plan.fire), 'repeat', { maxAttempts }, now);
		let moved: boolean;
		try {
			moved = (await container.advanceRepeat?.(spec.key, due, plan.next, task)) === true;
		} catch (error) {
			// Someone added a task under this tick's id by hand and it still waits or runs: that task stands for the
			// tick; move on without adding, or the repeat would stay stuck on it.
			if (!(error instanceof DuplicateTaskError)) throw error;
			await container.advanceRepeat?.(spec.key, due, plan.next, null);
			return plan.next;
		}
		if (moved && task !== null) this.#host.added(task);
		return plan.next;
	}
}
