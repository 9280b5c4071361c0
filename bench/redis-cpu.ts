/** redis-server's CPU time so far (user + system, all its threads), in µs, from `INFO cpu`; `NaN` when not reported. */
import type { Redis } from 'ioredis';

export async function redisCpuUs(redis: Redis): Promise<number> {
	const info = await redis.info('cpu');
	const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
	return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}
