/** The options of `RedisContainer`, its events, and the checks of its names and options. */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { assertWellFormed, describeValue, isWellFormedText } from 'lightsched/kit';
import { rejectUnknownOptions } from 'lightsched/kit';
import { asCluster } from './connection.js';
import { checkRateLimit, type RateLimitOption } from './rate-limit.js';

/** What `new RedisContainer(options)` takes. */
export interface RedisContainerOptions {
	/**
	 * The Redis server: a `redis://` URL, ioredis options, or an ioredis instance (a `Redis`, or a `Cluster` for a
	 * Redis Cluster: the container's keys share one hash slot). A URL or options make
	 * connections the container owns and closes; they find a server that is back within about 1.3 s (a
	 * `retryStrategy` pausing at most 1.2 s, `maxLoadingRetryTime` 100 ms, unless the options set them). An instance
	 * stays open after `close()` (the container closes only the subscriber connection it duplicated from it) and
	 * keeps its own options. The container bounds its own calls either way (`connectTimeoutMs`, `commandTimeoutMs`).
	 */
	readonly redis: string | RedisOptions | Redis | Cluster;
	/**
	 * The container's name: its keys live under `<prefix>:{<name>}:`, so they share one Redis Cluster hash slot.
	 * Schedulers that share tasks use the same name. No `{`, `}`, spaces or lone UTF-16 surrogates.
	 */
	readonly name: string;
	/**
	 * The first part of every key. No `{`, `}`, spaces or lone UTF-16 surrogates.
	 * @default 'lightsched'
	 */
	readonly prefix?: string;
	/**
	 * The most tasks running (or exporting) at once across every scheduler sharing this container, enforced by
	 * the claim script. No limit when absent.
	 */
	readonly globalConcurrency?: number;
	/**
	 * Whose clock judges leases, due times and reclaims. `'server'`: the Redis server's (`TIME` inside every
	 * script), so schedulers whose clocks disagree never take over each other's live tasks. `'caller'`: the `now`
	 * arguments the scheduler passes; for tests that control time.
	 * @default 'server'
	 */
	readonly clock?: 'server' | 'caller';
	/**
	 * How long a call waits for a connection that is down (server not started, stopped, wrong port) before it
	 * rejects with a `ContainerError` naming the server; such a call was never sent. A call already sent when the
	 * connection drops waits this long for it to come back (ioredis sends it again then), not `commandTimeoutMs`;
	 * the server may have applied it.
	 * @default 5000
	 */
	readonly connectTimeoutMs?: number;
	/**
	 * How long a call sent to the server waits for its reply before it rejects with a `ContainerError` (an add
	 * gets this much per 1,000 tasks). The server may still apply a call whose reply never came.
	 * @default 10000
	 */
	readonly commandTimeoutMs?: number;
	/**
	 * Where warnings are written besides the `warning` event (for example when Redis may evict task keys);
	 * `false` writes them nowhere.
	 * @default console.warn
	 */
	readonly log?: ((message: string) => void) | false;
	/**
	 * At most `max` claims (task starts, retries included) in each `intervalMs` window across every scheduler
	 * sharing this container, enforced by the claim script on its clock. Windows are fixed, aligned to the epoch.
	 * A task held back waits; schedulers sleep until the window reopens. Turns claim-ahead off.
	 * @default no limit
	 */
	readonly rateLimit?: RateLimitOption;
	/**
	 * At most `max` claims of each group's tasks (`NewTask.group`) in each `intervalMs` window across every
	 * scheduler sharing this container, enforced by the claim script on its clock, on top of `rateLimit` and
	 * `globalConcurrency`; tasks with no group are not limited by it. A task of a group with no room left waits
	 * (parked) while the claim takes the next tasks of other groups; schedulers sleep until the earliest window
	 * reopens. Windows are fixed, aligned to the epoch. Turns claim-ahead off. Every scheduler of the container
	 * must be given the same value. See docs/rate-limits.md.
	 * @default no limit
	 */
	readonly groupRateLimit?: RateLimitOption;
	/**
	 * Hand due tasks to idle schedulers in the add's own script (see docs/containers/redis.md, "Hand-off to idle
	 * schedulers"): a task added while a scheduler of this container waits idle starts without a claim's round trip
	 * (add-to-start p50 about 0.6 ms instead of 0.7–1.3, p99 about 3 ms instead of 5 here). An add hands tasks only
	 * to schedulers whose container's subscriber connection Redis still counts, so a scheduler process that died is
	 * handed nothing. The cost left: a process that is alive but hung (its connection open, its event loop blocked)
	 * within a second of its last claim is handed up to its free slots, which wait for it as tasks it had claimed
	 * do. `false`: every task waits for a claim.
	 * @default true
	 */
	readonly handOff?: boolean;
	/**
	 * An add resolves only once `replicas` replicas of the master confirm they have its tasks (Redis `WAIT`, within
	 * `timeoutMs`, default 1000): Redis replicates after it answers, so without it an add acknowledged in a master's
	 * last moments is lost with it at a failover. Fewer confirmations in time reject the add with
	 * `UnreplicatedAddError`: its tasks are stored on the master and may be lost if it fails now. Adds then go on a
	 * connection of their own, so a replica that lags holds up the adds only. Not on a Redis Cluster. See
	 * docs/containers/redis.md.
	 * @default none: an add resolves once the master has stored it
	 */
	readonly waitForReplicas?: WaitForReplicasOption;
}

