/**
 * HttpActuator against a real HTTP job service (node:http on a random loopback port), run through a real
 * Scheduler and QueueContainer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActuatorError, Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { HttpActuator, HttpStatusError, type HttpActuatorOptions } from 'lightsched/actuators/http';
import { freePort, startJobService, type JobService, type JobSpec } from './job-service.js';

const services: JobService[] = [];
const schedulers: Scheduler<JobSpec, unknown>[] = [];

afterEach(async () => {
	for (const scheduler of schedulers.splice(0)) await scheduler.close();
	for (const service of services.splice(0)) await service.kill().catch(() => undefined);
});

async function service(): Promise<JobService> {
	const started = await startJobService();
	services.push(started);
	return started;
}

function jobOptions(
	url: string,
	extra: Partial<HttpActuatorOptions<JobSpec, unknown>> = {},
): HttpActuatorOptions<JobSpec, unknown> {
	return {
		baseUrl: url,
		start: { path: '/jobs' },
		status: { path: (ref) => `/jobs/${ref}` },
		output: { path: '/jobs/{ref}/output', map: (body) => (body as { output: unknown }).output },
		stop: { path: (ref) => `/jobs/${ref}/stop` },
		retryDelayMs: 20,
		...extra,
	};
}

function scheduler(
	actuator: HttpActuator<JobSpec, unknown>,
	extra: { timeoutMs?: number; maxAttempts?: number } = {},
): Scheduler<JobSpec, unknown> {
	const made = new Scheduler<JobSpec, unknown>({
		container: new QueueContainer(),
		actuator,
		pollIntervalMs: 20,
		backoff: { type: 'fixed', delayMs: 10 },
		...extra,
	});
	made.on('error', () => undefined);
	schedulers.push(made);
	return made;
}

/** Add one task and wait for its final record. */
async function run(s: Scheduler<JobSpec, unknown>, item: JobSpec): Promise<TaskRecord<JobSpec, unknown>> {
	const finished = s.finished();
	const added = await s.add({ item });
	for await (const task of finished) if (task.id === added.id) return task;
	throw new Error('scheduler closed before the task finished');
}

