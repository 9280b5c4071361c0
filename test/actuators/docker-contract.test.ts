/**
 * DockerActuator through the actuator contract, against the real dockerd that `test/support/docker.ts` starts for
 * this file (no bridge network, no NAT rules; the busybox image is imported locally). Each long container carries
 * a label with a token so the probes find it on the engine, whatever the task's `ref` says.
 */
import { afterAll, beforeAll } from 'vitest';
import { DockerActuator, type DockerOutput, type DockerTaskItem } from 'lightsched/actuators/docker';
import { actuatorContract } from '../contracts/actuator.contract.js';
import { containerExists, startDocker, type TestDocker } from '../support/docker.js';
import { sleep } from '../support/scheduler.js';

let env: TestDocker;

beforeAll(async () => {
	env = await startDocker();
}, 240_000);

afterAll(async () => {
	await env?.stop();
}, 60_000);

const TOKEN_LABEL = 'contract.token';
let counter = 0;

/** The engine's containers (any state) labelled with this token. */
const containersOf = (token: string, running = false): Promise<{ Id: string; State: string }[]> =>
	env.docker.listContainers({
		all: !running,
		filters: { label: [`${TOKEN_LABEL}=${token}`], ...(running ? { status: ['running'] } : {}) },
	});

const sh = (script: string): string[] => ['sh', '-c', script];

actuatorContract<DockerTaskItem, DockerOutput>(
	'DockerActuator',
	() => ({
		actuator: () =>
			new DockerActuator({
				docker: { socketPath: env.socketPath },
				schedulerId: `contract-${process.pid}-${++counter}`,
			}),
		succeeds: {
			item: { image: env.image, cmd: sh('echo hello; echo note >&2') },
			output: {
				exitCode: 0,
				stdout: 'hello\n',
				stderr: 'note\n',
				stdoutTruncated: false,
				stderrTruncated: false,
			},
		},
		fails: {
			item: { image: env.image, cmd: sh('echo cannot open input >&2; exit 3') },
			message: /exited with code 3: cannot open input/,
		},
		long: () => {
			const token = `long-${process.pid}-${++counter}`;
			return {
				item: { image: env.image, cmd: ['sleep', '600'], labels: { [TOKEN_LABEL]: token } },
				running: async () => {
					while ((await containersOf(token, true)).length === 0) await sleep(50);
				},
				// Killed and removed: the engine knows no container of this work, nor the one the task's ref names.
				workGone: async (task) => {
					if ((await containersOf(token)).length > 0) return false;
					return typeof task.ref !== 'string' || !(await containerExists(env.docker, task.ref));
				},
			};
		},
		// Long enough for the container to be created and running when the timeout fires, on a loaded machine.
		timeoutMs: 2_500,
		badItem: { item: { image: env.image, memory: 'lots' }, field: 'item.memory' },
	}),
	{ progress: false, init: true, stopWhileStarting: true },
);
