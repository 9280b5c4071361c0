/**
 * The container's calls on their way, so `close()` can let them settle, and reject (with `SchedulerClosedError`)
 * those still stuck on the server after a bound: a closed container leaves no call pending.
 */
import { SchedulerClosedError } from 'lightsched';

export class PendingCalls {
	readonly #rejecters = new Set<(error: Error) => void>();
	#drained: (() => void)[] = [];

	/** `promise`, or a rejection with `SchedulerClosedError` if `settle()` gives up on it first. */
	track<T>(promise: Promise<T>): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			this.#rejecters.add(reject);
			// One reaction per outcome (no `finally`, which costs two more promises per call on the hot path).
			promise.then(
				(value) => {
					this.#settled(reject);
					resolve(value);
				},
				(error: unknown) => {
					this.#settled(reject);
					reject(error);
				},
			);
		});
	}

	#settled(reject: (error: Error) => void): void {
		this.#rejecters.delete(reject);
		if (this.#rejecters.size === 0) for (const done of this.#drained.splice(0)) done();
	}

	/** Wait up to `graceMs` for every call to settle; reject the rest with `SchedulerClosedError`. */
	async settle(graceMs: number): Promise<void> {
		if (this.#rejecters.size === 0) return;
		await within(new Promise<void>((resolve) => this.#drained.push(resolve)), graceMs);
		for (const reject of [...this.#rejecters]) reject(new SchedulerClosedError('container'));
	}
}

/** Wait for `promise`, at most `ms` milliseconds. */
export async function within(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
	if (promise === undefined) return;
	let timer: ReturnType<typeof setTimeout> | undefined;
	await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
	clearTimeout(timer);
}
