/**
 * The Docker actuator against a real dockerd started by the setup (no bridge network, no NAT rules; the
 * test image is built locally from busybox-static), through a real Scheduler with a QueueContainer.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidTaskError, Scheduler, type SchedulerOptions, type TaskRecord } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { QueueContainer } from 'lightsched/containers/queue';
import {
	DockerActuator,
	type DockerActuatorOptions,
	type DockerOutput,
	type DockerTaskItem,
} from 'lightsched/actuators/docker';
import { containerExists, startDocker, type TestDocker } from '../support/docker.js';
import { startRegistry } from '../support/registry.js';

let env: TestDocker;
const open: Scheduler<DockerTaskItem, DockerOutput>[] = [];
let counter = 0;

beforeAll(async () => {
	env = await startDocker();
}, 240_000);

afterEach(async () => {
	await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
	await env?.stop();
}, 60_000);

/** A scheduler over a fresh queue and a Docker actuator with its own `schedulerId`. */
function setup(
	actuatorOptions: DockerActuatorOptions = {},
	schedulerOptions: Partial<SchedulerOptions<DockerTaskItem, DockerOutput>> = {},
): {
	scheduler: Scheduler<DockerTaskItem, DockerOutput>;
	actuator: DockerActuator;
	container: QueueContainer;
	schedulerId: string;
} {
	const schedulerId = `test-${process.pid}-${++counter}`;
	const actuator = new DockerActuator({ docker: { socketPath: env.socketPath }, schedulerId, ...actuatorOptions });
	const container = new QueueContainer();
	const scheduler = new Scheduler<DockerTaskItem, DockerOutput>({
		container,
		actuator,
		concurrency: 2,
		...schedulerOptions,
	});
	scheduler.on('error', () => undefined);
	open.push(scheduler);
	return { scheduler, actuator, container, schedulerId };
}

/** Resolves with the task once it reaches a final status. */
async function finished(
	scheduler: Scheduler<DockerTaskItem, DockerOutput>,
	id: string,
): Promise<TaskRecord<DockerTaskItem, DockerOutput>> {
	const stream = scheduler.finished();
	const now = await scheduler.get(id);
	if (now !== null && ['succeeded', 'failed', 'stopped'].includes(now.status)) return now;
	for await (const task of stream) if (task.id === id) return task;
	throw new Error(`scheduler closed before task ${id} finished`);
}

const exists = (id: string): Promise<boolean> => containerExists(env.docker, id);

interface EngineEvent {
	readonly Action: string;
	readonly id: string;
	readonly Actor: { readonly Attributes: Record<string, string> };
}

/** The engine's container events for one label, as they happen (a stream, not polling). */
async function engineEvents(
	label: string,
): Promise<{ events: EngineEvent[]; next(action: string): Promise<EngineEvent>; close(): void }> {
	const stream = (await env.docker.getEvents({
		filters: { type: ['container'], label: [label] },
	})) as NodeJS.ReadableStream & { destroy(): void };
	// Closing the stream (or the engine stopping) aborts the request: expected, not a failure.
	stream.on('error', () => undefined);
	const events: EngineEvent[] = [];
	const waiters: { action: string; resolve: (e: EngineEvent) => void }[] = [];
	createInterface({ input: stream }).on('line', (line) => {
		if (line.trim().length === 0) return;
		const event = JSON.parse(line) as EngineEvent;
		events.push(event);
		for (const waiter of [...waiters]) {
			if (waiter.action === event.Action) {
				waiters.splice(waiters.indexOf(waiter), 1);
				waiter.resolve(event);
			}
		}
	});
	return {
		events,
		next: (action) =>
			new Promise((resolve) => {
				const seen = events.find((e) => e.Action === action);
				if (seen) resolve(seen);
				else waiters.push({ action, resolve });
			}),
		close: () => stream.destroy(),
	};
}

const sh = (script: string): string[] => ['sh', '-c', script];

