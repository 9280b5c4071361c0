/**
 * The two workflow shapes every workflow bench runs (bench/workflows.ts, bench/workflows-redis-commands.ts,
 * bench/sqlite-step-pages.ts and the A/B benches), 10 no-op steps each.
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
