/**
 * `ProcessActuator`: runs each task as a command on this machine, `{ command, args }`, executed directly (never
 * through a shell), in its own process group. Keeps the exit code and the last bounded part of stdout and stderr
 * as the output, reports `::progress <JSON>` lines of stdout as progress, and on stop, timeout or close
 * terminates the whole group (SIGTERM, then SIGKILL after a grace period), so what the command started dies too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import {
	ActuatorError,
	NonRetryableError,
	type ActuatorContext,
	type ActuatorStart,
	type TaskActuator,
	type TaskRecord,
} from 'lightsched';
import { TailBuffer } from 'lightsched/kit';
import { describeCommand, ProcessExitError, ProcessSpawnError, type ProcessOutput } from './process/errors.js';
import { identify, isSameProcess, signalGroup, waitGroupGone, type ProcessIdentity } from './process/group.js';
import { resolveProcessItem, type ProcessTaskItem, type ResolvedProcessItem } from './process/item.js';
import { resolveProcessOptions, type ProcessActuatorOptions } from './process/options.js';
import { ProgressLines } from './process/output.js';

export {
	describeCommand,
	ProcessExitError,
	ProcessSpawnError,
	type ProcessEnd,
	type ProcessOutput,
	type ProcessTails,
} from './process/errors.js';
export { MAX_OUTPUT_LIMIT, type ProcessTaskItem } from './process/item.js';
export type { ProcessActuatorOptions } from './process/options.js';

/** The task's `ref`: the command's process, and what tells it from a later process with the same pid. */
export interface ProcessRef extends ProcessIdentity {
	/** The command's process id (also its process group's). */
	readonly pid: number;
	/** The process group the command leads (its pid). */
	readonly pgid: number;
}

/** After SIGKILL (which cannot be caught), how long to wait for the group to be gone before giving up. */
const KILL_WAIT_MS = 5_000;
/** After the command exited and its group is gone, how long its output pipes may stay open (held by a process that left the group). */
const CLOSE_WAIT_MS = 1_000;

/** Resolves when `promise` settles or after `ms`, whichever is first; the timer never outlives it. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(resolve, Math.max(0, ms));
		void promise.finally(() => {
			clearTimeout(timer);
			resolve();
		});
	});
}

function isProcessRef(value: unknown): value is ProcessRef {
	const ref = value as Partial<ProcessRef> | null;
	return (
		typeof ref === 'object' &&
		ref !== null &&
		Number.isSafeInteger(ref.pid) &&
		Number.isSafeInteger(ref.pgid) &&
		(ref.pgid as number) > 1 &&
		typeof ref.host === 'string'
	);
}

/** One command this actuator runs. */
class Run {
	readonly task: TaskRecord;
	child: ChildProcess | undefined;
	pgid: number | undefined;
	/** Resolves once the start phase ended (spawned or not). */
	readonly started: Promise<void>;
	markStarted!: () => void;
	/** Resolves once the command's main process exited (and was reaped). */
	readonly exited: Promise<void>;
	markExited!: () => void;
	hasExited = false;
	/** Someone stopped the work: its end is not reported. */
	stopRequested = false;
	/** The one termination of the process group. */
	terminating: Promise<void> | null = null;

	constructor(task: TaskRecord) {
		this.task = task;
		this.started = new Promise((resolve) => (this.markStarted = resolve));
		this.exited = new Promise((resolve) => (this.markExited = resolve));
	}
}

export class ProcessActuator implements TaskActuator<ProcessTaskItem, ProcessOutput> {
	readonly #outputLimit: number;
	readonly #graceMs: number;
	readonly #progressPrefix: string | null;
	readonly #inheritEnv: boolean | readonly string[];
	readonly #env: Readonly<Record<string, string>>;
	readonly #allowed: ReadonlySet<string> | undefined;
	readonly #runs = new Map<string, Run>();
	#closed = false;

	constructor(options: ProcessActuatorOptions = {}) {
		const resolved = resolveProcessOptions(options);
		this.#outputLimit = resolved.maxOutputBytes;
		this.#graceMs = resolved.killGraceMs;
		this.#progressPrefix = resolved.progressPrefix;
		this.#inheritEnv = resolved.inheritEnv;
		this.#env = resolved.env;
		this.#allowed = resolved.allowedCommands;
	}

	/** Commands running right now. */
	get running(): number {
		return this.#runs.size;
	}

