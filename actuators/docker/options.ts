/** The `DockerActuator`'s options. */
import type Dockerode from 'dockerode';
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