describe('HttpActuator', () => {
	it('runs a remote job to success, passes progress through and fetches the output', async () => {
		const svc = await service();
		const s = scheduler(new HttpActuator(jobOptions(svc.url)));
		const progress: unknown[] = [];
		s.on('task:progress', ({ progress: p }) => progress.push(p));
		const task = await run(s, { durationMs: 1500, output: { file: 'out.mp4' } });
		expect(task.status).toBe('succeeded');
		expect(task.output).toEqual({ file: 'out.mp4' });
		expect(task.ref).toBe('job-1');
		expect(progress.length).toBeGreaterThan(0);
		expect(progress.every((p) => typeof p === 'number' && p >= 0 && p <= 1)).toBe(true);
		expect(svc.requests).toContain('POST /jobs');
		expect(svc.requests).toContain('GET /jobs/job-1/output');
	});

	it('takes the output from the status answer when it carries one, and sends the configured headers and body', async () => {
		const svc = await service();
		const s = scheduler(
			new HttpActuator<JobSpec, unknown>({
				...jobOptions(svc.url),
				start: { path: () => '/jobs', body: (item) => ({ ...item, durationMs: 50 }) },
				mapStatus: (body) => {
					const b = body as { status: string };
					return b.status === 'succeeded'
						? { state: 'succeeded', output: 'from-status' }
						: { state: 'running' };
				},
				headers: { Authorization: 'Bearer t0ken' },
			}),
		);
		const task = await run(s, { durationMs: 10_000 });
		expect(task.status).toBe('succeeded');
		expect(task.output).toBe('from-status');
		expect(svc.lastHeaders.authorization).toBe('Bearer t0ken');
		expect(svc.requests.some((r) => r.endsWith('/output'))).toBe(false);
	});

	it('fails the task with the reason the service gives when the remote job fails', async () => {
		const svc = await service();
		const s = scheduler(new HttpActuator(jobOptions(svc.url)));
		const task = await run(s, { durationMs: 50, fail: 'codec not found' });
		expect(task.status).toBe('failed');
		expect(task.error?.code).toBe('ERR_ACTUATOR');
		expect(task.error?.message).toContain('codec not found');
	});

	it('fails a start that hangs after the request timeout, without sending it twice', async () => {
		const svc = await service();
		svc.behaviour = 'hang';
		const s = scheduler(new HttpActuator(jobOptions(svc.url, { timeoutMs: 300 })));
		const task = await run(s, {});
		expect(task.status).toBe('failed');
		expect(task.error?.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/jobs timed out after 300 ms/);
		expect(svc.requests.filter((r) => r === 'POST /jobs')).toHaveLength(1);
	});

	it('aborts a start request in flight when the task is stopped', async () => {
		const svc = await service();
		svc.behaviour = 'hang';
		const s = scheduler(new HttpActuator(jobOptions(svc.url, { timeoutMs: 60_000 })));
		const added = await s.add({ item: {} });
		while (!svc.requests.includes('POST /jobs')) await new Promise((resolve) => setTimeout(resolve, 10));
		const stopped = await s.stop(added.id);
		expect(stopped.status).toBe('stopped');
		while (svc.abandoned === 0) await new Promise((resolve) => setTimeout(resolve, 10));
		expect(svc.requests).toEqual(['POST /jobs']);
	});

	it('fails the task when status requests keep timing out', async () => {
		const svc = await service();
		const s = scheduler(
			new HttpActuator(jobOptions(svc.url, { timeoutMs: 400, retries: 0, maxStatusFailures: 3 })),
		);
		const finished = s.finished();
		const polled = new Promise<void>((resolve) => s.once('task:progress', () => resolve()));
		await s.add({ item: { durationMs: 60_000 } });
		await polled;
		svc.behaviour = 'status-hang';
		const { value: task } = (await finished.next()) as { value: TaskRecord };
		expect(task.status).toBe('failed');
		expect(task.error?.message).toContain('unreachable for 3 status polls');
		expect(task.error?.message).toContain('timed out after 400 ms');
	});

	it('fails clearly when the service answers garbage or no id', async () => {
		const svc = await service();
		const s = scheduler(new HttpActuator(jobOptions(svc.url)));
		svc.behaviour = 'garbage';
		const garbage = await run(s, {});
		expect(garbage.status).toBe('failed');
		expect(garbage.error?.message).toMatch(
			/POST http:\/\/127\.0\.0\.1:\d+\/jobs answered HTTP 202 with a body that is not JSON: "\{\\"id\\": \\"job-"/,
		);
		svc.behaviour = 'no-id';
		const noId = await run(s, {});
		expect(noId.status).toBe('failed');
		expect(noId.error?.message).toMatch(/\/jobs: Expected the answer to have an `id`/);
		svc.behaviour = 'normal';
		const finished = s.finished();
		const polled = new Promise<void>((resolve) => s.once('task:progress', () => resolve()));
		const started = await s.add({ item: { durationMs: 60_000 } });
		await polled;
		svc.behaviour = 'status-garbage';
		const { value: bad } = (await finished.next()) as { value: TaskRecord };
		expect(bad.id).toBe(started.id);
		expect(bad.status).toBe('failed');
		expect(bad.error?.message).toMatch(
			/GET http:\/\/127\.0\.0\.1:\d+\/jobs\/job-1: unexpected status answer: Expected `status` to be 'running', 'succeeded' or 'failed', got undefined/,
		);
	});

	it('fails at once on a 500 answer, naming the URL and the status, and does not retry it', async () => {
		const svc = await service();
		svc.behaviour = 'error500';
		const s = scheduler(new HttpActuator(jobOptions(svc.url)));
		const task = await run(s, {});
		expect(task.status).toBe('failed');
		expect(task.error?.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/jobs answered HTTP 500: "disk full"/);
		expect(svc.requests).toEqual(['POST /jobs']);
	});

	it('exposes the status of a non-2xx answer, retries it per the scheduler policy, or not with nonRetryableStatus', async () => {
		const svc = await service();
		svc.behaviour = 'error500';
		const actuator = new HttpActuator(jobOptions(svc.url));
		const ctx = {
			signal: new AbortController().signal,
			owner: 't',
			progress: () => undefined,
			done: () => undefined,
		};
		const error: unknown = await actuator
			.start({ id: 'x', item: {} } as TaskRecord<JobSpec, unknown>, ctx)
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(HttpStatusError);
		expect(error).toBeInstanceOf(ActuatorError);
		expect(error).toMatchObject({
			status: 500,
			method: 'POST',
			url: `${svc.url}/jobs`,
			detail: 'disk full',
			code: 'ERR_ACTUATOR',
		});

		const retried = scheduler(new HttpActuator(jobOptions(svc.url)), { maxAttempts: 3 });
		expect((await run(retried, {})).attempts).toBe(3);
		const final = scheduler(
			new HttpActuator(
				jobOptions(svc.url, { nonRetryableStatus: (status, call) => call === 'start' && status >= 500 }),
			),
			{ maxAttempts: 3 },
		);
		const task = await run(final, {});
		expect(task.attempts).toBe(1);
		expect(task.error?.code).toBe('ERR_NON_RETRYABLE');
		expect(task.error?.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/jobs answered HTTP 500: "disk full"/);
		expect(svc.requests.filter((r) => r === 'POST /jobs')).toHaveLength(5);
	});

	it('fails the task after maxStatusFailures polls when the service dies mid-task', async () => {
		const svc = await service();
		const s = scheduler(new HttpActuator(jobOptions(svc.url, { retries: 1, maxStatusFailures: 3 })));
		const finished = s.finished();
		const started = new Promise<void>((resolve) => s.once('task:progress', () => resolve()));
		await s.add({ item: { durationMs: 60_000 } });
		await started;
		await svc.kill();
		const { value: task } = (await finished.next()) as { value: TaskRecord };
		expect(task.status).toBe('failed');
		expect(task.error?.message).toMatch(
			/unreachable for 3 status polls in a row: GET http:\/\/127\.0\.0\.1:\d+\/jobs\/job-1 failed: ECONNREFUSED/,
		);
	});

	it('retries a start refused because the service is not up yet', async () => {
		const port = await freePort();
		const s = scheduler(new HttpActuator(jobOptions(`http://127.0.0.1:${port}`, { retries: 5, retryDelayMs: 50 })));
		const late = new Promise<JobService>((resolve) => setTimeout(() => resolve(startJobService(port)), 200));
		const task = run(s, { durationMs: 20, output: 42 });
		services.push(await late);
		expect((await task).status).toBe('succeeded');
		expect((await task).output).toBe(42);
	});

	it('calls the service stop when the task is stopped, and on a scheduler timeout', async () => {
		const svc = await service();
		const s = scheduler(new HttpActuator(jobOptions(svc.url)));
		const started = new Promise<void>((resolve) => s.once('task:progress', () => resolve()));
		const added = await s.add({ item: { durationMs: 60_000 } });
		await started;
		const stopped = await s.stop(added.id);
		expect(stopped.status).toBe('stopped');
		expect(svc.requests).toContain('POST /jobs/job-1/stop');
		expect(svc.jobs.get('job-1')?.stopped).toBe(true);

		const timed = scheduler(new HttpActuator(jobOptions(svc.url)), { timeoutMs: 300 });
		const task = await run(timed, { durationMs: 60_000 });
		expect(task.status).toBe('failed');
		expect(task.error?.code).toBe('ERR_TASK_TIMEOUT');
		expect(svc.jobs.get('job-2')?.stopped).toBe(true);
	});

	it('rejects bad options with a TypeError naming the option', () => {
		const good = jobOptions('http://127.0.0.1:1');
		expect(() => new HttpActuator({ ...good, baseUrl: 'not a url' })).toThrow(/`baseUrl`/);
		expect(() => new HttpActuator({ ...good, timeoutMs: -1 })).toThrow(
			/`timeoutMs` to be an integer >= 1, got -1 \(number\)/,
		);
		expect(() => new HttpActuator({ ...good, maxStatusFailures: 0 })).toThrow(/`maxStatusFailures`/);
		expect(() => new HttpActuator({ ...good, stop: { path: '' } })).toThrow(/`stop.path`/);
		expect(() => new HttpActuator({ ...good, start: { path: '/x', method: 'PO ST' } })).toThrow(/`start.method`/);
	});

	it('reports each task of a batch poll on its own', async () => {
		const svc = await service();
		const actuator = new HttpActuator(jobOptions(svc.url));
		const ctx = {
			signal: new AbortController().signal,
			owner: 't',
			progress: () => undefined,
			done: () => undefined,
		};
		const base = { item: { durationMs: 10_000 } } as TaskRecord<JobSpec, unknown>;
		const one = await actuator.start({ ...base, id: 'a' }, ctx);
		const statuses = await actuator.status([
			{ ...base, id: 'a', ref: one.ref },
			{ ...base, id: 'b', ref: 'job-404' },
		]);
		expect(statuses[0]?.state).toBe('running');
		expect(statuses[1]?.state).toBe('failed');
		const error = (statuses[1] as { error: Error }).error;
		expect(error).toBeInstanceOf(ActuatorError);
		expect(error.message).toMatch(
			/GET http:\/\/127\.0\.0\.1:\d+\/jobs\/job-404 answered HTTP 404: "no job at \/jobs\/job-404"/,
		);
	});
});
