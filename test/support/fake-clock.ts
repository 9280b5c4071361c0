/**
 * A fake clock for the fast tier: vitest's fake timers over `setTimeout`/`setInterval`, `Date` and `performance`
 * (the scheduler reads time through `Date.now()` and waits through timers; it has no clock option), with helpers
 * that move time forward instead of sleeping. Promise callbacks, `queueMicrotask`, `process.nextTick` and
 * `setImmediate` stay real, so awaiting a container call works as usual; each timer that fires is followed by its
 * promise callbacks before the next one (`vi.advanceTimersByTimeAsync`).
 *
 * Only for tests whose waits are timers in this process (the memory containers, test doubles, in-process
 * actuators): a socket, a child process or a file answers in real time, which a fake clock does not move.
 */
import { onTestFinished, vi } from 'vitest';

/** The timer functions faked; the others (`setImmediate`, `nextTick`, `queueMicrotask`) stay real. */
const FAKED = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] as const;

export interface FakeClock {
	/** Fake milliseconds since the clock was installed. */
	readonly elapsed: number;
	/** Moves time forward by `ms`, firing every timer due on the way and the promise callbacks each one starts. */
	advance(ms: number): Promise<void>;
	/**
	 * Moves time forward in steps of `stepMs` until `check()` holds; fails after `withinMs` fake ms, naming `what`.
	 * Resolves with the fake ms it took.
	 */
	until(what: string, check: () => boolean, withinMs: number, stepMs?: number): Promise<number>;
	/** Moves time forward until `promise` settles (a call that waits on timers, as `close()`), then returns it. */
	settle<T>(promise: Promise<T>, withinMs?: number, stepMs?: number): Promise<T>;
}

/**
 * Installs the fake clock for the current test (call it inside the test); the real timers are back when the test
 * ends. `startAt` is the fake `Date.now()` at the start.
 */
export function useFakeClock(startAt = Date.UTC(2026, 0, 1)): FakeClock {
	onTestFinished(() => {
		vi.useRealTimers();
	});
	vi.useFakeTimers({ toFake: [...FAKED], now: startAt });
	const advance = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);
	const until = async (what: string, check: () => boolean, withinMs: number, stepMs = 10): Promise<number> => {
		const from = Date.now();
		while (!check()) {
			if (Date.now() - from >= withinMs) throw new Error(`${what}: not within ${withinMs} ms (fake clock)`);
			await advance(stepMs);
		}
		return Date.now() - from;
	};
	return {
		get elapsed() {
			return Date.now() - startAt;
		},
		advance,
		until,
		async settle<T>(promise: Promise<T>, withinMs = 60_000, stepMs = 10): Promise<T> {
			let settled = false;
			const watched = promise.finally(() => (settled = true));
			// A rejection is reported by the await below, not as unhandled while time moves.
			watched.catch(() => undefined);
			await until('a promise settles', () => settled, withinMs, stepMs);
			return watched;
		},
	};
}