/** See `RedisContainerOptions.waitForReplicas`. */
export interface WaitForReplicasOption {
	/** How many replicas must confirm each add (an integer >= 1). */
	readonly replicas: number;
	/**
	 * How long an add waits for them after the master stored it.
	 * @default 1000
	 */
	readonly timeoutMs?: number;
}

/** Every option name of `RedisContainer`, for `rejectUnknownOptions`. */
const OPTION_NAMES = [
	'redis',
	'name',
	'prefix',
	'globalConcurrency',
	'clock',
	'connectTimeoutMs',
	'commandTimeoutMs',
	'log',
	'rateLimit',
	'groupRateLimit',
	'handOff',
	'waitForReplicas',
] as const;

/** What the `warning` event carries. */
export interface RedisContainerWarning {
	/** `maxmemory-policy`: Redis may evict task keys; `config-unavailable`: the policy could not be read. */
	readonly code: 'maxmemory-policy' | 'config-unavailable';
	/** The warning in words. */
	readonly message: string;
	/** The server's `maxmemory-policy`, when it could be read. */
	readonly policy?: string;
}

/** The events of a `RedisContainer` (an eventemitter3 emitter). */
export interface RedisContainerEvents {
	/** The server may lose task keys (`maxmemory-policy`), or its policy could not be checked. */
	warning: [warning: RedisContainerWarning];
}

const NAME_PATTERN = /^[^{}\s]+$/;

/**
 * Whether `text` is well-formed Unicode (no lone UTF-16 surrogate). Redis stores UTF-8, which has no form for a
 * lone surrogate: ioredis would send U+FFFD in its place, so two different ids would name one key.
 */
export function isWellFormed(text: string): boolean {
	return isWellFormedText(text);
}

/** A `name` or `prefix`: part of every key, inside or before the `{hashtag}`. */
export function checkName(field: string, value: unknown): string {
	assertWellFormed(value, field);
	if (typeof value !== 'string' || !NAME_PATTERN.test(value) || value.length > 200) {
		throw new TypeError(
			`Expected \`${field}\` to be a non-empty string of at most 200 characters without \`{\`, \`}\`, spaces or lone surrogates, got ${describeValue(value)}`,
		);
	}
	return value;
}

function checkMs(field: string, value: unknown, fallback: number): number {
	if (value === undefined) return fallback;
	if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
		throw new TypeError(
			`Expected \`${field}\` to be an integer number of milliseconds >= 1, got ${describeValue(value)}`,
		);
	}
	return value;
}

