/**
 * A call made once and kept, unless it fails: the first caller starts it, callers meanwhile share it, a success is
 * kept for every later caller, and a failure goes to the callers that shared it and is then forgotten, so that the
 * next caller tries again. The migrations of the SQL container, the SQL workflow store and the persistencer go this
 * way.
 */

/** The call of `onceRetrying`. */
export interface OnceRetrying<T> {
	/** The kept or shared call, or a new one when there is none (none yet, or the last one failed). */
	run(): Promise<T>;
	/** Resolves once the call on its way (or kept) settles, failed or not; at once when there is none. */
	settled(): Promise<void>;
	/** Whether the call succeeded and is kept: a caller may then skip waiting for `run()`. */
	readonly done: boolean;
}

/** Make `fn` a call made once, shared while on its way, kept once it succeeds and made again after a failure. */
export function onceRetrying<T>(fn: () => Promise<T>): OnceRetrying<T> {
	let current: Promise<T> | null = null;
	let done = false;
	return {
		run() {
			current ??= fn().then(
				(value) => {
					done = true;
					return value;
				},
				(error: unknown) => {
					current = null;
					throw error;
				},
			);
			return current;
		},
		get done() {
			return done;
		},
		settled: async () => {
			await current?.catch(() => undefined);
		},
	};
}
