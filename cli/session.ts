/**
 * What every command works with: the container named by `--container`/`--name`, under a Scheduler that claims
 * nothing (`autoStart: false`), so every command goes through the public API (stop, remove and add as an
 * application would), and closes it all when done.
 */
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { CliError, EXIT } from './cli-error.js';
import { openContainer, parseContainerSpec } from './container-spec.js';
import type { Io } from './output.js';

/** The options every command takes. */
export interface GlobalOptions {
	readonly container?: string;
	readonly name?: string;
	readonly json?: boolean;
}

/** `--container`, else LIGHTSCHED_CONTAINER (an empty variable counts as unset). */
export function containerOption(options: GlobalOptions): string | undefined {
	return options.container ?? (process.env.LIGHTSCHED_CONTAINER || undefined);
}

/** `--name`, else LIGHTSCHED_NAME (an empty variable counts as unset). */
export function nameOption(options: GlobalOptions): string | undefined {
	return options.name ?? (process.env.LIGHTSCHED_NAME || undefined);
}

/** A command's context. */
export interface Session {
	readonly scheduler: Scheduler<unknown, unknown>;
	readonly container: TaskContainer;
	readonly io: Io;
	readonly json: boolean;
}

/** A scheduler on `container` that claims and runs nothing; closing it closes the container. */
export function adminScheduler(container: TaskContainer): Scheduler<unknown, unknown> {
	const scheduler = new Scheduler<unknown, unknown>({
		container,
		autoStart: false,
		actuator: new FunctionActuator(() => {
			throw new CliError('This scheduler only administers the container; it runs nothing', EXIT.failed);
		}),
	});
	// Background trouble (a sweep failing while the server is down) is the command's own error, reported once.
	scheduler.on('error', () => {});
	return scheduler;
}

/** Open the container, run `command`, close everything (also when it throws). */
export async function withSession<T>(
	options: GlobalOptions,
	io: Io,
	command: (session: Session) => Promise<T>,
): Promise<T> {
	const container = await openContainer(parseContainerSpec(containerOption(options)), nameOption(options));
	const scheduler = adminScheduler(container);
	try {
		return await command({ scheduler, container, io, json: options.json === true });
	} finally {
		await scheduler.close();
	}
}
