/**
 * Ten containers `sh -c "echo helloworld; sleep 1"`, two at a time, their output printed.
 * DOCKER_SOCKET: the daemon's socket (default /var/run/docker.sock); DOCKER_IMAGE: an image with `sh` (default busybox).
 * Run: npm run example examples/docker.ts
 */
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { DockerActuator } from 'lightsched/actuators/docker';

const socketPath = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
const image = process.env.DOCKER_IMAGE ?? 'busybox';

const scheduler = new Scheduler({
	container: new QueueContainer(),
	actuator: new DockerActuator({ docker: { socketPath } }),
	concurrency: 2,
	timeoutMs: 60_000,
});
scheduler.on('task:succeeded', ({ task, output }) => console.log(`${task.id}: ${output.stdout.trim()}`));
scheduler.on('task:failed', ({ task, error }) => {
	console.error(`${task.id} failed: ${error.message}`);
	process.exitCode = 1;
});

await scheduler.add(
	Array.from({ length: 10 }, (_, i) => ({
		id: `hello-${i + 1}`,
		item: { image, cmd: ['sh', '-c', 'echo helloworld; sleep 1'] },
	})),
);
await scheduler.onIdle();
await scheduler.close();
