/**
 * A scheduler's own rate limit (`SchedulerOptions.rateLimit`): at most `max` task starts in any `intervalMs`
 * (a sliding window over this process's claim times), on top of `concurrency`. The claim loop asks `allowance`
 * before each claim and claims no more; when it is 0 the loop sleeps until `reopensAt` with its due timer, so a
 * held-back task waits in the container (still claimable by other schedulers) and nothing spins. Containers have
 * their own global limit across processes (the `rateLimit` option of RedisContainer and SqlContainer).
 */
import { describeValue } from './errors.js';
import { rejectUnknownOptions } from './option-names.js';

/** At most `max` starts per `intervalMs`. */
export interface RateLimit {
	/** The most task starts in any window of `intervalMs` (an integer ≥ 1). */
	readonly max: number;
	/** The window's length in milliseconds (an integer ≥ 1). */
	readonly intervalMs: number;
}

function integer(name: string, value: unknown): number {
	if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
		throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got ${describeValue(value)}`);
	}
	return value;
}

/** Check a `rateLimit` option (`where` names its owner in errors). */
export function checkRateLimit(value: unknown, where = 'Scheduler'): RateLimit {
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`Expected \`rateLimit\` to be an object like { max: 10, intervalMs: 1000 }`);
	}
	rejectUnknownOptions(`${where} \`rateLimit\``, value, ['max', 'intervalMs']);
	const { max, intervalMs } = value as { max?: unknown; intervalMs?: unknown };
	return { max: integer('rateLimit.max', max), intervalMs: integer('rateLimit.intervalMs', intervalMs) };
}

/** The start times of the last `max` claimed tasks, oldest first (a ring: O(1) per start, `max` numbers kept). */
export class RateLimiter {
	readonly #max: number;
	readonly #intervalMs: number;
	readonly #times: number[];
	/** Index of the oldest kept time, and how many are kept. */
	#head = 0;
	#size = 0;

	constructor(limit: RateLimit) {
		this.#max = limit.max;
		this.#intervalMs = limit.intervalMs;
		this.#times = new Array<number>(limit.max).fill(0);
	}

	/** How many tasks may start at `now`: `max` less the starts within the last `intervalMs`. */
	allowance(now: number): number {
		while (this.#size > 0 && (this.#times[this.#head] as number) <= now - this.#intervalMs) {
			this.#head = (this.#head + 1) % this.#max;
			this.#size--;
		}
		return this.#max - this.#size;
	}

	/** `count` tasks started at `now` (never more than `allowance(now)`). */
	record(count: number, now: number): void {
		for (let i = 0; i < count; i++) {
			if (this.#size === this.#max) {
				this.#head = (this.#head + 1) % this.#max;
				this.#size--;
			}
			this.#times[(this.#head + this.#size) % this.#max] = now;
			this.#size++;
		}
	}

	/** When the next start is allowed again (the oldest kept start leaves the window); `now` when one is. */
	reopensAt(now: number): number {
		if (this.allowance(now) > 0) return now;
		return (this.#times[this.#head] as number) + this.#intervalMs;
	}
}
