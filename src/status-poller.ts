/** Polls an actuator's `status` for running attempts that cannot push, one batch every `intervalMs`. */
import type { Attempt } from './attempt.js';
import type { ActuatorResult, ActuatorStatus, TaskActuator } from './contracts.js';
import { ActuatorError } from './errors.js';

export interface StatusPollerHost {
	/** The attempts in progress. */
	attempts(): Iterable<Attempt>;
	progress(attempt: Attempt, progress: unknown): void;
	done(attempt: Attempt, result: ActuatorResult): void;
	/** A status call failed (reported once per outage by the host) or succeeded. */
	failed(error: unknown, calledAt: number): void;
	ok(calledAt: number): void;
	report(error: unknown, context?: string): void;
}

export class StatusPoller {
	readonly #actuator: TaskActuator;
	readonly #intervalMs: number;
	readonly #host: StatusPollerHost;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#stopped = false;

	constructor(actuator: TaskActuator, intervalMs: number, host: StatusPollerHost) {
		this.#actuator = actuator;
		this.#intervalMs = intervalMs;
		this.#host = host;
	}

	/** Poll after an interval (once, however often asked); polling goes on while attempts run. */
	schedule(): void {
		if (this.#timer !== undefined || this.#stopped || !this.#actuator.status) return;
		this.#timer = setTimeout(() => {
			this.#poll().finally(() => {
				this.#timer = undefined;
				for (const attempt of this.#host.attempts()) {
					if (!attempt.settled) {
						this.schedule();
						return;
					}
				}
			});
		}, this.#intervalMs);
	}

	stop(): void {
		this.#stopped = true;
		clearTimeout(this.#timer);
	}

	async #poll(): Promise<void> {
		const status = this.#actuator.status;
		if (!status) return;
		const attempts = [...this.#host.attempts()].filter((a) => !a.settled && a.ref !== undefined);
		if (attempts.length === 0) return;
		let statuses: ActuatorStatus[];
		const calledAt = Date.now();
		try {
			statuses = await status.call(
				this.#actuator,
				attempts.map((a) => a.task),
			);
		} catch (error) {
			this.#host.failed(error, calledAt);
			return;
		}
		this.#host.ok(calledAt);
		if (!Array.isArray(statuses) || statuses.length !== attempts.length) {
			this.#host.report(
				new ActuatorError(
					`status() returned ${String(statuses?.length)} statuses for ${attempts.length} tasks`,
				),
			);
			return;
		}
		statuses.forEach((s, i) => {
			const attempt = attempts[i] as Attempt;
			if (s.state === 'running') {
				if (s.progress !== undefined) this.#host.progress(attempt, s.progress);
			} else if (s.state === 'succeeded') {
				this.#host.done(attempt, 'output' in s ? { ok: true, output: s.output } : { ok: true });
			} else if (s.state === 'failed') {
				this.#host.done(attempt, { ok: false, error: s.error });
			}
		});
	}
}
