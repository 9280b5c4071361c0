/**
 * A Docker daemon that accepts connections and never answers (hung, overloaded, a half-open link), played
 * by a unix socket server that reads and says nothing (issue 11 item 6). Before `requestTimeoutMs` the
 * create call waited for ever and the task stayed `running`; now the attempt fails within the limit with a
 * `DockerTimeoutError` naming the socket, the task follows its retry policy and stays stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActuatorError, Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import {
	DockerActuator,
	DockerTimeoutError,
	type DockerOutput,
	type DockerTaskItem,
} from 'lightsched/actuators/docker';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A unix socket that accepts every connection, reads what is sent and never answers. */
async function silentDaemon(): Promise<{ socketPath: string; connections: number }> {
	const dir = await mkdtemp(join(tmpdir(), 'lightsched-silent-docker-'));
	const socketPath = join(dir, 'docker.sock');
	const sockets = new Set<Socket>();
	const state = { socketPath, connections: 0 };
	const server: Server = createServer((socket) => {
		state.connections++;
		sockets.add(socket);
		socket.resume();
		socket.on('close', () => sockets.delete(socket));
	});
	await new Promise<void>((resolve) => server.listen(socketPath, resolve));
	cleanups.push(async () => {
		for (const socket of sockets) socket.destroy();
		await new Promise<void>((resolve) => server.close(() => resolve()));
		await rm(dir, { recursive: true, force: true });
	});
	return state;
}

describe('DockerActuator: a daemon that never answers', { timeout: 60_000 }, () => {
	it('fails the attempt after requestTimeoutMs naming the socket, retries by the policy, and keeps the task', async () => {
		const daemon = await silentDaemon();
		const actuator = new DockerActuator({ docker: { socketPath: daemon.socketPath }, requestTimeoutMs: 300 });
		const scheduler = new Scheduler<DockerTaskItem, DockerOutput>({
			container: new QueueContainer(),
			actuator,
			maxAttempts: 2,
			backoff: { type: 'fixed', delayMs: 10 },
		});
		scheduler.on('error', () => undefined);
		cleanups.push(() => scheduler.close());
		const finished = scheduler.finished();
		await scheduler.add([
			{ id: 'hung', item: { image: 'busybox', cmd: ['true'] } },
			{ id: 'queued', item: { image: 'busybox', cmd: ['true'] } },
		]);
		const firstAttempt = new Promise<string>((resolve) =>
			scheduler.once('task:retrying', ({ error }) => resolve(error.message)),
		);
		const seen: TaskRecord<DockerTaskItem, DockerOutput>[] = [];
		for await (const task of finished) {
			seen.push(task);
			if (seen.length === 2) break;
		}
		for (const task of seen) {
			expect(task.status).toBe('failed');
			expect(task.attempts).toBe(2);
			expect(task.error?.code).toBe('ERR_ACTUATOR');
			// The second attempt first looks for the container of the first (to reattach): that call times out.
			expect(task.error?.message).toBe(
				`The Docker daemon at unix://${daemon.socketPath} did not answer within 300 ms while listing the containers of task \`${task.id}\` (is dockerd hung or overloaded?)`,
			);
		}
		expect(await firstAttempt).toMatch(
			new RegExp(
				`^The Docker daemon at unix://${daemon.socketPath} did not answer within 300 ms while creating the container for task \`(hung|queued)\``,
			),
		);
		expect(daemon.connections).toBeGreaterThanOrEqual(4);
		expect((await scheduler.get('hung'))?.status).toBe('failed');
		expect((await scheduler.get('queued'))?.status).toBe('failed');
	});

	it('bounds cleanupOrphans and stop the same way, with a DockerTimeoutError (an ActuatorError)', async () => {
		const daemon = await silentDaemon();
		const actuator = new DockerActuator({ docker: { socketPath: daemon.socketPath }, requestTimeoutMs: 200 });
		const orphans = await actuator.cleanupOrphans({ getTask: () => null }).catch((error: unknown) => error);
		expect(orphans).toBeInstanceOf(DockerTimeoutError);
		expect(orphans).toBeInstanceOf(ActuatorError);
		expect((orphans as Error).message).toBe(
			`The Docker daemon at unix://${daemon.socketPath} did not answer within 200 ms while listing containers (is dockerd hung or overloaded?)`,
		);
		const stop = await actuator
			.stop({ id: 't', ref: 'abcdef0123456789' } as TaskRecord<DockerTaskItem, DockerOutput>)
			.catch((error: unknown) => error);
		expect(stop).toBeInstanceOf(DockerTimeoutError);
		expect((stop as Error).message).toContain('while inspecting container abcdef012345');
	});
});
