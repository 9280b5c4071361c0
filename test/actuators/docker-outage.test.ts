/**
 * The Docker daemon failing under running tasks (issue 11 item 6), on a private dockerd of its own (this
 * file stops it for good at the end): hung mid-task (SIGSTOP) and stopped mid-task (SIGTERM). Each time the
 * running attempt fails within a bounded time with an `ActuatorError` naming the daemon's socket, the
 * tasks follow their retry policy, and every task stays stored.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import {
	DockerActuator,
	type DockerActuatorOptions,
	type DockerOutput,
	type DockerTaskItem,
} from 'lightsched/actuators/docker';
import { containerExists, startDocker, type TestDocker } from '../support/docker.js';

let env: TestDocker;
let daemonPid: number;

beforeAll(async () => {
	env = await startDocker();
	daemonPid = Number(await readFile(join(env.dir, 'docker.pid'), 'utf8'));
}, 240_000);

afterAll(async () => {
	try {
		process.kill(daemonPid, 'SIGCONT');
	} catch {
		// Gone already (the last test stops it).
	}
	await env?.stop();
}, 60_000);

type Task = TaskRecord<DockerTaskItem, DockerOutput>;

function setup(options: DockerActuatorOptions): {
	scheduler: Scheduler<DockerTaskItem, DockerOutput>;
	actuator: DockerActuator;
	warnings: Error[];
} {
	const warnings: Error[] = [];
	const actuator = new DockerActuator({
		docker: { socketPath: env.socketPath },
		onError: (error) => warnings.push(error),
		...options,
	});
	const scheduler = new Scheduler<DockerTaskItem, DockerOutput>({
		container: new QueueContainer(),
		actuator,
		concurrency: 1,
		backoff: { type: 'fixed', delayMs: 10 },
	});
	scheduler.on('error', () => undefined);
	return { scheduler, actuator, warnings };
}

/** Resolves once the task's container runs (its ref is set and the engine says so). */
async function runningContainer(scheduler: Scheduler<DockerTaskItem, DockerOutput>, id: string): Promise<string> {
	for (;;) {
		const ref = (await scheduler.get(id))?.ref;
		if (typeof ref === 'string') {
			const info = await env.docker.getContainer(ref).inspect();
			if (info.State.Running) return ref;
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

/** The next `count` tasks to finish. */
async function nextFinished(stream: AsyncIterable<Task>, count: number): Promise<Task[]> {
	const out: Task[] = [];
	for await (const task of stream) {
		out.push(task);
		if (out.length === count) break;
	}
	return out;
}

const sleeper = (seconds: number): DockerTaskItem => ({ image: env.image, cmd: ['sleep', String(seconds)] });

describe('DockerActuator: the daemon fails under a running task', { timeout: 180_000 }, () => {
	it('hung (SIGSTOP): the attempt fails after a ping goes unanswered, naming the socket; the container is left and cleaned up later', async () => {
		const { scheduler, actuator } = setup({ requestTimeoutMs: 1_000, pingIntervalMs: 300 });
		const finished = scheduler.finished();
		await scheduler.add([
			{ id: 'hung', item: sleeper(120) },
			{ id: 'queued', item: sleeper(1) },
		]);
		const ref = await runningContainer(scheduler, 'hung');
		process.kill(daemonPid, 'SIGSTOP');
		let ended: Task[];
		try {
			ended = await nextFinished(finished, 2);
		} finally {
			process.kill(daemonPid, 'SIGCONT');
		}
		const [hung, queued] = [ended.find((t) => t.id === 'hung'), ended.find((t) => t.id === 'queued')];
		expect(hung?.status).toBe('failed');
		expect(hung?.error?.code).toBe('ERR_ACTUATOR');
		expect(hung?.error?.message).toBe(
			`The Docker daemon at unix://${env.socketPath} did not answer within 1000 ms while checking on it while containers run (is dockerd hung or overloaded?); container ${ref.slice(0, 12)} of task \`hung\` was left to the next attempt or cleanupOrphans`,
		);
		// The next task tried to create its container on the hung daemon: bounded too.
		expect(queued?.status).toBe('failed');
		expect(queued?.error?.message).toBe(
			`The Docker daemon at unix://${env.socketPath} did not answer within 1000 ms while creating the container for task \`queued\` (is dockerd hung or overloaded?)`,
		);
		expect((await scheduler.counts()).failed).toBe(2);
		await scheduler.close();
		// The daemon is back: the container left behind is an orphan of a finished task.
		expect(await containerExists(env.docker, ref)).toBe(true);
		const report = await actuator.cleanupOrphans({ getTask: (id) => (id === 'hung' ? (hung ?? null) : null) });
		expect(report.removed.map((c) => c.containerId)).toContain(ref);
		expect(await containerExists(env.docker, ref)).toBe(false);
	});

	it('stopped (SIGTERM): the attempt fails naming the socket, the waiting task fails by its retry policy, both stay stored', async () => {
		const { scheduler } = setup({ requestTimeoutMs: 5_000, pingIntervalMs: 1_000 });
		const retries: string[] = [];
		scheduler.on('task:retrying', ({ task, error }) => retries.push(`${task.id}: ${error.message}`));
		const finished = scheduler.finished();
		await scheduler.add({ id: 'running', item: sleeper(120), maxAttempts: 1 });
		await scheduler.add({ id: 'next', item: sleeper(1), maxAttempts: 2 });
		await runningContainer(scheduler, 'running');
		process.kill(daemonPid, 'SIGTERM');
		const ended = await nextFinished(finished, 2);
		const running = ended.find((t) => t.id === 'running');
		expect(running?.status).toBe('failed');
		expect(running?.error?.code).toBe('ERR_ACTUATOR');
		// Depending on how far the shutdown got: the wait broke off, or the daemon stopped the container (exit
		// code 143) and then stopped answering, or a ping found it gone.
		expect(running?.error?.message).toMatch(
			new RegExp(
				`^Cannot reach the Docker daemon at unix://${env.socketPath} while (waiting for container [0-9a-f]{12} of task \`running\`|container [0-9a-f]{12} of task \`running\` ran \\(it ended with exit code (?:137|143)\\)|checking on it while containers run): `,
			),
		);
		const next = ended.find((t) => t.id === 'next');
		expect(next?.status).toBe('failed');
		expect(next?.attempts).toBe(2);
		// Refused by the daemon while it shut down (an HTTP 500 from its containerd going away), or unreachable.
		expect(next?.error?.message).toContain(`unix://${env.socketPath}`);
		expect(retries).toHaveLength(1);
		expect(retries[0]).toMatch(/^next: /);
		expect(retries[0]).toContain(`unix://${env.socketPath}`);
		expect((await scheduler.get('running'))?.status).toBe('failed');
		expect((await scheduler.get('next'))?.status).toBe('failed');
		await scheduler.close();
	});
});
