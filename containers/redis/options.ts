/** The options of `RedisContainer`, its events, and the check of its names. */
import type { Redis, RedisOptions } from 'ioredis';
import { describeValue } from 'lightsched';

export interface RedisContainerOptions {
	/**
	 * The Redis server: a `redis://` URL, ioredis options, or an ioredis instance. A URL or options make
	 * connections the container owns and closes; an instance stays open after `close()` (the container closes
	 * only the subscriber connection it duplicated from it).
	 */
	readonly redis: string | RedisOptions | Redis;
	/**
	 * The container's name: its keys live under `<prefix>:{<name>}:`, so they share one Redis Cluster hash slot.
	 * Schedulers that share tasks use the same name. No `{` or `}`.
	 */
	readonly name: string;
	/**
	 * The first part of every key. No `{` or `}`.
	 * @default 'lightsched'
	 */
	readonly prefix?: string;
	/**
	 * The most tasks running (or exporting) at once across every scheduler sharing this container, enforced by
	 * the claim script. No limit when absent.
	 */
	readonly globalConcurrency?: number;
	/**
	 * Where warnings are written besides the `warning` event (for example when Redis may evict task keys);
	 * `false` writes them nowhere.
	 * @default console.warn
	 */
	readonly log?: ((message: string) => void) | false;
}

/** What the `warning` event carries. */
export interface RedisContainerWarning {
	/** `maxmemory-policy`: Redis may evict task keys; `config-unavailable`: the policy could not be read. */
	readonly code: 'maxmemory-policy' | 'config-unavailable';
	readonly message: string;
	/** The server's `maxmemory-policy`, when it could be read. */
	readonly policy?: string;
}

export interface RedisContainerEvents {
	warning: [warning: RedisContainerWarning];
}

const NAME_PATTERN = /^[^{}\s]+$/;

/** A `name` or `prefix`: part of every key, inside or before the `{hashtag}`. */
export function checkName(field: string, value: unknown): string {
	if (typeof value !== 'string' || !NAME_PATTERN.test(value) || value.length > 200) {
		throw new TypeError(
			`Expected \`${field}\` to be a non-empty string of at most 200 characters without \`{\`, \`}\` or spaces, got ${describeValue(value)}`,
		);
	}
	return value;
}

