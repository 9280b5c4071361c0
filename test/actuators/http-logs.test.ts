/**
 * HttpActuator task logs: the job's log lines read from the status answers (`logsFrom` asked, `logs` answered)
 * against a real HTTP job service (test/actuators/job-service.ts), stored by a SQLite SqlContainer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { HttpActuator, type HttpActuatorOptions, type HttpStatusOptions } from 'lightsched/actuators/http';
import { startJobService, type JobService, type JobSpec } from './job-service.js';

let dir: string;
let counter = 0;
const services: JobService[] = [];
const schedulers: Scheduler<JobSpec, unknown>[] = [];

beforeAll(async () => {
	dir = await mkdtemp(join(tmpdir(), 'lightsched-http-logs-'));
});

afterEach(async () => {
	for (const scheduler of schedulers.splice(0)) await scheduler.close();
	for (const service of services.splice(0)) await service.kill().catch(() => undefined);
});

afterAll(async () => {
	if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function setup(
	status: Partial<HttpStatusOptions<JobSpec, unknown>> = {},
): Promise<{ svc: JobService; scheduler: Scheduler<JobSpec, unknown> }> {
	const svc = await startJobService();
	services.push(svc);
	const options: HttpActuatorOptions<JobSpec, unknown> = {
		baseUrl: svc.url,
		start: { path: '/jobs' },
		status: { path: '/jobs/{ref}', ...status },
		stop: { path: '/jobs/{ref}/stop' },
		retryDelayMs: 20,
	};
	const scheduler = new Scheduler<JobSpec, unknown>({
		container: new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename: join(dir, `db-${++counter}.sqlite`) } },
		}),
		actuator: new HttpActuator(options),
		pollIntervalMs: 30,
	});
	scheduler.on('error', () => undefined);
	schedulers.push(scheduler);
	return { svc, scheduler };
}

async function run(s: Scheduler<JobSpec, unknown>, item: JobSpec): Promise<TaskRecord<JobSpec, unknown>> {
	const finished = s.finished();
	const added = await s.add({ item });
	for await (const task of finished) if (task.id === added.id) return task;
	throw new Error('scheduler closed before the task finished');
}

const numbered = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

describe('HttpActuator: task logs', () => {
	it('forwards the job lines from the status answers, each once and in order, asking only for new ones', async () => {
		const { svc, scheduler } = await setup();
		const logs = numbered(20);
		const task = await run(scheduler, { durationMs: 2500, logs });
		expect(task.status).toBe('succeeded');
		const page = await scheduler.getLogs(task.id, { offset: 0, limit: 100 });
		expect(page.lines).toEqual(logs);
		const asked = svc.logsFromAsked;
		expect(asked[0]).toBe(0);
		expect(asked.every((n, i) => i === 0 || n >= (asked[i - 1] as number))).toBe(true);
		// Read over several polls while the job ran, not all at the end.
		expect(asked.some((n) => n > 0 && n < logs.length)).toBe(true);
	});

	it('skips the lines already received when the service answers every line each time (logsFrom: 0)', async () => {
		const { scheduler } = await setup();
		const logs = numbered(12);
		const task = await run(scheduler, { durationMs: 800, logs, logsMode: 'all' });
		expect(task.status).toBe('succeeded');
		expect((await scheduler.getLogs(task.id)).lines).toEqual(logs);
	});

	it('keeps the lines of a job that failed', async () => {
		const { scheduler } = await setup();
		const task = await run(scheduler, { durationMs: 200, logs: ['reading', 'no space left'], fail: 'disk full' });
		expect(task.status).toBe('failed');
		expect((await scheduler.getLogs(task.id)).lines).toEqual(['reading', 'no space left']);
	});

	it('status.logs: false sends no logsFrom and stores no lines; a function reads another shape', async () => {
		const off = await setup({ logs: false });
		const quiet = await run(off.scheduler, { durationMs: 200, logs: ['a', 'b'] });
		expect(quiet.status).toBe('succeeded');
		expect(off.svc.logsFromAsked).toEqual([]);
		expect((await off.scheduler.getLogs(quiet.id)).lines).toEqual([]);

		const custom = await setup({
			logs: (body) => {
				const { logs } = body as { logs?: string[] };
				return logs === undefined ? undefined : { lines: logs.map((line) => `job: ${line}`) };
			},
		});
		const task = await run(custom.scheduler, { durationMs: 300, logs: ['a', 'b', 'c'] });
		expect((await custom.scheduler.getLogs(task.id)).lines).toEqual(['job: a', 'job: b', 'job: c']);
	});

	it('fails the attempt naming the URL when the answer has logs of the wrong shape', async () => {
		const { svc, scheduler } = await setup();
		const task = await run(scheduler, { durationMs: 100, logs: [1, 2] as unknown as string[] });
		expect(task.status).toBe('failed');
		expect(task.error?.message).toMatch(
			new RegExp(
				`^GET ${svc.url}/jobs/job-1: unexpected status answer: Expected \`logs\` to be an array of strings, got an array \\(\\d+ items?\\)$`,
			),
		);
		expect(() => new HttpActuator({ ...jobLike(svc.url), status: { path: '/x', logs: 'yes' as never } })).toThrow(
			/Expected `status.logs` to be a boolean or a function, got "yes" \(string\)/,
		);
	});
});

function jobLike(url: string): HttpActuatorOptions<JobSpec, unknown> {
	return {
		baseUrl: url,
		start: { path: '/jobs' },
		status: { path: '/jobs/{ref}' },
		stop: { path: '/jobs/{ref}/stop' },
	};
}
