/**
 * Bounded calls to the Docker daemon, and a watch on it while containers run. Every short API call
 * (create, start, inspect, kill, remove, list) gets `requestTimeoutMs`: a daemon that accepts the
 * connection and never answers (hung, stopped with SIGSTOP, a half-open TCP link) fails the call with an
 * `ActuatorError` naming the daemon's address instead of holding the task for ever. The wait for a
 * container's exit has no such limit (it lasts as long as the container), so while any wait is open the
 * daemon is pinged every `pingIntervalMs`; a ping that fails or is not answered in time ends every open
 * wait with that error (the attempt fails and follows the retry policy; the container, if it still runs,
 * is reattached by the next attempt or removed by `cleanupOrphans`).
 */
import { ActuatorError } from 'lightsched';
import type Dockerode from 'dockerode';
import { describeEndpoint, dockerError } from './errors.js';

/** The daemon did not answer a call within `requestTimeoutMs` (its `cause` is the abort). */
export class DockerTimeoutError extends ActuatorError {
	override name = 'DockerTimeoutError';
	/** The limit that passed, in milliseconds. */
	readonly timeoutMs: number;

	constructor(endpoint: string, doing: string, timeoutMs: number, cause?: unknown) {
		super(
			`The Docker daemon at ${endpoint} did not answer within ${timeoutMs} ms while ${doing} (is dockerd hung or overloaded?)`,
			cause === undefined ? {} : { cause },
		);
		this.timeoutMs = timeoutMs;
	}
}

/**
 * Runs one daemon call under a timeout; a timeout becomes a `DockerTimeoutError`, other errors pass unchanged.
 * The call is also raced against the timeout, so a client that missed the abort cannot hold the caller.
 */
export function bounded<T>(
	docker: Dockerode,
	timeoutMs: number,
	doing: string,
	call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
	const signal = AbortSignal.timeout(timeoutMs);
	return new Promise<T>((resolve, reject) => {
		const onAbort = (): void =>
			reject(new DockerTimeoutError(describeEndpoint(docker), doing, timeoutMs, signal.reason));
		signal.addEventListener('abort', onAbort, { once: true });
		call(signal)
			.then(resolve, (error: unknown) =>
				reject(
					signal.aborted ? new DockerTimeoutError(describeEndpoint(docker), doing, timeoutMs, error) : error,
				),
			)
			.finally(() => signal.removeEventListener('abort', onAbort));
	});
}

/** `promise`, or a rejection with `signal.reason` as soon as `signal` aborts (whether or not the promise heeds it). */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
	if (signal.aborted) return Promise.reject(signal.reason as Error);
	return new Promise<T>((resolve, reject) => {
		const onAbort = (): void => reject(signal.reason as Error);
		signal.addEventListener('abort', onAbort, { once: true });
		promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
	});
}

/** Pings the daemon while containers are waited on, and tells the waiters when it stops answering. */
export class DaemonWatch {
	readonly #docker: Dockerode;
	readonly #timeoutMs: number;
	readonly #intervalMs: number;
	readonly #waiters = new Set<AbortController>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#pinging = false;

	constructor(docker: Dockerode, timeoutMs: number, intervalMs: number) {
		this.#docker = docker;
		this.#timeoutMs = timeoutMs;
		this.#intervalMs = intervalMs;
	}

	/** Pings the daemon once; rejects with an `ActuatorError` naming it when it does not answer. */
	async check(doing: string): Promise<void> {
		try {
			await bounded(this.#docker, this.#timeoutMs, doing, (abortSignal) =>
				(this.#docker.ping as (options: object) => Promise<unknown>).call(this.#docker, { abortSignal }),
			);
		} catch (error) {
			throw dockerError(doing, error, this.#docker);
		}
	}

	/** Checks on the daemon `times` times, `gapMs` apart: rejects at the first check it does not answer. */
	async checkFor(doing: string, times: number, gapMs: number): Promise<void> {
		for (let i = 0; i < times; i++) {
			if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
			await this.check(doing);
		}
	}

	/** A signal that aborts (its reason an `ActuatorError` naming the daemon) when the daemon stops answering; call `release` when done. */
	watch(): { signal: AbortSignal; release(): void } {
		const controller = new AbortController();
		this.#waiters.add(controller);
		if (this.#timer === undefined) {
			this.#timer = setInterval(() => void this.#ping(), this.#intervalMs);
			this.#timer.unref?.();
		}
		return {
			signal: controller.signal,
			release: () => {
				this.#waiters.delete(controller);
				if (this.#waiters.size === 0) this.close();
			},
		};
	}

	close(): void {
		if (this.#timer !== undefined) clearInterval(this.#timer);
		this.#timer = undefined;
	}

	async #ping(): Promise<void> {
		if (this.#pinging) return;
		this.#pinging = true;
		try {
			await this.check('checking on it while containers run');
		} catch (error) {
			for (const waiter of [...this.#waiters]) waiter.abort(error);
		} finally {
			this.#pinging = false;
		}
	}
}
