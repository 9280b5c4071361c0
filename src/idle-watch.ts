/**
 * `onIdle()` and the `idle` event: resolve once nothing is waiting or running in the container. On a shared
 * container other schedulers may finish the rest, and nothing signals that here: look again after a poll interval
 * while someone waits.
 */
import { reportFailure, type SchedulerCore } from './scheduler-core.js';

export class IdleWatch {
	readonly #core: SchedulerCore;
	readonly #running: () => number;
	readonly #listening: () => boolean;
	#waiters: (() => void)[] = [];
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(core: SchedulerCore, running: () => number, listening: () => boolean) {
		this.#core = core;
		this.#running = running;
		this.#listening = listening;
	}

	wait(): Promise<void> {
		return new Promise((resolve) => {
			this.#waiters.push(resolve);
			this.check();
		});
	}

	check(): void {
		if (this.#waiters.length === 0 && !this.#listening()) return;
		if (this.#running() > 0) return;
		const core = this.#core;
		const { container, pollIntervalMs } = core.options;
		const calledAt = Date.now();
		container.counts().then(
			(counts) => {
				core.containerHealth.ok(calledAt);
				if (this.#running() > 0) return;
				if (counts.waiting + counts.running + counts.exporting > 0) {
					if (container.shared && this.#waiters.length > 0 && this.#timer === undefined && !core.closed()) {
						this.#timer = setTimeout(() => {
							this.#timer = undefined;
							this.check();
						}, pollIntervalMs);
					}
					return;
				}
				this.#resolveAll();
				core.reporter.emit('idle');
			},
			(error: unknown) => reportFailure(core, 'container', 'counting tasks', error, calledAt),
		);
	}

	/** Closing: stop looking and let every waiter go. */
	close(): void {
		clearTimeout(this.#timer);
		this.#resolveAll();
	}

	#resolveAll(): void {
		for (const resolve of this.#waiters.splice(0)) resolve();
	}
}
