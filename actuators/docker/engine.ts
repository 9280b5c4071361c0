/**
 * The calls the Docker actuator makes to the engine about containers, each bounded by `requestTimeoutMs`
 * (`bounded`): create (pulling an image the engine lacks once, however many tasks need it at the same time), kill
 * and remove (a container already gone, or being removed by someone else, is no error), read a container's labels,
 * list a task's containers. `keepContainers` turns every removal into nothing (killed, not removed).
 */
import type Dockerode from 'dockerode';
import { ActuatorError } from 'lightsched';
import { bounded } from './daemon.js';
import { dockerError, isConnectionError, statusOf } from './errors.js';
import { LABEL_SCHEDULER, LABEL_TASK } from './orphans.js';

export interface DockerEngineSettings {
	readonly timeoutMs: number;
	readonly pull: 'missing' | 'never';
	readonly keep: boolean;
	readonly schedulerId: string;
}

export class DockerEngine {
	readonly docker: Dockerode;
	readonly #settings: DockerEngineSettings;
	readonly #pulls = new Map<string, Promise<void>>();

	constructor(docker: Dockerode, settings: DockerEngineSettings) {
		this.docker = docker;
		this.#settings = settings;
	}

	/** One short call to the daemon, bounded by `requestTimeoutMs`. */
	call<T>(doing: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
		return bounded(this.docker, this.#settings.timeoutMs, doing, call);
	}

	/** Creates the container; an image the engine lacks is pulled first (`pull: 'missing'`) or named in the error. */
	async create(
		taskId: string,
		body: Dockerode.ContainerCreateOptions,
		image: string,
		signal: AbortSignal,
	): Promise<Dockerode.Container> {
		const doing = `creating the container for task \`${taskId}\``;
		try {
			return await this.call(doing, (abortSignal) => this.docker.createContainer({ ...body, abortSignal }));
		} catch (error) {
			if (
				statusOf(error) !== 404 ||
				!/no such image/i.test(
					String((error as { json?: { message?: string } }).json?.message ?? (error as Error).message),
				)
			)
				throw error;
			if (this.#settings.pull === 'never')
				throw new ActuatorError(`Image \`${image}\` is not on the Docker engine and \`pull\` is 'never'`, {
					cause: error,
				});
		}
		await this.#pullImage(image);
		signal.throwIfAborted();
		return this.call(doing, (abortSignal) => this.docker.createContainer({ ...body, abortSignal }));
	}

	/** Pulls an image once even when several tasks need it at the same time. */
	#pullImage(image: string): Promise<void> {
		let pulling = this.#pulls.get(image);
		if (pulling === undefined) {
			pulling = new Promise<void>((resolve, reject) => {
				this.docker.pull(image, {}, (error: unknown, stream?: NodeJS.ReadableStream) => {
					if (error || stream === undefined) {
						reject(error);
						return;
					}
					this.docker.modem.followProgress(stream, (failure: unknown, events: { error?: unknown }[] = []) => {
						// The engine reports a failed pull (unknown tag, denied) inside the stream, not as an HTTP error.
						const reported = events.find((event) => typeof event?.error === 'string');
						if (failure) reject(failure);
						else if (reported) reject(new ActuatorError(String(reported.error)));
						else resolve();
					});
				});
			}).then(
				() => void this.#pulls.delete(image),
				(error: unknown) => {
					this.#pulls.delete(image);
					if (isConnectionError(error)) throw error;
					const reason = error instanceof Error ? error.message : String(error);
					throw new ActuatorError(
						`Image \`${image}\` is not on the Docker engine and pulling it failed: ${reason.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim()}`,
						{ cause: error },
					);
				},
			);
			this.#pulls.set(image, pulling);
		}
		return pulling;
	}

	async killAndRemove(id: string): Promise<void> {
		const container = this.docker.getContainer(id);
		try {
			await this.call(`killing container ${id.slice(0, 12)}`, (abortSignal) => container.kill({ abortSignal }));
		} catch (error) {
			const status = statusOf(error);
			if (status !== 404 && status !== 409)
				throw dockerError(`killing container ${id.slice(0, 12)}`, error, this.docker);
			if (status === 404) return;
		}
		await this.remove(id);
	}

	async remove(id: string): Promise<void> {
		if (this.#settings.keep) return;
		try {
			await this.call(`removing container ${id.slice(0, 12)}`, (abortSignal) =>
				this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }),
			);
		} catch (error) {
			const status = statusOf(error);
			if (status === 404) return;
			if (status === 409 && /already in progress/i.test(String((error as Error).message))) {
				// Someone else (the attempt's own clean-up) is removing it: wait until it is gone, pushed by the engine.
				await this.docker
					.getContainer(id)
					.wait({ condition: 'removed' })
					.catch(() => undefined);
				return;
			}
			throw dockerError(`removing container ${id.slice(0, 12)}`, error, this.docker);
		}
	}

	/** A container's labels; `null` when it is gone. */
	async labelsOf(id: string): Promise<Record<string, string> | null> {
		try {
			return (
				(
					await this.call(`inspecting container ${id.slice(0, 12)}`, (abortSignal) =>
						this.docker.getContainer(id).inspect({ abortSignal }),
					)
				).Config.Labels ?? {}
			);
		} catch (error) {
			if (statusOf(error) === 404) return null;
			throw dockerError(`inspecting container ${id.slice(0, 12)}`, error, this.docker);
		}
	}

	/** The containers of task `taskId` made by this scheduler (`schedulerId`), running or not. */
	findByTask(taskId: string): Promise<Dockerode.ContainerInfo[]> {
		return this.call(`listing the containers of task \`${taskId}\``, (abortSignal) =>
			this.docker.listContainers({
				all: true,
				filters: { label: [`${LABEL_TASK}=${taskId}`, `${LABEL_SCHEDULER}=${this.#settings.schedulerId}`] },
				abortSignal,
			}),
		);
	}

	/** Every container made by this scheduler (`schedulerId`), running or not. */
	listMine(): Promise<Dockerode.ContainerInfo[]> {
		return this.call('listing containers', (abortSignal) =>
			this.docker.listContainers({
				all: true,
				filters: { label: [`${LABEL_SCHEDULER}=${this.#settings.schedulerId}`] },
				abortSignal,
			}),
		);
	}
}
