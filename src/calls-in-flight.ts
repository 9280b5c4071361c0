/**
 * The public calls of a scheduler still waiting on its parts (`add`, `get`, `stop`, ...). `close()` settles every
 * one: those its parts have not settled once they are closed reject with `SchedulerClosedError`, so a caller never
 * waits for ever on a container that does not answer.
 */
import { SchedulerClosedError } from './errors.js';

export class CallsInFlight {
	readonly #rejecters = new Set<(error: Error) => void>();
	#closed = false;

	/** `promise`, or a rejection with `SchedulerClosedError` if `closeAll()` comes first. */
	track<T>(promise: Promise<T>): Promise<T> {
		if (this.#closed) {
			promise.catch(() => undefined);
			return Promise.reject(new SchedulerClosedError());
		}
		return new Promise<T>((resolve, reject) => {
			const rejecter = (error: Error): void => reject(error);
			this.#rejecters.add(rejecter);
			promise.then(
				(value) => {
					this.#rejecters.delete(rejecter);
					resolve(value);
				},
				(error: unknown) => {
					this.#rejecters.delete(rejecter);
					reject(error as Error);
				},
			);
		});
	}

	/** Reject every call still in flight; later calls reject at once. */
	closeAll(): void {
		this.#closed = true;
		for (const reject of this.#rejecters) {
			reject(new SchedulerClosedError());
		}
		this.#rejecters.clear();
	}
}
