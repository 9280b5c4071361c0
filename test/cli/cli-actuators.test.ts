/**
 * `lightsched worker --docker` and `worker --http` as child processes on SQLite: the Docker one against the
 * private dockerd of test/support/docker.ts (found through DOCKER_HOST), the HTTP one against the real job service
 * of test/actuators/job-service.ts; each task's output and its log lines (`lightsched logs`) read back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDocker, type TestDocker } from '../support/docker.js';
import { startJobService, type JobService } from '../actuators/job-service.js';
import { cliProcesses } from './cli-process.js';

const { start, cli } = await cliProcesses();
const dir = mkdtempSync(join(tmpdir(), 'lightsched-cli-actuators-'));
let docker: TestDocker;
let service: JobService;

beforeAll(async () => {
	[docker, service] = await Promise.all([startDocker(), startJobService()]);
}, 240_000);
afterAll(async () => {
	await service?.kill();
	await docker?.stop();
	rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface Task {
	readonly status: string;
	readonly output: { stdout?: string; exitCode?: number } | null;
}

/** `send --wait --json` of `item` given as fields, with a worker running meanwhile. */
async function sendAndWait(c: string[], fields: string[]): Promise<Task> {
	const sent = await cli([...c, 'send', '--id', 't1', ...fields, '--wait', '--json']);
	expect(sent.err).toBe('');
	expect(sent.code).toBe(0);
	return JSON.parse(sent.out) as Task;
}

describe('lightsched worker with other actuators', () => {
	it('--docker runs each item as a container; its stdout and stderr lines are the task log', async () => {
		const c = ['--container', `sqlite:${join(dir, 'docker.sqlite')}`];
		const worker = start([...c, 'worker', '--docker', '--concurrency', '2'], {
			DOCKER_HOST: `unix://${docker.socketPath}`,
		});
		const task = await sendAndWait(c, [
			'--image',
			docker.image,
			'--cmd',
			JSON.stringify(['sh', '-c', 'echo from-container; echo oops >&2']),
		]);
		expect(task.status).toBe('succeeded');
		expect(task.output?.stdout).toBe('from-container\n');
		const logs = await cli([...c, 'logs', 't1']);
		expect(logs.code).toBe(0);
		expect(logs.out).toContain('from-container');
		expect(logs.out).toContain('[stderr] oops');
		worker.kill('SIGINT');
		expect(await worker.exited).toBe(0);
	}, 120_000);

	it("--http <module> takes the HttpActuator's options from the module; the job's lines are the task log", async () => {
		const c = ['--container', `sqlite:${join(dir, 'http.sqlite')}`];
		const options = join(dir, 'service.mjs');
		writeFileSync(
			options,
			`export default {
	baseUrl: ${JSON.stringify(service.url)},
	start: { path: '/jobs' },
	status: { path: '/jobs/{ref}' },
	output: { path: '/jobs/{ref}/output', map: (body) => body.output },
	stop: { path: '/jobs/{ref}/stop' },
};\n`,
		);
		const worker = start([...c, 'worker', '--http', options]);
		const task = await sendAndWait(c, [
			'--durationMs',
			'300',
			'--output',
			'{"file":"out.mp4"}',
			'--logs',
			'["cutting","done"]',
		]);
		expect(task).toMatchObject({ status: 'succeeded', output: { file: 'out.mp4' } });
		const logs = await cli([...c, 'logs', 't1', '--json']);
		expect((JSON.parse(logs.out) as { lines: string[] }).lines).toEqual(['cutting', 'done']);
		worker.kill('SIGINT');
		expect(await worker.exited).toBe(0);
	}, 120_000);
});