	/** Checks the item at `add`; a bad field rejects the add with an error naming it (`item.args[2]`). */
	init(task: TaskRecord<ProcessTaskItem, ProcessOutput>): void {
		resolveProcessItem(task.item, this.#allowed);
	}

	/**
	 * Starts the command in its own process group and returns its `ProcessRef` once it runs; its end comes
	 * through `ctx.done`. A command that cannot start (not found, not executable, no such `cwd`) fails the attempt
	 * with a `ProcessSpawnError`. When the task's `ref` names a process of an earlier attempt still running on
	 * this machine (its scheduler died), that process group is terminated first.
	 */
	async start(
		task: TaskRecord<ProcessTaskItem, ProcessOutput>,
		ctx: ActuatorContext<ProcessOutput>,
	): Promise<ActuatorStart | void> {
		if (this.#closed) throw new ActuatorError('The process actuator is closed');
		let item: ResolvedProcessItem;
		try {
			item = resolveProcessItem(task.item, this.#allowed);
		} catch (error) {
			// Items in a shared container may have been added by a process without this actuator's checks.
			throw new NonRetryableError((error as Error).message, { cause: error });
		}
		const run = new Run(task);
		this.#runs.set(task.id, run);
		const onAbort = (): void => void this.#terminate(run).catch(() => undefined);
		ctx.signal.addEventListener('abort', onAbort, { once: true });
		try {
			if (isProcessRef(task.ref)) await this.#killEarlier(task.ref);
			if (item.cwd !== undefined) await this.#checkCwd(item);
			if (ctx.signal.aborted || run.stopRequested)
				throw ctx.signal.aborted
					? ctx.signal.reason
					: new ActuatorError(`Task \`${task.id}\` was stopped while starting`);
			const { child, identity } = await this.#spawn(item);
			run.child = child;
			run.pgid = child.pid;
			this.#watch(run, child, item, ctx);
			const ref: ProcessRef = { pid: child.pid as number, pgid: child.pid as number, ...identity };
			return { ref };
		} catch (error) {
			ctx.signal.removeEventListener('abort', onAbort);
			this.#forget(run);
			throw error;
		} finally {
			run.markStarted();
		}
	}

	/**
	 * Terminates the task's process group: SIGTERM to every process in it, then, once the command exited and the
	 * group is empty or `killGraceMs` passed, SIGKILL to what is left. Resolves when the group is gone. A task this
	 * actuator does not run is found through its `ref`, on this machine only, and only while that process is the
	 * same one (same boot, same start time).
	 */
	async stop(task: TaskRecord<ProcessTaskItem, ProcessOutput>): Promise<void> {
		const run = this.#runs.get(task.id);
		if (run !== undefined) {
			run.stopRequested = true;
			await this.#terminate(run);
			return;
		}
		if (isProcessRef(task.ref)) await this.#killEarlier(task.ref);
	}

	/** Stops accepting work and terminates every command still running (the scheduler has stopped its own by then). */
	async close(): Promise<void> {
		this.#closed = true;
		const runs = [...this.#runs.values()];
		for (const run of runs) run.stopRequested = true;
		await Promise.all(runs.map((run) => this.#terminate(run)));
	}

	// ---- internals -----------------------------------------------------------------------------------------

	#environment(item: ResolvedProcessItem): NodeJS.ProcessEnv {
		let base: NodeJS.ProcessEnv = {};
		if (this.#inheritEnv === true) base = process.env;
		else if (Array.isArray(this.#inheritEnv)) {
			for (const name of this.#inheritEnv as readonly string[])
				if (process.env[name] !== undefined) base[name] = process.env[name];
		}
		return { ...base, ...this.#env, ...item.env };
	}

	async #checkCwd(item: ResolvedProcessItem): Promise<void> {
		const cwd = item.cwd as string;
		let isDirectory: boolean;
		try {
			isDirectory = (await stat(cwd)).isDirectory();
		} catch (error) {
			const code = (error as { code?: string }).code;
			throw new ProcessSpawnError(
				`The working directory \`${cwd}\` (item.cwd) of command \`${item.command}\` cannot be used: ${code === 'ENOENT' ? 'it does not exist' : (error as Error).message}`,
				code,
				error,
			);
		}
		if (!isDirectory)
			throw new ProcessSpawnError(
				`The working directory \`${cwd}\` (item.cwd) of command \`${item.command}\` is not a directory`,
				'ENOTDIR',
			);
	}

	/** Spawns the command, leading its own process group; resolves once it runs, rejects when it cannot start. */
	async #spawn(item: ResolvedProcessItem): Promise<{ child: ChildProcess; identity: ProcessIdentity }> {
		let child: ChildProcess;
		try {
			child = spawn(item.command, item.args, {
				cwd: item.cwd,
				env: this.#environment(item),
				detached: true,
				stdio: [item.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
				shell: false,
				windowsHide: true,
			});
		} catch (error) {
			throw ProcessSpawnError.of(item.command, error, item.cwd);
		}
		// Now, before the event loop turns: the child cannot have been reaped, so its pid is still its own.
		const identity = child.pid === undefined ? undefined : identify(child.pid);
		await new Promise<void>((resolve, reject) => {
			const onSpawn = (): void => {
				child.off('error', onError);
				resolve();
			};
			const onError = (error: Error): void => {
				child.off('spawn', onSpawn);
				reject(ProcessSpawnError.of(item.command, error, item.cwd));
			};
			child.once('spawn', onSpawn);
			child.once('error', onError);
		});
		if (item.stdin !== undefined && child.stdin !== null) {
			// A command that does not read its input closes the pipe: EPIPE is its choice, not a failure.
			child.stdin.on('error', () => undefined);
			child.stdin.end(item.stdin, 'utf8');
		}
		return { child, identity: identity ?? identify(child.pid as number) };
	}

	/** Collects the output, and once the command exited, ends what it left in its group and reports the end. */
	#watch(run: Run, child: ChildProcess, item: ResolvedProcessItem, ctx: ActuatorContext<ProcessOutput>): void {
		const limit = item.maxOutputBytes ?? this.#outputLimit;
		const stdout = new TailBuffer(limit);
		const stderr = new TailBuffer(limit);
		const progress =
			this.#progressPrefix === null
				? null
				: new ProgressLines(this.#progressPrefix, (p) => {
						if (!run.stopRequested) ctx.progress(p);
					});
		child.stdout?.on('data', (chunk: Buffer) => {
			stdout.write(chunk);
			progress?.write(chunk);
		});
		child.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));
		const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
		// Errors after the spawn (a failed kill) change nothing here: the exit is what counts.
		child.on('error', () => undefined);
		child.once('exit', (exitCode, signal) => {
			run.hasExited = true;
			run.markExited();
			void (async () => {
				// The command is over: whatever it left in its group goes too (as when a container's main process exits).
				// After a stop this is the stop's own termination.
				await this.#terminate(run).catch(() => undefined);
				await within(closed, CLOSE_WAIT_MS);
				child.stdout?.destroy();
				child.stderr?.destroy();
				// Report only after the caller of `start` has the ref (its promise's reactions run before the next
				// macrotask), so the finished record names the process that ran.
				await run.started;
				await new Promise((resolve) => setImmediate(resolve));
				if (run.stopRequested) return;
				progress?.end();
				const tails = {
					stdout: stdout.toString(),
					stderr: stderr.toString(),
					stdoutTruncated: stdout.truncated,
					stderrTruncated: stderr.truncated,
				};
				if (exitCode === 0) ctx.done({ ok: true, output: { exitCode, ...tails } });
				else
					ctx.done({
						ok: false,
						error: new ProcessExitError(describeCommand(item.command, item.args), {
							exitCode,
							signal,
							...tails,
						}),
					});
			})();
		});
	}

	/** The run's one termination of its group; forgets the run when done. */
	#terminate(run: Run): Promise<void> {
		run.terminating ??= run.started
			.then(() => (run.pgid === undefined ? undefined : this.#terminateGroup(run, run.pgid)))
			.finally(() => this.#forget(run));
		return run.terminating;
	}

	async #terminateGroup(run: Run, pgid: number): Promise<void> {
		if (!signalGroup(pgid, 'SIGTERM')) {
			await within(run.exited, KILL_WAIT_MS);
			return;
		}
		const deadline = Date.now() + this.#graceMs;
		if (this.#graceMs > 0) {
			await within(run.exited, this.#graceMs);
			if (run.hasExited && (await waitGroupGone(pgid, deadline - Date.now()))) return;
		}
		signalGroup(pgid, 'SIGKILL');
		await within(run.exited, KILL_WAIT_MS);
		await waitGroupGone(pgid, KILL_WAIT_MS);
	}

	/** Terminates the process group of an earlier attempt, when `ref` still names that very process on this machine. */
	async #killEarlier(ref: ProcessRef): Promise<void> {
		if (!(await isSameProcess(ref.pid, ref))) return;
		if (!signalGroup(ref.pgid, 'SIGTERM')) return;
		if (this.#graceMs > 0 && (await waitGroupGone(ref.pgid, this.#graceMs))) return;
		signalGroup(ref.pgid, 'SIGKILL');
		await waitGroupGone(ref.pgid, KILL_WAIT_MS);
	}

	#forget(run: Run): void {
		if (this.#runs.get(run.task.id) === run) this.#runs.delete(run.task.id);
	}
}