/** The checked options, with their defaults. */
export interface CheckedOptions {
	readonly name: string;
	readonly prefix: string;
	/** 0: no limit. */
	readonly globalConcurrency: number;
	readonly serverClock: boolean;
	readonly connectTimeoutMs: number;
	readonly commandTimeoutMs: number;
	readonly log: ((message: string) => void) | false;
	readonly rateLimit: RateLimitOption | null;
	readonly groupRateLimit: RateLimitOption | null;
	readonly handOff: boolean;
	/** `null`: adds do not wait for replicas. */
	readonly waitForReplicas: Required<WaitForReplicasOption> | null;
}

function checkWaitForReplicas(value: unknown, redis: unknown): Required<WaitForReplicasOption> | null {
	if (value === undefined) return null;
	if (asCluster(redis) !== undefined)
		throw new TypeError(
			"Expected no `waitForReplicas` with a Redis Cluster: WAIT must reach the node of the container's slot on the add's own connection, which ioredis's Cluster does not route",
		);
	const option = value as Partial<WaitForReplicasOption> | null;
	if (typeof option !== 'object' || option === null || Array.isArray(option)) {
		throw new TypeError(
			`Expected \`waitForReplicas\` to be an object like { replicas: 1, timeoutMs: 1000 }, got ${describeValue(value)}`,
		);
	}
	rejectUnknownOptions('waitForReplicas', option as object, ['replicas', 'timeoutMs']);
	if (!Number.isSafeInteger(option.replicas) || (option.replicas as number) < 1) {
		throw new TypeError(
			`Expected \`waitForReplicas.replicas\` to be an integer >= 1, got ${describeValue(option.replicas)}`,
		);
	}
	return {
		replicas: option.replicas as number,
		timeoutMs: checkMs('waitForReplicas.timeoutMs', option.timeoutMs, 1000),
	};
}

export function checkOptions(options: RedisContainerOptions): CheckedOptions {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(`Expected \`options\` to be an object like { redis, name }, got ${describeValue(options)}`);
	}
	rejectUnknownOptions('RedisContainer', options, OPTION_NAMES);
	const name = checkName('name', options.name);
	const prefix = checkName('prefix', options.prefix ?? 'lightsched');
	const { globalConcurrency, clock = 'server' } = options;
	if (globalConcurrency !== undefined && (!Number.isSafeInteger(globalConcurrency) || globalConcurrency < 1)) {
		throw new TypeError(
			`Expected \`globalConcurrency\` to be an integer >= 1, got ${describeValue(globalConcurrency)}`,
		);
	}
	if (clock !== 'server' && clock !== 'caller') {
		throw new TypeError(`Expected \`clock\` to be 'server' or 'caller', got ${describeValue(clock)}`);
	}
	if (options.handOff !== undefined && typeof options.handOff !== 'boolean') {
		throw new TypeError(`Expected \`handOff\` to be a boolean, got ${describeValue(options.handOff)}`);
	}
	const log = options.log ?? ((message: string) => console.warn(message));
	if (log !== false && typeof log !== 'function') {
		throw new TypeError(`Expected \`log\` to be a function or false, got ${describeValue(log)}`);
	}
	return {
		name,
		prefix,
		globalConcurrency: globalConcurrency ?? 0,
		serverClock: clock === 'server',
		connectTimeoutMs: checkMs('connectTimeoutMs', options.connectTimeoutMs, 5000),
		commandTimeoutMs: checkMs('commandTimeoutMs', options.commandTimeoutMs, 10_000),
		log,
		rateLimit: checkRateLimit(options.rateLimit),
		groupRateLimit: checkRateLimit(options.groupRateLimit, 'groupRateLimit'),
		handOff: options.handOff !== false,
		waitForReplicas: checkWaitForReplicas(options.waitForReplicas, options.redis),
	};
}
