/** The retry policy: how long a failed attempt waits before the next. */
import { describeValue } from './errors.js';

/** A backoff described by data. */
export interface BackoffOptions {
	/** `fixed`: always `delayMs`; `exponential`: `delayMs * 2^(attempt - 1)`, capped at `maxDelayMs`. */
	readonly type: 'fixed' | 'exponential';
	/** The base delay in milliseconds. */
	readonly delayMs: number;
	/**
	 * The cap for exponential growth.
	 * @default Infinity
	 */
	readonly maxDelayMs?: number;
	/**
	 * Randomise each delay down by up to this fraction (0 to 1), so retries of many tasks spread out.
	 * `true` means 1 (full jitter).
	 * @default 0 for `fixed`, 0.5 for `exponential`
	 */
	readonly jitter?: boolean | number;
}

/** A backoff computed by the caller: `attempt` is the attempt that just failed (1 for the first). */
export type BackoffFunction = (attempt: number, error: Error) => number;

/** The wait before a retry: a fixed or exponential policy, or a function of the attempt and its error. */
export type Backoff = BackoffOptions | BackoffFunction;

/** The default backoff: exponential from 1 s, capped at 1 min, half jitter. */
export const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: 0.5 };

/** Check a backoff option; throws a `TypeError` naming the field. */
export function validateBackoff(backoff: unknown): asserts backoff is Backoff {
	if (typeof backoff === 'function') return;
	if (typeof backoff !== 'object' || backoff === null) {
		throw new TypeError(`Expected \`backoff\` to be an object or a function, got ${describeValue(backoff)}`);
	}
	const { type, delayMs, maxDelayMs, jitter } = backoff as Record<string, unknown>;
	if (type !== 'fixed' && type !== 'exponential') {
		throw new TypeError(`Expected \`backoff.type\` to be 'fixed' or 'exponential', got ${describeValue(type)}`);
	}
	if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
		throw new TypeError(`Expected \`backoff.delayMs\` to be a finite number >= 0, got ${describeValue(delayMs)}`);
	}
	if (maxDelayMs !== undefined && (typeof maxDelayMs !== 'number' || Number.isNaN(maxDelayMs) || maxDelayMs < 0)) {
		throw new TypeError(`Expected \`backoff.maxDelayMs\` to be a number >= 0, got ${describeValue(maxDelayMs)}`);
	}
	if (
		jitter !== undefined &&
		typeof jitter !== 'boolean' &&
		(typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
	) {
		throw new TypeError(
			`Expected \`backoff.jitter\` to be a boolean or a number from 0 to 1, got ${describeValue(jitter)}`,
		);
	}
}

/**
 * The delay before the next attempt, in whole milliseconds (never negative, never NaN).
 * @param attempt the attempt that just failed, 1 for the first
 */
export function backoffDelay(
	backoff: Backoff,
	attempt: number,
	error: Error,
	random: () => number = Math.random,
): number {
	let delay: number;
	if (typeof backoff === 'function') {
		delay = backoff(attempt, error);
	} else {
		const base = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, attempt - 1);
		delay = Math.min(base, backoff.maxDelayMs ?? Number.POSITIVE_INFINITY);
		const jitter =
			backoff.jitter === undefined
				? backoff.type === 'exponential'
					? 0.5
					: 0
				: backoff.jitter === true
					? 1
					: backoff.jitter === false
						? 0
						: backoff.jitter;
		if (jitter > 0) delay -= delay * jitter * random();
	}
	if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) return 0;
	return Math.round(delay);
}
