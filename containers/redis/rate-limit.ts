/**
 * The Redis container's `rateLimit` option: at most `max` claims (task starts, retries included) in each
 * `intervalMs` window across every scheduler sharing the container. Enforced inside the claim script on the
 * script's clock: the hash `P rate` holds the current window's start (`w`, aligned to the epoch) and its count
 * (`n`). A claim past the limit takes fewer tasks or none; they stay waiting. The script then tells how long until
 * the window reopens, the container remembers when that is on this process's clock (late rather than early by the
 * round trip) and `nextDueAt` answers it, so the scheduler sleeps until then; a claim the limit did not cut
 * forgets it, so nothing spins. Claim-ahead (see transitions.ts) is off while a limit is set:
 * every start goes through the claim script.
 */
import { rejectUnknownOptions } from 'lightsched/kit';

/** `rateLimit`: at most `max` starts per `intervalMs`. */
export interface RateLimitOption {
	/** The most starts in one window (an integer ≥ 1). */
	readonly max: number;
	/** The window's length in milliseconds (an integer ≥ 1). */
	readonly intervalMs: number;
}

function integer(name: string, value: unknown): number {
	if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
		throw new TypeError(
			`Expected \`${name}\` to be an integer >= 1, got ${typeof value === 'number' ? String(value) : typeof value}`,
		);
	}
	return value;
}

/** Check `rateLimit` (or `groupRateLimit`, named by `option`): null when absent. */
export function checkRateLimit(value: unknown, option = 'rateLimit'): RateLimitOption | null {
	if (value === undefined) return null;
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`Expected \`${option}\` to be an object like { max: 10, intervalMs: 1000 }`);
	}
	rejectUnknownOptions(`RedisContainer \`${option}\``, value, ['max', 'intervalMs']);
	const { max, intervalMs } = value as { max?: unknown; intervalMs?: unknown };
	return { max: integer(`${option}.max`, max), intervalMs: integer(`${option}.intervalMs`, intervalMs) };
}

/** The claim script's rate arguments: max and intervalMs, `0 0` when no limit is set. */
export function rateArgs(limit: RateLimitOption | null): [string, string] {
	return limit === null ? ['0', '0'] : [String(limit.max), String(limit.intervalMs)];
}
