/** The `DockerActuator`'s options, and their checks and defaults. */
import Dockerode from 'dockerode';
import { rejectUnknownOptions } from 'lightsched/kit';
import type { OrphanPolicy } from './orphans.js';

/** What `new DockerActuator(options)` takes; every option is optional. */
export interface DockerActuatorOptions {
	/**
	 * The Docker client: a dockerode instance (shared, not closed by the actuator), or dockerode's connection
	 * options such as `{ socketPath: '/run/docker.sock' }` or `{ host, port }` (one client is made from them).
	 * @default DOCKER_HOST, else the socket /var/run/docker.sock
	 */
	readonly docker?: Dockerode | Dockerode.DockerOptions;
	/**
	 * Whether an image the engine lacks is pulled before the container is created (`'missing'`), or the task
	 * fails naming the image (`'never'`).
	 * @default 'missing'
	 */
	readonly pull?: 'missing' | 'never';
	/**
	 * Keep finished, stopped and orphaned containers (killed, not removed), for debugging.
	 * @default false
	 */
	readonly keepContainers?: boolean;
	/**
	 * How many bytes of the end of stdout and of stderr the output keeps, each.
	 * @default 65536
	 */
	readonly logLimitBytes?: number;
	/**
	 * Stream the container's stdout and stderr to the task's log (`ctx.log`) while it runs, one line at a time:
	 * stderr lines start with `[stderr] `, a line is cut at 8,192 characters. After a reattach, lines from the
	 * moment of the reattach on. `false`: only the output tails.
	 * @default true
	 */
	readonly logs?: boolean;
	/**
	 * A container of an earlier attempt still running when its task starts again (after a takeover):
	 * `'reattach'` waits on it instead of starting another, `'kill'` kills it and starts afresh.
	 * @default 'reattach'
	 */
	readonly orphans?: OrphanPolicy;
	/**
	 * The name of this application's scheduler(s), stored as the `lightsched.scheduler` label; `cleanupOrphans`
	 * only looks at containers with the same name. Give each application sharing a Docker engine its own.
	 * @default 'lightsched'
	 */
	readonly schedulerId?: string;
	/**
	 * How long one short call to the daemon (create, start, inspect, kill, remove, list) may take, in
	 * milliseconds; a daemon that does not answer in time fails the call with a `DockerTimeoutError` naming
	 * its address. Image pulls and the wait for a container's exit are not limited by it.
	 * @default 30000
	 */
	readonly requestTimeoutMs?: number;
	/**
	 * While containers run, the daemon is pinged this often (milliseconds); when a ping fails or gets no
	 * answer within `requestTimeoutMs`, the running attempts fail with that error instead of waiting for ever
	 * on a daemon that hung or went away.
	 * @default 10000
	 */
	readonly pingIntervalMs?: number;
	/**
	 * Hears problems that change no task's outcome (a finished container that could not be removed).
	 * @default process.emitWarning
	 */
	readonly onError?: (error: Error) => void;
}

/** The options checked, with their defaults filled in, and the one client. */
export interface ResolvedDockerOptions {
	readonly docker: Dockerode;
	readonly pull: 'missing' | 'never';
	readonly keepContainers: boolean;
	readonly logLimitBytes: number;
	readonly logs: boolean;
	readonly orphans: OrphanPolicy;
	readonly schedulerId: string;
	readonly requestTimeoutMs: number;
	readonly pingIntervalMs: number;
	readonly onError: ((error: Error) => void) | undefined;
}

const OPTION_NAMES = [
	'docker',
	'pull',
	'keepContainers',
	'logLimitBytes',
	'logs',
	'orphans',
	'schedulerId',
	'requestTimeoutMs',
	'pingIntervalMs',
	'onError',
] as const;
const DEFAULT_LOG_LIMIT = 64 * 1024;
const SCHEDULER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;

function isDockerode(value: unknown): value is Dockerode {
	return (
		typeof value === 'object' &&
		value !== null &&
		typeof (value as Dockerode).createContainer === 'function' &&
		'modem' in value
	);
}

/** Checks the options (each bad one a `TypeError` naming it) and fills in the defaults. */
export function resolveDockerOptions(options: DockerActuatorOptions): ResolvedDockerOptions {
	if (typeof options !== 'object' || options === null)
		throw new TypeError('Expected the DockerActuator options to be an object');
	rejectUnknownOptions('DockerActuator', options, OPTION_NAMES);
	const {
		docker,
		pull = 'missing',
		keepContainers = false,
		logLimitBytes = DEFAULT_LOG_LIMIT,
		logs = true,
		orphans = 'reattach',
		schedulerId = 'lightsched',
		requestTimeoutMs = 30_000,
		pingIntervalMs = 10_000,
		onError,
	} = options;
	if (docker !== undefined && (typeof docker !== 'object' || docker === null)) {
		throw new TypeError(
			'Expected `docker` to be a dockerode instance or connection options such as `{ socketPath }`',
		);
	}
	if (pull !== 'missing' && pull !== 'never')
		throw new TypeError(`Expected \`pull\` to be 'missing' or 'never', got ${String(pull)}`);
	if (typeof keepContainers !== 'boolean') throw new TypeError('Expected `keepContainers` to be a boolean');
	if (!Number.isSafeInteger(logLimitBytes) || logLimitBytes < 0)
		throw new TypeError(`Expected \`logLimitBytes\` to be an integer >= 0, got ${String(logLimitBytes)}`);
	if (typeof logs !== 'boolean') throw new TypeError(`Expected \`logs\` to be a boolean, got ${String(logs)}`);
	if (orphans !== 'reattach' && orphans !== 'kill')
		throw new TypeError(`Expected \`orphans\` to be 'reattach' or 'kill', got ${String(orphans)}`);
	if (typeof schedulerId !== 'string' || !SCHEDULER_ID.test(schedulerId)) {
		throw new TypeError(
			`Expected \`schedulerId\` to be 1-128 letters, digits, '_', '.', ':' or '-', got ${String(schedulerId)}`,
		);
	}
	for (const [name, value] of [
		['requestTimeoutMs', requestTimeoutMs],
		['pingIntervalMs', pingIntervalMs],
	] as const) {
		if (!Number.isSafeInteger(value) || value < 1)
			throw new TypeError(`Expected \`${name}\` to be an integer >= 1 (milliseconds), got ${String(value)}`);
	}
	if (onError !== undefined && typeof onError !== 'function')
		throw new TypeError('Expected `onError` to be a function');
	return {
		docker: isDockerode(docker) ? docker : new Dockerode(docker),
		pull,
		keepContainers,
		logLimitBytes,
		logs,
		orphans,
		schedulerId,
		requestTimeoutMs,
		pingIntervalMs,
		onError,
	};
}
