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
		// vitest's default, one file per core minus one (one at a time on two cores). Two at a time took CI from
		// 22-24 to 16 minutes but let timing-sensitive fault tests flake under the doubled load (docs/testing.md, "Time").
		maxWorkers: Math.max(1, availableParallelism() - 1),
	},
});
