/**
 * The two workflow shapes the workflow A/B benches run (bench/workflows-memory-ab.ts, bench/workflows-redis-ab.ts),
 * 10 no-op steps each, and the median they report.
 */
import type { StepDefinition } from 'lightsched/workflows';

/** A 10-step chain: each step depends on the one before. */
export const CHAIN: StepDefinition[] = Array.from({ length: 10 }, (_, i) => ({
	id: `s${i}`,
	action: 'noop',
	...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
}));

/** A 1 -> 8 -> 1 fan-out/join. */
export const FAN_OUT_JOIN: StepDefinition[] = [
	{ id: 'root', action: 'noop' },
	...Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, action: 'noop', dependsOn: ['root'] })),
	{ id: 'join', action: 'noop', dependsOn: Array.from({ length: 8 }, (_, i) => `b${i}`) },
];

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 === 1
		? (sorted[mid] as number)
		: ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
