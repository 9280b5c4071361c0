/** The process actuator's output and its failures: a command that ended badly, a command that could not start. */
import { ActuatorError } from 'lightsched';

/** The end of what a command wrote. */
export interface ProcessTails {
	/** The last `maxOutputBytes` of what the command wrote to stdout, decoded as UTF-8. */
	readonly stdout: string;
	/** The last `maxOutputBytes` of what the command wrote to stderr, decoded as UTF-8. */
	readonly stderr: string;
	/** Whether stdout was longer than the limit (only its end is kept). */
	readonly stdoutTruncated: boolean;
	/** Whether stderr was longer than the limit (only its end is kept). */
	readonly stderrTruncated: boolean;
}

/** What a command that exited with code 0 produced: its exit code (0) and the end of its output. */
export interface ProcessOutput extends ProcessTails {
	/** The exit code: 0. */
	readonly exitCode: number;
}

/** How a command that did not succeed ended: an exit code, or the signal that killed it. */
export interface ProcessEnd {
	/** The exit code, or `null` when a signal killed the command. */
	readonly exitCode: number | null;
	/** The signal that killed the command (`'SIGSEGV'`, `'SIGKILL'`), or `null` when it exited. */
	readonly signal: NodeJS.Signals | null;
}

/** How much of stderr the failure message carries (the whole tail is on `output.stderr`). */
const MESSAGE_STDERR_CHARS = 600;

/** `ffmpeg -i 'in put.mp4' -y`: the command line for messages, shortened, quoted where a shell would need it. */
export function describeCommand(command: string, args: readonly string[]): string {
	const quote = (part: string): string => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, "'\\''")}'`);
	const line = [command, ...args].map(quote).join(' ');
	return line.length <= 120 ? line : `${line.slice(0, 119)}…`;
}

/** The end of `text`, at most `max` characters, trimmed. */
function tailOf(text: string, max: number): string {
	const trimmed = text.trim();
	return trimmed.length <= max ? trimmed : `…${trimmed.slice(trimmed.length - max)}`;
}

/**
 * A command that exited with a non-zero code, or was killed by a signal it did not get from the actuator
 * (`code: 'ERR_PROCESS_EXIT'`). The message names the command, the code or signal, and the end of stderr;
 * `output` carries both tails. Retried like any failure.
 */
export class ProcessExitError extends ActuatorError {
	override name = 'ProcessExitError';
	override readonly code = 'ERR_PROCESS_EXIT';
	/** The exit code, or `null` when a signal killed the command. */
	readonly exitCode: number | null;
	/** The signal that killed the command, or `null` when it exited. */
	readonly signal: NodeJS.Signals | null;
	/** How it ended and both output tails. */
	readonly output: ProcessTails & ProcessEnd;

	constructor(commandLine: string, output: ProcessTails & ProcessEnd) {
		const how =
			output.signal !== null
				? `was killed by signal ${output.signal}`
				: `exited with code ${String(output.exitCode)}`;
		const stderr = tailOf(output.stderr, MESSAGE_STDERR_CHARS);
		super(`Command \`${commandLine}\` ${how}${stderr.length > 0 ? `: ${stderr}` : ''}`);
		this.exitCode = output.exitCode;
		this.signal = output.signal;
		this.output = output;
	}
}

/** What the operating system's error code means for someone starting a command. */
function spawnHint(code: string | undefined): string {
	switch (code) {
		case 'ENOENT':
			return 'not found: no such program on the PATH the command gets, or no such file';
		case 'EACCES':
			return 'cannot be executed: permission denied (is it executable?)';
		case 'ENOEXEC':
			return 'cannot be executed: not a program this system can run';
		case 'E2BIG':
			return 'cannot be started: its arguments and environment are too long';
		case 'EAGAIN':
		case 'ENOMEM':
			return 'cannot be started: the system is out of processes or memory';
		default:
			return 'cannot be started';
	}
}

/**
 * The command could not be started (`code: 'ERR_PROCESS_SPAWN'`): not found, not executable, a missing working
 * directory. `errno` is the system's code (`'ENOENT'`), `cause` its error.
 */
export class ProcessSpawnError extends ActuatorError {
	override name = 'ProcessSpawnError';
	override readonly code = 'ERR_PROCESS_SPAWN';
	/** The system error code (`'ENOENT'`, `'EACCES'`), when there is one. */
	readonly errno: string | undefined;

	constructor(message: string, errno: string | undefined, cause?: unknown) {
		super(message, cause === undefined ? {} : { cause });
		this.errno = errno;
	}

	/** The error for a failed spawn of `command` (in `cwd`, when one was given). */
	static of(command: string, error: unknown, cwd?: string): ProcessSpawnError {
		const errno = (error as { code?: unknown } | null)?.code;
		const code = typeof errno === 'string' ? errno : undefined;
		// A working directory removed after it was checked fails the same way as a missing program.
		const where = code === 'ENOENT' && cwd !== undefined ? ` (or its working directory \`${cwd}\` is gone)` : '';
		const detail = code === undefined && error instanceof Error ? `: ${error.message}` : '';
		return new ProcessSpawnError(
			`Command \`${command}\` ${spawnHint(code)}${where}${code === undefined ? '' : ` (${code})`}${detail}`,
			code,
			error,
		);
	}
}
