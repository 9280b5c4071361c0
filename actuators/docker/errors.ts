/** Turning the engine's and the socket's errors into clear `ActuatorError`s, and the container-exit failure. */
import { ActuatorError } from 'lightsched';
import type Dockerode from 'dockerode';
import { formatBytes } from './item.js';

/** What a finished container produced: its exit code and the end of its output. */
export interface DockerOutput {
	/** The container's exit code. */
	readonly exitCode: number;
	/** The last `logLimitBytes` of what the container wrote to stdout (UTF-8). */
	readonly stdout: string;
	/** The last `logLimitBytes` of what the container wrote to stderr (UTF-8). */
	readonly stderr: string;
	/** Whether stdout was longer than the limit (only its end is kept). */
	readonly stdoutTruncated: boolean;
	/** Whether stderr was longer than the limit (only its end is kept). */
	readonly stderrTruncated: boolean;
}

/**
 * The failure of a container that exited with a non-zero code (`code: 'ERR_CONTAINER_EXIT'`) or was killed
 * for exceeding its memory limit (`code: 'ERR_CONTAINER_OOM'`). Carries the exit code and the output tails.
 */
export class DockerExitError extends ActuatorError {
	/** The class name. */
	override name = 'DockerExitError';
	/** `ERR_CONTAINER_OOM` when the engine killed the container for its memory limit, else `ERR_CONTAINER_EXIT`. */
	override readonly code: 'ERR_CONTAINER_EXIT' | 'ERR_CONTAINER_OOM';
	/** The container's exit code. */
	readonly exitCode: number;
	/** Whether the engine killed it for its memory limit (`State.OOMKilled`). */
	readonly oomKilled: boolean;
	/** What the container produced. */
	readonly output: DockerOutput;
	/** The container's id. */
	readonly containerId: string;

	constructor(containerId: string, output: DockerOutput, oomKilled: boolean, memoryBytes: number | undefined) {
		const short = containerId.slice(0, 12);
		let message: string;
		if (oomKilled) {
			const limit = memoryBytes === undefined ? 'the engine or host limit' : formatBytes(memoryBytes);
			message = `Container ${short} killed: out of memory (limit ${limit}), exit code ${output.exitCode}`;
		} else {
			message = `Container ${short} exited with code ${output.exitCode}`;
		}
		const tail = lastLines(output.stderr, 600);
		super(tail.length > 0 ? `${message}: ${tail}` : message);
		this.code = oomKilled ? 'ERR_CONTAINER_OOM' : 'ERR_CONTAINER_EXIT';
		this.exitCode = output.exitCode;
		this.oomKilled = oomKilled;
		this.output = output;
		this.containerId = containerId;
	}
}

/**
 * The former name of {@link DockerExitError} ("container" also names a task store here).
 * @deprecated Use `DockerExitError`; this alias is kept so existing code compiles.
 */
export const ContainerExitError = DockerExitError;
/** The former name of {@link DockerExitError}. @deprecated Use `DockerExitError`. */
export type ContainerExitError = DockerExitError;

/** The end of `text`, at most `max` characters, trimmed. */
function lastLines(text: string, max: number): string {
	const trimmed = text.trim();
	return trimmed.length <= max ? trimmed : `…${trimmed.slice(trimmed.length - max)}`;
}

const CONNECTION_CODES = new Set([
	'ENOENT',
	'ECONNREFUSED',
	'EACCES',
	'EPERM',
	'ECONNRESET',
	'EPIPE',
	'EHOSTUNREACH',
	'ENETUNREACH',
	'ETIMEDOUT',
	'ENOTFOUND',
	'EAI_AGAIN',
	'ENOTSOCK',
]);

/** The HTTP status of an engine error (404, 409, …), if it is one. */
export function statusOf(error: unknown): number | undefined {
	const status = (error as { statusCode?: unknown } | null)?.statusCode;
	return typeof status === 'number' ? status : undefined;
}

/** The engine's own message for an HTTP error (`No such image: x`), else the error's message. */
export function engineMessage(error: unknown): string {
	const json = (error as { json?: unknown } | null)?.json;
	if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
		return (json as { message: string }).message.trim();
	}
	if (typeof json === 'string' && json.trim().length > 0) return json.trim();
	return error instanceof Error ? error.message : String(error);
}

/** Whether the error says the daemon could not be reached at all (as opposed to an answer from it). */
export function isConnectionError(error: unknown): boolean {
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === 'string' && CONNECTION_CODES.has(code) && statusOf(error) === undefined;
}

/** Where the client talks to: `unix:///var/run/docker.sock` or `http://host:2375`. */
export function describeEndpoint(docker: Dockerode): string {
	const modem = docker.modem as { socketPath?: unknown; host?: unknown; port?: unknown; protocol?: unknown };
	if (typeof modem.socketPath === 'string' && modem.socketPath.length > 0) {
		return modem.socketPath.startsWith('//./pipe') ? `npipe://${modem.socketPath}` : `unix://${modem.socketPath}`;
	}
	const protocol = typeof modem.protocol === 'string' ? modem.protocol : 'http';
	return `${protocol}://${String(modem.host ?? 'localhost')}${modem.port === undefined ? '' : `:${String(modem.port)}`}`;
}

function connectionHint(code: string): string {
	switch (code) {
		case 'ENOENT':
			return 'no socket exists at that path (is dockerd running, and is `socketPath` right?)';
		case 'ECONNREFUSED':
			return 'nothing accepts connections there (is dockerd running?)';
		case 'EACCES':
		case 'EPERM':
			return 'permission denied on the socket (run as root or as a member of the `docker` group)';
		case 'ENOTSOCK':
			return 'that path is not a socket (is `socketPath` right?)';
		default:
			return 'the connection failed';
	}
}

/**
 * An `ActuatorError` saying what failed (`doing`, such as "creating the container for task `t1`") and why:
 * the daemon is unreachable (with the endpoint and a hint), or the engine's own answer.
 */
export function dockerError(doing: string, error: unknown, docker: Dockerode): ActuatorError {
	if (error instanceof ActuatorError) return error;
	if (isConnectionError(error)) {
		const code = (error as { code: string }).code;
		return new ActuatorError(
			`Cannot reach the Docker daemon at ${describeEndpoint(docker)} while ${doing}: ${code}, ${connectionHint(code)}`,
			{ cause: error },
		);
	}
	const status = statusOf(error);
	const prefix = status === undefined ? '' : `(HTTP ${status}) `;
	return new ActuatorError(
		`Docker failed ${doing}: ${prefix}${engineMessage(error)} (daemon at ${describeEndpoint(docker)})`,
		{ cause: error },
	);
}