describe('DockerActuator: items', { timeout: 180_000 }, () => {
	it('rejects a bad item at add with an error naming the field, and stores nothing', async () => {
		const { scheduler } = setup();
		const image = env.image;
		const cases: [unknown, RegExp][] = [
			[{ image, memory: 'lots' }, /Expected `item\.memory` to be a number of bytes or a size such as '64m'/],
			[{ image, memory: '1m' }, /`item\.memory`.*at least 6 MiB/],
			[{ image, cmd: 'echo hi' }, /Expected `item\.cmd` to be a non-empty array of strings/],
			[{ image, cpus: 0 }, /`item\.cpus`/],
			[{ image, pidsLimit: 1.5 }, /`item\.pidsLimit` to be an integer >= 1/],
			[{ image, env: { A: {} } }, /`item\.env\.A` to be a string, number or boolean/],
			[{ image, binds: { 'relative/dir': '/data' } }, /`item\.binds\["relative\/dir"\]`.*absolute host path/],
			[{ image, labels: { 'lightsched.task': 'x' } }, /`item\.labels`.*reserved/],
			[{ image, privileged: true }, /`item\.privileged` to be absent \(not a Docker item field/],
			[{ cmd: ['true'] }, /Expected `item\.image` to be an image reference/],
			['busybox', /Expected `item` to be an object/],
		];
		for (const [item, message] of cases) {
			const error = await scheduler.add({ item: item as DockerTaskItem }).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(InvalidTaskError);
			expect((error as Error).message).toMatch(message);
		}
		expect((await scheduler.counts()).waiting).toBe(0);
	});

	it('creates the container with the item settings, the labels, network none and no privileges', async () => {
		const { scheduler, schedulerId } = setup({ keepContainers: true });
		const task = await scheduler.add({
			id: 'settings',
			item: {
				image: env.image,
				cmd: sh('echo "$GREETING from $(pwd)"; id -u'),
				env: { GREETING: 'hello' },
				workingDir: '/tmp',
				memory: '64m',
				cpus: 0.5,
				pidsLimit: 50,
				user: '1000:1000',
				labels: { team: 'video' },
				binds: { [env.dir]: '/host:ro' },
				name: `lightsched-settings-${process.pid}`,
			},
		});
		const done = await finished(scheduler, task.id);
		expect(done.status).toBe('succeeded');
		expect(done.output?.stdout).toBe('hello from /tmp\n1000\n');
		const info = await env.docker.getContainer(done.ref as string).inspect();
		expect(info.Name).toBe(`/lightsched-settings-${process.pid}`);
		expect(info.Config.Labels).toMatchObject({
			team: 'video',
			'lightsched.task': 'settings',
			'lightsched.owner': scheduler.id,
			'lightsched.scheduler': schedulerId,
		});
		expect(info.HostConfig).toMatchObject({
			NetworkMode: 'none',
			Privileged: false,
			Memory: 64 * 1024 * 1024,
			MemorySwap: 64 * 1024 * 1024,
			NanoCpus: 500_000_000,
			PidsLimit: 50,
			Binds: [`${env.dir}:/host:ro`],
		});
		expect(info.Config.User).toBe('1000:1000');
		await env.docker.getContainer(info.Id).remove({ force: true });
	});
});

describe('DockerActuator: running', { timeout: 180_000 }, () => {
	it('succeeds with the exit code and the demultiplexed stdout and stderr, then removes the container', async () => {
		const { scheduler } = setup();
		await scheduler.add({ id: 'ok', item: { image: env.image, cmd: sh('echo hello; echo oops >&2; echo world') } });
		const task = await finished(scheduler, 'ok');
		expect(task.status).toBe('succeeded');
		expect(task.output).toEqual({
			exitCode: 0,
			stdout: 'hello\nworld\n',
			stderr: 'oops\n',
			stdoutTruncated: false,
			stderrTruncated: false,
		});
		expect(task.ref).toMatch(/^[0-9a-f]{64}$/);
		expect(await exists(task.ref as string)).toBe(false);
	});

	it('keeps only the last logLimitBytes of each stream', async () => {
		const { scheduler } = setup({ logLimitBytes: 1000 });
		await scheduler.add({
			id: 'long',
			item: {
				image: env.image,
				cmd: sh('i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo END'),
			},
		});
		const task = await finished(scheduler, 'long');
		expect(task.output?.stdout.length).toBeLessThanOrEqual(1000);
		expect(task.output?.stdout.endsWith('line 1999\nEND\n')).toBe(true);
		expect(task.output?.stdoutTruncated).toBe(true);
		expect(task.output?.stderrTruncated).toBe(false);
	});

	it('fails a non-zero exit with the code and the end of stderr, and retries by the policy', async () => {
		const { scheduler } = setup({}, { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
		const retried: string[] = [];
		scheduler.on('task:retrying', ({ error }) => retried.push(error.message));
		await scheduler.add({
			id: 'bad',
			item: { image: env.image, cmd: sh('echo half done; echo "cannot open input" >&2; exit 3') },
		});
		const task = await finished(scheduler, 'bad');
		expect(task.status).toBe('failed');
		expect(task.attempts).toBe(2);
		expect(retried).toHaveLength(1);
		expect(task.error?.code).toBe('ERR_CONTAINER_EXIT');
		expect(task.error?.message).toMatch(/^Container [0-9a-f]{12} exited with code 3: cannot open input$/);
		expect(await exists(task.ref as string)).toBe(false);
	});

	it('kills and removes the container on timeout', async () => {
		const { scheduler, schedulerId } = setup();
		const events = await engineEvents(`lightsched.scheduler=${schedulerId}`);
		await scheduler.add({ id: 'slow', timeoutMs: 3000, item: { image: env.image, cmd: ['sleep', '120'] } });
		const task = await finished(scheduler, 'slow');
		expect(task.status).toBe('failed');
		expect(task.error?.code).toBe('ERR_TASK_TIMEOUT');
		const created = await events.next('create');
		expect(await exists(created.id)).toBe(false);
		expect(
			await env.docker.listContainers({ all: true, filters: { label: [`lightsched.scheduler=${schedulerId}`] } }),
		).toEqual([]);
		if (typeof task.ref === 'string') expect(task.ref).toBe(created.id);
		events.close();
	});

	it('stops a running container through scheduler.stop', async () => {
		const { scheduler, schedulerId } = setup();
		const events = await engineEvents(`lightsched.scheduler=${schedulerId}`);
		await scheduler.add({ id: 'to-stop', item: { image: env.image, cmd: ['sleep', '120'] } });
		const start = await events.next('start');
		const stopped = await scheduler.stop('to-stop');
		expect(stopped.status).toBe('stopped');
		expect(await exists(start.id)).toBe(false);
		// The engine's event stream may deliver `destroy` a moment after the container is gone: wait for it.
		await events.next('destroy');
		expect(events.events.map((e) => e.Action)).toEqual(expect.arrayContaining(['kill', 'die', 'destroy']));
		events.close();
	});

	it('stops a container from the task ref with another actuator instance (another process)', async () => {
		const { scheduler, schedulerId } = setup();
		const events = await engineEvents(`lightsched.scheduler=${schedulerId}`);
		await scheduler.add({ id: 'remote-stop', item: { image: env.image, cmd: ['sleep', '120'] } });
		const start = await events.next('start');
		const other = new DockerActuator({ docker: { socketPath: env.socketPath }, schedulerId });
		const record = (await scheduler.get('remote-stop')) as TaskRecord<DockerTaskItem, DockerOutput>;
		await other.stop({ ...record, ref: start.id });
		expect(await exists(start.id)).toBe(false);
		const task = await finished(scheduler, 'remote-stop');
		expect(task.status).toBe('failed');
		events.close();
	});

	it('never runs more containers than the concurrency (counted by the engine)', async () => {
		const { scheduler, schedulerId } = setup({}, { concurrency: 2 });
		const label = `lightsched.scheduler=${schedulerId}`;
		const events = await engineEvents(label);
		let maxListed = 0;
		scheduler.on('task:started', () => {
			void env.docker.listContainers({ filters: { label: [label], status: ['running'] } }).then((list) => {
				maxListed = Math.max(maxListed, list.length);
			});
		});
		await scheduler.add(
			Array.from({ length: 6 }, (_, i) => ({
				id: `c${i}`,
				item: { image: env.image, cmd: sh(`sleep 1; echo ${i}`) },
			})),
		);
		await scheduler.onIdle();
		const counts = await scheduler.counts();
		expect(counts.succeeded).toBe(6);
		let running = 0;
		let maxRunning = 0;
		for (const event of events.events) {
			if (event.Action === 'start') maxRunning = Math.max(maxRunning, ++running);
			if (event.Action === 'die') running--;
		}
		expect(events.events.filter((e) => e.Action === 'start')).toHaveLength(6);
		expect(maxRunning).toBe(2);
		expect(maxListed).toBeLessThanOrEqual(2);
		expect(await env.docker.listContainers({ all: true, filters: { label: [label] } })).toHaveLength(0);
		events.close();
	});

	it('enforces the memory limit: an over-allocating container is killed and the task says so', async () => {
		if (!env.memoryLimit) {
			throw new Error(
				'cgroup memory limits are unavailable in this sandbox (docker info: MemoryLimit=false); the memory limit cannot be enforced here',
			);
		}
		const { scheduler } = setup();
		await scheduler.add({
			id: 'oom',
			item: {
				image: env.image,
				memory: '32m',
				cmd: sh('x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}'),
			},
		});
		const task = await finished(scheduler, 'oom');
		expect(task.status).toBe('failed');
		expect(task.error?.code).toBe('ERR_CONTAINER_OOM');
		expect(task.error?.message).toMatch(/killed: out of memory \(limit 32 MiB\)/);
	});
});

describe('DockerActuator: failures of the engine', { timeout: 180_000 }, () => {
	it('says clearly when the daemon cannot be reached, and the task fails by the retry policy without being lost', async () => {
		const badSocket = join(env.dir, 'missing.sock');
		const { scheduler } = setup(
			{ docker: { socketPath: badSocket } },
			{ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 10 } },
		);
		await scheduler.add({ id: 'unreachable', item: { image: env.image, cmd: ['true'] } });
		const task = await finished(scheduler, 'unreachable');
		expect(task.status).toBe('failed');
		expect(task.attempts).toBe(2);
		expect(task.error?.code).toBe('ERR_ACTUATOR');
		expect(task.error?.message).toContain(`Cannot reach the Docker daemon at unix://${badSocket}`);
		expect(task.error?.message).toContain('ENOENT, no socket exists at that path');

		const notListening = join(env.dir, 'not-a-daemon');
		await writeFile(notListening, '');
		const refused = setup({ docker: { socketPath: notListening } });
		await refused.scheduler.add({ id: 'refused', item: { image: env.image, cmd: ['true'] } });
		const failed = await finished(refused.scheduler, 'refused');
		expect(failed.status).toBe('failed');
		expect(failed.error?.message).toBe(
			`Cannot reach the Docker daemon at unix://${notListening} while creating the container for task \`refused\`: ECONNREFUSED, nothing accepts connections there (is dockerd running?)`,
		);
	});

	it('fails naming the image when it is missing and pull is never, or the pull fails', async () => {
		const never = setup({ pull: 'never' });
		await never.scheduler.add({ id: 'no-image', item: { image: 'lightsched/not-here:1.0', cmd: ['true'] } });
		const a = await finished(never.scheduler, 'no-image');
		expect(a.error?.message).toBe(
			"Image `lightsched/not-here:1.0` is not on the Docker engine and `pull` is 'never'",
		);
		const missing = setup({ pull: 'missing' });
		await missing.scheduler.add({ id: 'no-pull', item: { image: 'lightsched/not-here:1.0', cmd: ['true'] } });
		const b = await finished(missing.scheduler, 'no-pull');
		expect(b.status).toBe('failed');
		expect(b.error?.message).toMatch(
			/^Image `lightsched\/not-here:1\.0` is not on the Docker engine and pulling it failed: .+/,
		);
	});

	it("pulls a missing image once from a reachable registry (pull: 'missing'), and names the image when the pull fails", async () => {
		const registry = await startRegistry(join(env.dir, 'rootfs.tar'), 'lightsched/pulled', '1.0');
		try {
			const { scheduler } = setup({}, { concurrency: 3 });
			const image = `${registry.host}/lightsched/pulled:1.0`;
			await scheduler.add(
				[1, 2, 3].map((i) => ({ id: `pull-${i}`, item: { image, cmd: ['echo', `pulled ${i}`] } })),
			);
			await scheduler.add({
				id: 'pull-unknown',
				item: { image: `${registry.host}/lightsched/pulled:nope`, cmd: ['true'] },
			});
			await scheduler.onIdle();
			for (const i of [1, 2, 3]) expect((await scheduler.get(`pull-${i}`))?.output?.stdout).toBe(`pulled ${i}\n`);
			expect(registry.requests.filter((r) => r.endsWith('/manifests/1.0'))).toHaveLength(1);
			const unknown = await scheduler.get('pull-unknown');
			expect(unknown?.status).toBe('failed');
			expect(unknown?.error?.message).toMatch(
				new RegExp(
					`^Image \`${registry.host}/lightsched/pulled:nope\` is not on the Docker engine and pulling it failed: .*manifest unknown`,
				),
			);
		} finally {
			await registry.close();
		}
	});

	it('reports a refused create or start with the engine reason', async () => {
		const { scheduler } = setup();
		const name = `lightsched-taken-${process.pid}`;
		const holder = await env.docker.createContainer({
			Image: env.image,
			Cmd: ['true'],
			name,
			HostConfig: { NetworkMode: 'none' },
		});
		await scheduler.add({ id: 'taken-name', item: { image: env.image, cmd: ['true'], name } });
		const taken = await finished(scheduler, 'taken-name');
		expect(taken.status).toBe('failed');
		expect(taken.error?.code).toBe('ERR_ACTUATOR');
		expect(taken.error?.message).toMatch(
			new RegExp(
				`^Docker failed creating the container for task \`taken-name\`: \\(HTTP 409\\) .*${name}.* is already in use`,
			),
		);
		await holder.remove({ force: true });

		await scheduler.add({ id: 'bad-net', item: { image: env.image, cmd: ['true'], network: 'no-such-network' } });
		const badNet = await finished(scheduler, 'bad-net');
		expect(badNet.status).toBe('failed');
		expect(badNet.error?.message).toMatch(
			/^Docker failed starting container [0-9a-f]{12} for task `bad-net`: \(HTTP 404\) network no-such-network not found/,
		);
		expect(await env.docker.listContainers({ all: true, filters: { label: ['lightsched.task=bad-net'] } })).toEqual(
			[],
		);
	});
});

/** Runs the child scheduler until `count` containers started, then SIGKILLs it. */
async function runAndKillChild(
	schedulerId: string,
	tasks: { id: string; item: DockerTaskItem }[],
	count: number,
): Promise<Map<string, string>> {
	const child = spawn(
		process.execPath,
		[
			'--import',
			'tsx',
			'--conditions=lightsched:source',
			join(import.meta.dirname, '../fixtures/docker-scheduler.ts'),
		],
		{
			env: {
				...process.env,
				LIGHTSCHED_DOCKER_CHILD: JSON.stringify({
					socketPath: env.socketPath,
					schedulerId,
					concurrency: tasks.length,
					tasks,
				}),
			},
			stdio: ['ignore', 'pipe', 'pipe'],
		},
	);
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const started = new Map<string, string>();
	await new Promise<void>((resolve, reject) => {
		createInterface({ input: child.stdout }).on('line', (line) => {
			const [word, taskId, containerId] = line.split(' ');
			if (word === 'STARTED' && taskId && containerId) started.set(taskId, containerId);
			if (started.size === count) resolve();
		});
		child.once('exit', (code) => reject(new Error(`child exited (${String(code)}) early: ${stderr}`)));
	});
	const exited = new Promise((resolve) => child.once('exit', resolve));
	child.kill('SIGKILL');
	await exited;
	return started;
}

describe('DockerActuator: orphans after a scheduler is SIGKILLed', { timeout: 180_000 }, () => {
	it('cleanupOrphans removes the containers of tasks that no longer exist, and only this scheduler id', async () => {
		const schedulerId = `orphans-${process.pid}`;
		const tasks = ['o1', 'o2', 'o3'].map((id) => ({ id, item: { image: env.image, cmd: ['sleep', '300'] } }));
		const started = await runAndKillChild(schedulerId, tasks, 3);
		const label = `lightsched.scheduler=${schedulerId}`;
		expect(await env.docker.listContainers({ filters: { label: [label] } })).toHaveLength(3);
		const foreign = await env.docker.createContainer({
			Image: env.image,
			Cmd: ['sleep', '300'],
			Labels: { 'lightsched.scheduler': 'someone-else', 'lightsched.task': 'o1' },
			HostConfig: { NetworkMode: 'none' },
		});
		await foreign.start();

		const { scheduler, actuator } = setup({ schedulerId });
		const report = await actuator.cleanupOrphans({ getTask: (id) => scheduler.get(id) });
		expect(report.removed.map((o) => o.containerId).sort()).toEqual([...started.values()].sort());
		expect(
			report.removed.every((o) => o.reason === 'task-missing' && o.running && o.owner.startsWith('child-')),
		).toBe(true);
		expect(report.kept).toEqual([]);
		expect(await env.docker.listContainers({ all: true, filters: { label: [label] } })).toHaveLength(0);
		expect(await exists(foreign.id)).toBe(true);
		await foreign.remove({ force: true });
	});

	/** The dead child's container for task `t`, then a new scheduler whose queue holds `t` with that ref. */
	async function takeOver(
		orphans: 'reattach' | 'kill',
	): Promise<{ task: TaskRecord<DockerTaskItem, DockerOutput>; oldId: string; creates: number }> {
		const schedulerId = `takeover-${orphans}-${process.pid}`;
		// Long enough to still run when the new scheduler looks, even on a loaded machine.
		const item: DockerTaskItem = { image: env.image, cmd: sh('sleep 6; echo "ran in $HOSTNAME"') };
		const started = await runAndKillChild(schedulerId, [{ id: 't', item }], 1);
		const oldId = started.get('t') as string;
		const events = await engineEvents(`lightsched.scheduler=${schedulerId}`);
		const { scheduler, container } = setup({ schedulerId, orphans }, { autoStart: false });
		// The task as a shared container would hold it after reclaiming it from the dead scheduler.
		const record = createTaskRecord({ id: 't', item }, 'task', { maxAttempts: 2 }, Date.now());
		await container.add([{ ...record, attempts: 1, ref: oldId }]);
		const done = finished(scheduler, 't');
		scheduler.resume();
		const task = await done;
		const creates = events.events.filter(
			(e) => e.Action === 'create' && e.Actor.Attributes['lightsched.task'] === 't',
		).length;
		events.close();
		return { task, oldId, creates };
	}

	it("orphans: 'reattach' waits on the running container of the dead scheduler instead of starting another", async () => {
		const { task, oldId, creates } = await takeOver('reattach');
		expect(task.status).toBe('succeeded');
		expect(task.ref).toBe(oldId);
		expect(task.output?.stdout).toBe(`ran in ${oldId.slice(0, 12)}\n`);
		expect(creates).toBe(0);
		expect(await exists(oldId)).toBe(false);
	});

	it("orphans: 'kill' kills the old container and runs the task in a new one", async () => {
		const { task, oldId, creates } = await takeOver('kill');
		expect(task.status).toBe('succeeded');
		expect(task.ref).not.toBe(oldId);
		expect(task.output?.stdout).toBe(`ran in ${(task.ref as string).slice(0, 12)}\n`);
		expect(creates).toBe(1);
		expect(await exists(oldId)).toBe(false);
	});
});

describe('examples/docker.ts', { timeout: 180_000 }, () => {
	it('runs ten containers two at a time and prints their output', async () => {
		const child = spawn(
			process.execPath,
			[
				'--import',
				'tsx',
				'--conditions=lightsched:source',
				join(import.meta.dirname, '../../examples/docker.ts'),
			],
			{
				env: { ...process.env, DOCKER_SOCKET: env.socketPath, DOCKER_IMAGE: env.image },
				stdio: ['ignore', 'pipe', 'pipe'],
			},
		);
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
		const code = await new Promise((resolve) => child.once('exit', resolve));
		expect(stderr).toBe('');
		expect(code).toBe(0);
		expect(stdout.match(/helloworld/g)).toHaveLength(10);
	});
});
