/**
 * The fast tier for the edit loop (`npm run test:unit`): tests that start no server (no redis-server, PostgreSQL,
 * pgbouncer, dockerd, ffmpeg or Chromium) and need no root. In-process SQLite is allowed (it is a file, not a
 * server); SQLite shared across processes is not. The model-based test runs on the memory containers only
 * (MODEL_CONTAINERS). `npm test` (vitest.config.ts) stays the full suite the README and CI run. A test whose waits
 * are timers of its own process runs on the fake clock (test/support/fake-clock.ts; docs/testing.md, "Fake timers").
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
	resolve: { conditions: ['lightsched:source'] },
	ssr: { resolve: { conditions: ['lightsched:source'] } },
	test: {
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
		// These tests mostly wait on timers, not on the CPU: more workers than cores keeps the tier under 30 s.
		maxWorkers: 6,
		// An explicit list (not a glob minus exclusions): a new test file joins the fast tier only when someone
		// has checked it starts no server.
		include: [
			'test/scheduler/close.test.ts',
			'test/scheduler/concurrency.test.ts',
			'test/scheduler/event-types.test.ts',
			'test/scheduler/finished.test.ts',
			'test/scheduler/isolation.test.ts',
			'test/scheduler/lost-claim.test.ts',
			'test/scheduler/lost-reply.test.ts',
			'test/scheduler/outage.test.ts',
			'test/scheduler/outcome-write-retry.test.ts',
			'test/scheduler/persistencer.test.ts',
			'test/scheduler/retry.test.ts',
			'test/scheduler/robustness.test.ts',
			'test/scheduler/running-attempts.test.ts',
			'test/scheduler/timeout.test.ts',
			'test/scheduler/unknown-hand-back.test.ts',
			'test/scheduler/validation.test.ts',
			'test/scheduler/writer-refusals.test.ts',
			'test/scheduler/queue-operations.test.ts',
			'test/scheduler/repeats.test.ts',
			'test/scheduler/dedup-keys.test.ts',
			'test/scheduler/task-logs.test.ts',
			'test/tracing/in-process.test.ts',
			'test/tracing/stored-trace.test.ts',
			'test/actuators/http-logs.test.ts',
			'test/operations/wait-for.test.ts',
			'test/errors/error-family.test.ts',
			'test/containers/memory.test.ts',
			'test/containers/redis-codec.test.ts',
			'test/actuators/docker-units.test.ts',
			'test/actuators/docker-hung-daemon.test.ts',
			'test/actuators/option-names.test.ts',
			'test/actuators/http.test.ts',
			'test/actuators/http-outage.test.ts',
			'test/actuators/http-contract.test.ts',
			'test/workflows/commands.test.ts',
			'test/workflows/definitions.test.ts',
			'test/workflows/engine.test.ts',
			'test/workflows/memory-store.test.ts',
			'test/workflows/takeover.test.ts',
			'test/model/model.test.ts',
			'test/examples/video-cut-media.test.ts',
			'test/examples/custom-container.test.ts',
		],
		// The model-based test on the memory containers only (the others need servers).
		env: { MODEL_CONTAINERS: 'queue,ordered-map,queue(sync),ordered-map(sync)' },
	},
});
