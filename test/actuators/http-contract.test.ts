/**
 * HttpActuator through the actuator contract, against the real job service of `job-service.ts` (node:http on a
 * random loopback port, one for the file). Each long job carries a token so the probes find it on the service.
 */
import { afterAll, beforeAll } from 'vitest';
import { HttpActuator } from 'lightsched/actuators/http';
import { actuatorContract } from '../contracts/actuator.contract.js';
import { sleep } from '../support/scheduler.js';
import { startJobService, type JobService, type JobSpec } from './job-service.js';

let svc: JobService;

beforeAll(async () => {
	svc = await startJobService();
});

afterAll(async () => {
	await svc?.kill();
});

/** The service's job for a token (the long items' `output`). */
const jobOf = (token: string): { id: string; stopped: boolean } | undefined =>
	[...svc.jobs.values()].find((job) => job.spec.output === token);

let tokens = 0;

actuatorContract<JobSpec, unknown>(
	'HttpActuator',
	() => ({
		actuator: () =>
			new HttpActuator<JobSpec, unknown>({
				baseUrl: svc.url,
				start: { path: '/jobs' },
				status: { path: '/jobs/{ref}' },
				output: { path: '/jobs/{ref}/output', map: (body) => (body as { output: unknown }).output },
				stop: { path: '/jobs/{ref}/stop' },
				retryDelayMs: 20,
			}),
		schedulerOptions: { pollIntervalMs: 20 },
		succeeds: { item: { durationMs: 30, output: { file: 'out.mp4' } }, output: { file: 'out.mp4' } },
		fails: { item: { durationMs: 30, fail: 'codec not found' }, message: 'The remote job failed: codec not found' },
		long: () => {
			const token = `long-${++tokens}`;
			return {
				item: { durationMs: 600_000, output: token },
				// The job exists on the service and the scheduler has its id as the task's ref. (A job the service created
				// whose start answer is still on its way is a start in flight, which an HTTP stop cannot reach: see
				// `stopWhileStarting` below.)
				running: async (_task, current) => {
					for (;;) {
						const job = jobOf(token);
						if (job !== undefined && (await current())?.ref === job.id) return;
						await sleep(5);
					}
				},
				// No job of this work runs: none was created, or the service was told to stop it (it reports it stopped),
				// the one the task's ref names.
				workGone: (task) => {
					const job = jobOf(token);
					return job === undefined || (job.stopped && task.ref === job.id);
				},
			};
		},
		timeoutMs: 1_000,
		progress: { item: { durationMs: 1_000, output: 'with progress' } },
	}),
	{ progress: true, init: false, stopWhileStarting: false },
);
