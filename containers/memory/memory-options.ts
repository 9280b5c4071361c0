/** What the in-memory containers take, and the check of it. */
import { describeValue } from 'lightsched/kit';

/** The default of `MemoryContainerOptions.keepFinished`. */
export const DEFAULT_KEEP_FINISHED = 10_000;

/** What the in-memory containers take. */
export interface MemoryContainerOptions {
	/**
	 * How many finished tasks (succeeded, failed, stopped) stay readable with `get` and `list`; past that the
	 * oldest finished are forgotten, so a long-running process does not grow without bound. `Infinity` keeps all.
	 * @default 10000
	 */
	readonly keepFinished?: number;
}

/** Checks the options (naming the field at fault) and answers `keepFinished`. */
export function keepFinishedOf(options: MemoryContainerOptions): number {
	// The claim limits of the shared containers have no in-process form: one process owns this container.
	for (const limit of ['groupRateLimit', 'rateLimit', 'globalConcurrency']) {
		if (typeof options === 'object' && options !== null && Object.hasOwn(options, limit)) {
			throw new TypeError(
				`Expected no \`${limit}\`: it is a RedisContainer and SqlContainer option (limits across processes); an in-process container has one scheduler, whose \`concurrency\` and \`rateLimit\` are its limits (see docs/rate-limits.md)`,
			);
		}
	}
	const keep = options.keepFinished ?? DEFAULT_KEEP_FINISHED;
	if (keep !== Number.POSITIVE_INFINITY && (!Number.isInteger(keep) || keep < 0)) {
		throw new TypeError(`Expected \`keepFinished\` to be an integer >= 0 or Infinity, got ${describeValue(keep)}`);
	}
	return keep;
}
