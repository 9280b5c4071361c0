/**
 * A third-party actuator, written against `lightsched/kit` only: it "runs" a task by waiting the milliseconds of
 * its item, reporting progress on the way, then succeeds with the time waited or fails with the item's message.
 * Small on purpose: it shows the whole contract (init at add, start that returns at once, the end pushed through
 * `ctx.done`, progress, a stop that really ends the work, close). `test/examples/custom-actuator.test.ts` runs the
 * kit's actuator contract suite on it through `lightsched/testing`.
 */
import {
	describeValue,
	InvalidTaskError,
	rejectUnknownOptions,
	type ActuatorContext,
	type ActuatorStart,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched/kit';

/** What a task of the sleep actuator holds. */
export interface SleepItem {
	/** How long the work takes, in milliseconds. */
	readonly ms: number;
	/** Fail with this message at the end instead of succeeding. */
	readonly fail?: string;
	/** Report this many progress values (`{ step, of }`) on the way. @default 0 */
	readonly steps?: number;
}

/** What `SleepActuator` takes. */
export interface SleepActuatorOptions {
	/** The longest `item.ms` accepted. @default 3600000 (an hour) */
	readonly maxMs?: number;
}

/** The work of one running task: its timers, so a stop clears them all. */
interface Work {
	readonly timers: NodeJS.Timeout[];
}

export class SleepActuator implements TaskActuator<SleepItem, number> {
	readonly #maxMs: number;
	/** The running work by task id (the `ref` start returns). */
	readonly #running = new Map<string, Work>();

	constructor(options: SleepActuatorOptions = {}) {
		rejectUnknownOptions('SleepActuator', options, ['maxMs']);
		const { maxMs = 3_600_000 } = options;
		if (!Number.isInteger(maxMs) || maxMs < 0)
			throw new TypeError(`Expected \`maxMs\` to be an integer >= 0, got ${describeValue(maxMs)}`);
		this.#maxMs = maxMs;
	}

	/** At `add`: a malformed item rejects the add, naming the field, and nothing is stored. */
	init(task: TaskRecord<SleepItem, number>): void {
		const item: unknown = task.item;
		if (typeof item !== 'object' || item === null)
			throw new InvalidTaskError('item', 'an object like { ms, fail?, steps? }', item);
		const { ms, fail, steps } = item as Record<string, unknown>;
		if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > this.#maxMs) {
			throw new InvalidTaskError('item.ms', `an integer from 0 to ${this.#maxMs}`, ms);
		}
		if (fail !== undefined && typeof fail !== 'string')
			throw new InvalidTaskError('item.fail', 'a string or absent', fail);
		if (
			steps !== undefined &&
			(typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0 || steps > 1000)
		) {
			throw new InvalidTaskError('item.steps', 'an integer from 0 to 1000 or absent', steps);
		}
	}

	/** Begin the work and return at once; the end is pushed through `ctx.done`. */
	start(task: TaskRecord<SleepItem, number>, ctx: ActuatorContext<number>): ActuatorStart {
		const { ms, fail, steps = 0 } = task.item;
		const work: Work = { timers: [] };
		this.#running.set(task.id, work);
		for (let step = 1; step <= steps; step++) {
			work.timers.push(
				setTimeout(() => ctx.progress({ step, of: steps }), Math.floor((ms * step) / (steps + 1))),
			);
		}
		work.timers.push(
			setTimeout(() => {
				this.#end(task.id, work);
				ctx.done(fail === undefined ? { ok: true, output: ms } : { ok: false, error: new Error(fail) });
			}, ms),
		);
		// A timeout, a stop or the scheduler's close aborts the attempt: end the work then too.
		ctx.signal.addEventListener('abort', () => this.#end(task.id, work), { once: true });
		return { ref: task.id };
	}

	/** Stop the work for real: its timers are cleared, so it reports nothing more. */
	stop(task: TaskRecord<SleepItem, number>): void {
		const id = typeof task.ref === 'string' ? task.ref : task.id;
		const work = this.#running.get(id);
		if (work !== undefined) this.#end(id, work);
	}

	/** Whether the work of task `id` still runs (for tests and health checks). */
	isRunning(id: string): boolean {
		return this.#running.has(id);
	}

	/** End every work still running. */
	close(): void {
		for (const [id, work] of this.#running) this.#end(id, work);
	}

	#end(id: string, work: Work): void {
		for (const timer of work.timers) clearTimeout(timer);
		// Only the work of this attempt: a re-run of the same id may have started new work since.
		if (this.#running.get(id) === work) this.#running.delete(id);
	}
}
