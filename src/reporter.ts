/**
 * Everything a scheduler tells the outside: typed events (a throwing listener never breaks the loop), the
 * `callback` receiver and the `finished()` streams, all fed from here, for each stored outcome.
 */
import type { EventEmitter } from 'eventemitter3';
import type { CallbackReceiver } from './contracts.js';
import { CallbackError, LeaseExpiredError, toError, withContext } from './errors.js';
import type { SchedulerEvents } from './events.js';
import { FinishedStream } from './finished-stream.js';
import type { StoredOutcome } from './task-writer.js';
import type { TaskRecord } from './task.js';

type Events<TItem, TOutput> = SchedulerEvents<TItem, TOutput>;

export class Reporter<TItem, TOutput> {
	readonly #emitter: EventEmitter<Events<TItem, TOutput>>;
	readonly #callback: CallbackReceiver<TItem, TOutput> | undefined;
	readonly #streams = new Set<FinishedStream<TaskRecord<TItem, TOutput>>>();

	readonly #afterFinal: ((task: TaskRecord<TItem, TOutput>) => void) | undefined;

	/** @param afterFinal hears each final task once everyone else was told (the deletion of tasks kept 0 ms) */
	constructor(
		emitter: EventEmitter<Events<TItem, TOutput>>,
		callback: CallbackReceiver<TItem, TOutput> | undefined,
		afterFinal?: (task: TaskRecord<TItem, TOutput>) => void,
	) {
		this.#emitter = emitter;
		this.#callback = callback;
		this.#afterFinal = afterFinal;
	}

	/** Whether anyone listens to `event` (so the payload is worth making). */
	listening(event: keyof Events<TItem, TOutput>): boolean {
		return this.#emitter.listenerCount(event) > 0;
	}

	/** Emit without letting a throwing listener break the loop. */
	emit<E extends keyof Events<TItem, TOutput>>(
		event: E,
		...args: EventEmitter.ArgumentMap<Events<TItem, TOutput>>[E]
	): void {
		try {
			(this.#emitter.emit as (event: E, ...rest: unknown[]) => boolean)(event, ...(args as unknown[]));
		} catch (error) {
			if (event !== 'error')
				this.error(new CallbackError(`a \`${String(event)}\` listener threw`, { cause: error }));
		}
	}

	/** Emit `error`, wrapped with `context` when given (keeping a `SchedulerError`'s code). */
	error(error: unknown, context?: string): void {
		const cause = toError(error);
		const reported = context === undefined ? cause : withContext(context, cause);
		try {
			this.#emitter.emit('error', reported);
		} catch {
			// An `error` listener that throws has nowhere left to report to.
		}
	}

	/**
	 * A success stored on the hot path: the same as `outcome` with a `succeeded` outcome, without making one. Returns
	 * whether code of the user's ran meanwhile (a `task:succeeded` listener or the callback), which may have taken
	 * any time.
	 */
	succeeded(task: TaskRecord<TItem, TOutput>, output: TOutput): boolean {
		const emitter = this.#emitter;
		const listened = emitter.listenerCount('task:succeeded') > 0;
		if (listened) {
			// `emit` by hand: one event a task, without the array of `emit`'s rest parameter.
			try {
				emitter.emit('task:succeeded', { task, output });
			} catch (error) {
				this.error(new CallbackError('a `task:succeeded` listener threw', { cause: error }));
			}
		}
		this.final(task);
		return listened || this.#callback !== undefined;
	}

	/** Tell listeners, the callback and the finished streams what a stored outcome led to. */
	outcome(stored: StoredOutcome): void {
		if (stored.kind === 'none' || stored.kind === 'lost') return;
		const task = stored.task as TaskRecord<TItem, TOutput>;
		switch (stored.kind) {
			case 'succeeded':
				this.succeeded(task, stored.output as TOutput);
				return;
			case 'retrying':
				this.emit('task:retrying', { task, error: stored.error, delayMs: stored.delayMs });
				return;
			case 'failed':
				this.emit('task:failed', { task, error: stored.error });
				break;
			case 'stopped':
				this.emit('task:stopped', { task });
				break;
		}
		this.final(task);
	}

	/** Tasks a lease sweep finished (failed with its attempts spent, or stopped as asked). */
	reclaimed(task: TaskRecord<TItem, TOutput>): void {
		if (task.status === 'failed') {
			this.emit('task:failed', { task, error: new LeaseExpiredError(task.id, task.error?.message) });
			this.final(task);
		} else if (task.status === 'stopped') {
			this.emit('task:stopped', { task });
			this.final(task);
		}
	}

	/** A task reached a final status: the callback and the finished streams hear of it. */
	final(task: TaskRecord<TItem, TOutput>): void {
		if (this.#streams.size > 0) for (const stream of this.#streams) stream.push(task);
		this.#callBack(task);
		this.#afterFinal?.(task);
	}

	#callBack(task: TaskRecord<TItem, TOutput>): void {
		const callback = this.#callback;
		if (callback === undefined) return;
		try {
			const result = callback(task);
			if (result instanceof Promise)
				result.catch((error: unknown) =>
					this.error(new CallbackError(`callback failed for task ${task.id}`, { cause: error })),
				);
		} catch (error) {
			this.error(new CallbackError(`callback failed for task ${task.id}`, { cause: error }));
		}
	}

	/** A new stream of finished tasks; an ended one when `closed`. */
	stream(closed: boolean): FinishedStream<TaskRecord<TItem, TOutput>> {
		const stream = new FinishedStream<TaskRecord<TItem, TOutput>>((s) => this.#streams.delete(s));
		if (closed) stream.end();
		else this.#streams.add(stream);
		return stream;
	}

	/** End every stream (they still yield what they buffered). */
	endStreams(): void {
		for (const stream of this.#streams) stream.end();
		this.#streams.clear();
	}
}
