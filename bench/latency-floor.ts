/**
 * The Redis latency floors' scripts (bench/latency.ts): push a task and publish a wake-up, as an add does; pop one,
 * as a claim does. No scheduler, no records: the round trips alone.
 */
export const FLOOR_PUSH = "redis.call('LPUSH', KEYS[1], ARGV[1]) redis.call('PUBLISH', KEYS[2], 'wake') return 1";
export const FLOOR_POP = "return redis.call('RPOP', KEYS[1])";
