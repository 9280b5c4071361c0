import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	resolve: { conditions: ['lightsched:source'] },
	ssr: { resolve: { conditions: ['lightsched:source'] } },
	test: {
		include: ['test/**/*.test.ts'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
		// At least two files at a time (vitest's default, one per core minus one, is one at a time on a two-core
		// machine): most files wait on servers, child processes and timers, not on the CPU. On two cores the whole
		// suite passed two at a time at a load average of 8 to 12 (docs/testing.md, "Time").
		maxWorkers: Math.max(2, availableParallelism() - 1),
	},
});
