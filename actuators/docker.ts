/**
 * `DockerActuator`: runs each task in a Docker container through dockerode, with one client for the actuator's
 * life. Creates (labelled with the task id, the scheduler and the owner), starts, waits for the exit through the
 * engine's wait call (push, no polling), streams stdout and stderr to the task's log a line at a time meanwhile,
 * keeps the last bounded part of each and the exit code as the output, then removes the container. `stop` and
 * timeouts kill and remove it, also from the task's `ref` when another process started it; `cleanupOrphans`
 * removes what a dead scheduler left.
 */
import type Dockerode from 'dockerode';
import {
	ActuatorError,
	NonRetryableError,
	type PartReporter,
	type ActuatorContext,
	type ActuatorResult,
	type ActuatorStart,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched';
import { rejectUnknownOptions } from 'lightsched/kit';
import { catchUpOutput, followOutput } from './docker/container-output.js';
import { DaemonWatch, unlessAborted } from './docker/daemon.js';
import { DockerEngine } from './docker/engine.js';
import { DockerExitError, dockerError, statusOf, type DockerOutput } from './docker/errors.js';
import { resolveDockerItem, type DockerTaskItem, type ResolvedDockerItem } from './docker/item.js';
import { LogLines } from './docker/log-lines.js';
import { resolveDockerOptions, type DockerActuatorOptions } from './docker/options.js';
import {
	sweepOrphans,
	LABEL_ATTEMPT,
	LABEL_OWNER,
	LABEL_SCHEDULER,
	LABEL_TASK,
	type CleanupOrphansOptions,
	type OrphanPolicy,
	type OrphanReport,
} from './docker/orphans.js';

export { ContainerExitError, DockerExitError, type DockerOutput } from './docker/errors.js';
export { DockerTimeoutError } from './docker/daemon.js';
export type { DockerActuatorOptions } from './docker/options.js';
export { MAX_DOCKER_LOG_LINE, STDERR_PREFIX } from './docker/log-lines.js';
export { formatBytes, parseMemory, type DockerTaskItem } from './docker/item.js';
export {
	LABEL_ATTEMPT,
	LABEL_OWNER,
	LABEL_SCHEDULER,
	LABEL_TASK,
	type CleanupOrphansOptions,
	type OrphanContainer,
	type OrphanPolicy,
	type OrphanReport,
} from './docker/orphans.js';

/** One attempt this actuator runs: the container once created, and its one disposal. */
class Run {
	containerId: string | undefined;
	/** Resolves once the create/start phase ended (either way). */
	readonly started: Promise<void>;
	markStarted!: () => void;
	disposing: Promise<void> | null = null;
	/** Why the daemon was given up on while this run waited (it stopped answering). */
	lost: Error | undefined;

	constructor() {
		this.started = new Promise((resolve) => {
			this.markStarted = resolve;
		});
	}
}

/** After a container is killed by a signal, how often and how far apart the daemon is checked (it may be shutting down). */
const SHUTDOWN_CHECKS = 4;
const SHUTDOWN_CHECK_MS = 500;
export class DockerActuator implements TaskActuator<DockerTaskItem, DockerOutput> {
	/** The one client this actuator uses. */
	readonly docker: Dockerode;
	/** The `schedulerId` option: the `lightsched.scheduler` label of this actuator's containers. */
	readonly schedulerId: string;
	readonly #engine: DockerEngine;
	readonly #logLimit: number;
	readonly #logs: boolean;
	readonly #orphans: OrphanPolicy;
	/** The `onError` option; unset, failures go to the attached scheduler, else to `process.emitWarning`. */
	readonly #onError: ((error: Error) => void) | undefined;
	/** The scheduler this actuator is attached to, if any. */
	#reporter: PartReporter | undefined;
	readonly #daemon: DaemonWatch;
	readonly #runs = new Map<string, Run>();
	#closed = false;

	constructor(options: DockerActuatorOptions = {}) {
		const resolved = resolveDockerOptions(options);
		this.docker = resolved.docker;
		this.schedulerId = resolved.schedulerId;
		this.#engine = new DockerEngine(resolved.docker, {
			timeoutMs: resolved.requestTimeoutMs,
			pull: resolved.pull,
			keep: resolved.keepContainers,
			schedulerId: resolved.schedulerId,
		});
		this.#logLimit = resolved.logLimitBytes;
		this.#logs = resolved.logs;
		this.#orphans = resolved.orphans;
		this.#onError = resolved.onError;
		this.#daemon = new DaemonWatch(this.docker, resolved.requestTimeoutMs, resolved.pingIntervalMs);
	}

	/** Containers this actuator is running right now. */
	get running(): number {
		return this.#runs.size;
	}

	/** Checks the item at `add`; a bad field rejects the add with an error naming it (`item.memory`). */
	init(task: TaskRecord<DockerTaskItem, DockerOutput>): void {
		resolveDockerItem(task.item);
	}

	/** Creates and starts the container (or reattaches to the one of an earlier attempt); returns its id as `ref`. */
	async start(
		task: TaskRecord<DockerTaskItem, DockerOutput>,
		ctx: ActuatorContext<DockerOutput>,
	): Promise<ActuatorStart> {
		if (this.#closed) throw new ActuatorError('The Docker actuator is closed');
		let item: ResolvedDockerItem;
		try {
			item = resolveDockerItem(task.item);
		} catch (error) {
			throw new NonRetryableError((error as Error).message, { cause: error });
		}
		const run = new Run();
		this.#runs.set(task.id, run);
		let container: Dockerode.Container;
		let reattached = false;
		try {
			const previous =
				(task.ref !== null && task.ref !== undefined) || task.attempts > 1
					? await this.#takeOver(task)
					: undefined;
			if (previous !== undefined) {
				container = previous;
				reattached = true;
			} else {
				container = await this.#engine.create(
					task.id,
					{ ...item.create, Labels: this.#labels(task, ctx, item.create.Labels) },
					item.image,
					ctx.signal,
				);
				run.containerId = container.id;
				ctx.signal.throwIfAborted();
				await this.#engine.call(
					`starting container ${container.id.slice(0, 12)} for task \`${task.id}\``,
					(abortSignal) => container.start({ abortSignal } as object),
				);
			}
			run.containerId = container.id;
			ctx.signal.throwIfAborted();
		} catch (error) {
			run.markStarted();
			if (run.containerId !== undefined)
				await this.#dispose(run, true).catch((failure: unknown) => this.#warn(failure as Error));
			this.#forget(task.id, run);
			if (ctx.signal.aborted) throw ctx.signal.reason;
			throw dockerError(
				run.containerId === undefined
					? `creating the container for task \`${task.id}\``
					: `starting container ${run.containerId.slice(0, 12)} for task \`${task.id}\``,
				error,
				this.docker,
			);
		}
		run.markStarted();
		void this.#watch(task, ctx, run, container, item.memoryBytes, reattached);
		return { ref: container.id };
	}

	/** Kills the task's container and removes it (unless `keepContainers`), also when another process started it. */
	async stop(task: TaskRecord<DockerTaskItem, DockerOutput>): Promise<void> {
		const run = this.#runs.get(task.id);
		if (run !== undefined) {
			run.disposing ??= run.started.then(() =>
				run.containerId === undefined ? undefined : this.#engine.killAndRemove(run.containerId),
			);
			await run.disposing;
			return;
		}
		const ids: string[] = [];
		if (typeof task.ref === 'string' && task.ref.length > 0) {
			const labels = await this.#engine.labelsOf(task.ref);
			if (labels === null) return;
			if (labels[LABEL_TASK] !== task.id)
				throw new ActuatorError(
					`Container ${task.ref.slice(0, 12)} does not belong to task \`${task.id}\`; not stopping it`,
				);
			ids.push(task.ref);
		} else {
			ids.push(...(await this.#engine.findByTask(task.id)).map((c) => c.Id));
		}
		await Promise.all(ids.map((id) => this.#engine.killAndRemove(id)));
	}

	/**
	 * Finds this scheduler's containers (label `lightsched.scheduler` = `schedulerId`) that no live attempt
	 * owns and removes them: those whose task is missing or finished, or was started again in another
	 * container. A container whose task waits to run again is kept for reattaching (`orphans: 'reattach'`)
	 * or killed (`'kill'`). Call it after a restart, once the scheduler is constructed.
	 */
	async cleanupOrphans(options: CleanupOrphansOptions): Promise<OrphanReport> {
		if (typeof options === 'object' && options !== null)
			rejectUnknownOptions('DockerActuator.cleanupOrphans', options, ['getTask']);
		if (typeof options?.getTask !== 'function')
			throw new TypeError('Expected `getTask` to be a function such as `(id) => scheduler.get(id)`');
		let listed: Dockerode.ContainerInfo[];
		try {
			listed = await this.#engine.listMine();
		} catch (error) {
			throw dockerError('listing containers to clean up orphans', error, this.docker);
		}
		const mine = new Set([...this.#runs.values()].map((run) => run.containerId));
		return sweepOrphans(listed, mine, options.getTask, this.#orphans, (id) => this.#engine.killAndRemove(id));
	}

	/** Send failures beside the work (no `onError` given) to a scheduler's `warning` event until detached. */
	attach(reporter: PartReporter): () => void {
		this.#reporter = reporter;
		return () => {
			if (this.#reporter === reporter) this.#reporter = undefined;
		};
	}

	/** A failure beside the work: to `onError` if given, else the attached scheduler, else `process.emitWarning`. */
	#warn(error: Error): void {
		if (this.#onError !== undefined) this.#onError(error);
		else if (this.#reporter !== undefined) this.#reporter.warning(error);
		else process.emitWarning(error);
	}

	/** Stops accepting work. Running containers are the scheduler's to stop (it calls `stop` before `close`). */
	close(): void {
		this.#closed = true;
		this.#daemon.close();
	}

	// ---- internals -----------------------------------------------------------------------------------------

	#labels(
		task: TaskRecord,
		ctx: ActuatorContext<DockerOutput>,
		own: Record<string, string> | undefined,
	): Record<string, string> {
		return {
			...own,
			[LABEL_TASK]: task.id,
			[LABEL_OWNER]: ctx.owner,
			[LABEL_SCHEDULER]: this.schedulerId,
			[LABEL_ATTEMPT]: String(task.attempts),
		};
	}

	/** The container of an earlier attempt of this task, when one still runs and the policy reattaches to it. */
	async #takeOver(task: TaskRecord): Promise<Dockerode.Container | undefined> {
		const candidates: { id: string; running: boolean }[] = [];
		if (typeof task.ref === 'string' && task.ref.length > 0) {
			try {
				const ref = task.ref;
				const info = await this.#engine.call(`inspecting container ${ref.slice(0, 12)}`, (abortSignal) =>
					this.docker.getContainer(ref).inspect({ abortSignal }),
				);
				if (info.Config.Labels?.[LABEL_TASK] === task.id)
					candidates.push({ id: info.Id, running: info.State.Running });
			} catch (error) {
				if (statusOf(error) !== 404) throw error;
			}
		} else {
			for (const info of await this.#engine.findByTask(task.id))
				candidates.push({ id: info.Id, running: info.State === 'running' });
		}
		let reattach: string | undefined;
		for (const candidate of candidates) {
			if (candidate.running && this.#orphans === 'reattach' && reattach === undefined) reattach = candidate.id;
			else await this.#engine.killAndRemove(candidate.id);
		}
		return reattach === undefined ? undefined : this.docker.getContainer(reattach);
	}

	/**
	 * Waits for the exit (push), reads the output tails (and streams the output to the task's log meanwhile),
	 * removes the container and reports the end.
	 */
	async #watch(
		task: TaskRecord,
		ctx: ActuatorContext<DockerOutput>,
		run: Run,
		container: Dockerode.Container,
		memoryBytes: number | undefined,
		reattached: boolean,
	): Promise<void> {
		let result: ActuatorResult<DockerOutput> | undefined;
		const watch = this.#daemon.watch();
		const lines = this.#logs && typeof ctx.log === 'function' ? new LogLines((line) => ctx.log?.(line)) : undefined;
		try {
			result = await this.#outcome(task, run, container, memoryBytes, watch.signal, lines, reattached);
			// A daemon that stopped answering cannot remove the container: the next attempt reattaches to it, or cleanupOrphans removes it.
			if (result !== undefined && run.disposing === null && run.lost === undefined)
				await this.#dispose(run, false);
		} finally {
			watch.release();
			this.#forget(task.id, run);
		}
		if (result !== undefined) ctx.done(result);
	}

	/** The attempt's result once the container exited; `undefined` when it was stopped meanwhile. */
	async #outcome(
		task: TaskRecord,
		run: Run,
		container: Dockerode.Container,
		memoryBytes: number | undefined,
		daemon: AbortSignal,
		lines: LogLines | undefined,
		reattached: boolean,
	): Promise<ActuatorResult<DockerOutput> | undefined> {
		const short = container.id.slice(0, 12);
		try {
			const logs = followOutput(this.#engine, container, {
				daemon,
				lines,
				reattached,
				limit: this.#logLimit,
				warn: (error) => this.#warn(error),
			});
			const waited = (await unlessAborted(
				container.wait({ condition: 'not-running', abortSignal: daemon }),
				daemon,
			)) as { StatusCode: number };
			const followed = await unlessAborted(logs, daemon);
			if (run.disposing !== null) return undefined;
			if (followed.complete) await catchUpOutput(this.#engine, container, followed);
			const { tail } = followed;
			lines?.end();
			const exitCode = waited.StatusCode;
			const output: DockerOutput = {
				exitCode,
				stdout: tail.stdout.toString(),
				stderr: tail.stderr.toString(),
				stdoutTruncated: tail.stdout.truncated,
				stderrTruncated: tail.stderr.truncated,
			};
			if (exitCode === 0) return { ok: true, output };
			const state = (
				await this.#engine.call(`inspecting container ${short}`, (abortSignal) =>
					container.inspect({ abortSignal }),
				)
			).State;
			if (!state.OOMKilled && (exitCode === 137 || exitCode === 143)) {
				// Killed by SIGKILL or SIGTERM, and not by us: a daemon shutting down stops its containers so, then
				// goes away within moments. Check on it a few times before blaming the container.
				await this.#daemon.checkFor(
					`container ${short} of task \`${task.id}\` ran (it ended with exit code ${exitCode})`,
					SHUTDOWN_CHECKS,
					SHUTDOWN_CHECK_MS,
				);
			}
			return { ok: false, error: new DockerExitError(container.id, output, state.OOMKilled, memoryBytes) };
		} catch (error) {
			if (run.disposing !== null) return undefined;
			if (daemon.aborted) {
				run.lost = daemon.reason as Error;
				return {
					ok: false,
					error: new ActuatorError(
						`${(daemon.reason as Error).message}; container ${short} of task \`${task.id}\` was left to the next attempt or cleanupOrphans`,
						{ cause: daemon.reason },
					),
				};
			}
			return {
				ok: false,
				error: dockerError(`waiting for container ${short} of task \`${task.id}\``, error, this.docker),
			};
		}
	}

	/** The run's one disposal: kill (when asked) and remove, errors reported rather than thrown. */
	async #dispose(run: Run, kill: boolean): Promise<void> {
		const id = run.containerId;
		if (id === undefined) return;
		run.disposing ??= (kill ? this.#engine.killAndRemove(id) : this.#engine.remove(id)).catch((error: unknown) =>
			this.#warn(error as Error),
		);
		await run.disposing;
	}

	#forget(taskId: string, run: Run): void {
		if (this.#runs.get(taskId) === run) this.#runs.delete(taskId);
	}
}
