/**
 * `lightsched worker`: run the container's tasks in this process until Ctrl+C (SIGINT) or SIGTERM, then close
 * the scheduler, which hands the running tasks back to waiting uncounted (or, with `--drain`, lets them finish).
 * The actuator: `--module ./handler.js` (a function run in worker threads: the module's default export, or
 * `--export name`), `--docker` (each item a Docker task: DockerActuator), `--http ./service.js` (a module whose
 * default export is the HttpActuator's options) or `--actuator ./actuator.js` (a module whose default export is
 * any TaskActuator).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Scheduler, type TaskActuator, type TaskRecord } from 'lightsched';
import { CliError, EXIT } from './cli-error.js';
import { openContainer, parseContainerSpec } from './container-spec.js';
import { relativeTime, StatusLine, type Io } from './output.js';
import { parseCount, parseDuration } from './parse-values.js';
import { containerOption, nameOption, type GlobalOptions } from './session.js';

export interface WorkerOptions {
	readonly module?: string;
	readonly export?: string;
	readonly docker?: boolean;
	readonly http?: string;
	readonly actuator?: string;
	readonly concurrency?: string;
	readonly maxAttempts?: string;
	readonly timeout?: string;
	readonly lease?: string;
	readonly drain?: boolean;
}

/** At most 60 characters on one line. */
function short(text: string): string {
	const flat = text.replace(/\s+/g, ' ');
	return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}

async function defaultExport(path: string, option: string): Promise<unknown> {
	const url = pathToFileURL(resolve(path)).href;
	let module: { default?: unknown };
	try {
		module = (await import(url)) as { default?: unknown };
	} catch (error) {
		throw new CliError(`Could not load \`${option} ${path}\`: ${(error as Error).message}`, EXIT.usage, {
			cause: error,
		});
	}
	if (module.default === undefined)
		throw new CliError(`Expected \`${option} ${path}\` to have a default export`, EXIT.usage);
	return module.default;
}

async function makeActuator(options: WorkerOptions): Promise<TaskActuator<unknown, unknown>> {
	const chosen = [options.module, options.docker, options.http, options.actuator].filter(
		(v) => v !== undefined && v !== false,
	);
	if (chosen.length !== 1)
		throw new CliError(
			'Expected exactly one of `--module <file>`, `--docker`, `--http <file>` or `--actuator <file>`',
			EXIT.usage,
		);
	if (options.module !== undefined) {
		const { FunctionActuator } = await import('lightsched/actuators/function');
		return new FunctionActuator({
			module: pathToFileURL(resolve(options.module)),
			...(options.export === undefined ? {} : { export: options.export }),
		});
	}
	if (options.docker === true) {
		const { DockerActuator } = await import('lightsched/actuators/docker');
		return new DockerActuator() as unknown as TaskActuator<unknown, unknown>;
	}
	if (options.http !== undefined) {
		const { HttpActuator } = await import('lightsched/actuators/http');
		const config = await defaultExport(options.http, '--http');
		return new HttpActuator(config as ConstructorParameters<typeof HttpActuator>[0]);
	}
	const actuator = await defaultExport(options.actuator as string, '--actuator');
	if (typeof (actuator as { start?: unknown }).start !== 'function')
		throw new CliError(
			`Expected \`--actuator ${options.actuator}\`'s default export to be a TaskActuator (with a start method)`,
			EXIT.usage,
		);
	return actuator as TaskActuator<unknown, unknown>;
}

/**
 * Run until `stop` resolves (the signals, in the real binary). Resolves with the exit code: 0 after a clean stop.
 */
export async function workerCommand(
	global: GlobalOptions,
	options: WorkerOptions,
	io: Io,
	stop: Promise<string>,
): Promise<number> {
	const actuator = await makeActuator(options);
	const container = await openContainer(parseContainerSpec(containerOption(global)), nameOption(global));
	const scheduler = new Scheduler<unknown, unknown>({
		container,
		actuator,
		concurrency: options.concurrency === undefined ? 8 : parseCount('--concurrency', options.concurrency, 1),
		...(options.maxAttempts === undefined
			? {}
			: { maxAttempts: parseCount('--max-attempts', options.maxAttempts, 1) }),
		...(options.timeout === undefined ? {} : { timeoutMs: parseDuration('--timeout', options.timeout) }),
		...(options.lease === undefined ? {} : { leaseMs: parseDuration('--lease', options.lease) }),
	});
	const json = global.json === true;
	const tally = { succeeded: 0, failed: 0, stopped: 0, retrying: 0 };
	const line = new StatusLine(
		io,
		() =>
			`worker ${scheduler.id}: running ${scheduler.running} · succeeded ${tally.succeeded} · failed ${tally.failed} · retrying ${tally.retrying} · stopped ${tally.stopped}`,
	);
	const say = (event: string, task: TaskRecord, extra: Record<string, unknown> = {}): void => {
		if (json)
			io.out.write(
				`${JSON.stringify({ event, id: task.id, status: task.status, attempts: task.attempts, ...extra })}\n`,
			);
		else {
			const took =
				task.startedAt === null
					? ''
					: ` in ${relativeTime(task.startedAt, task.finishedAt ?? task.updatedAt).replace(' ago', '')}`;
			const why =
				typeof extra.error === 'string'
					? `: ${extra.error}`
					: event === 'succeeded' && task.output !== null && task.output !== undefined
						? `: ${short(JSON.stringify(task.output) ?? String(task.output))}`
						: '';
			io.out.write(`${io.out.isTTY === true ? '\r\u001b[2K' : ''}${event} ${task.id}${took}${why}\n`);
		}
	};
	scheduler.on('task:succeeded', ({ task }) => {
		tally.succeeded++;
		say('succeeded', task);
	});
	scheduler.on('task:failed', ({ task, error }) => {
		tally.failed++;
		say('failed', task, { error: error.message });
	});
	scheduler.on('task:retrying', ({ task, error }) => {
		tally.retrying++;
		say('retrying', task, { error: error.message });
	});
	scheduler.on('task:stopped', ({ task }) => {
		tally.stopped++;
		say('stopped', task);
	});
	scheduler.on('error', (error) => io.err.write(`error: ${error.message}\n`));
	scheduler.on('container:down', ({ error }) => io.err.write(`container down: ${error.message}\n`));
	scheduler.on('container:up', ({ durationMs }) => io.err.write(`container up again after ${durationMs} ms\n`));
	if (!json)
		io.err.write(
			`worker ${scheduler.id} started (concurrency ${options.concurrency ?? 8}); Ctrl+C hands its tasks back and stops\n`,
		);
	// A queue paused from any process holds this worker too: say so, or it looks stuck.
	scheduler.isQueuePaused().then(
		(paused) => {
			if (paused) io.err.write('the queue is paused: no task starts here until `lightsched resume`\n');
		},
		() => undefined,
	);
	const signal = await stop;
	line.done();
	if (!json)
		io.err.write(
			`${signal}: ${options.drain === true ? 'letting running tasks finish' : 'handing running tasks back'}...\n`,
		);
	await scheduler.close(options.drain === true ? { drain: true } : {});
	if (json) io.out.write(`${JSON.stringify({ event: 'closed', signal, ...tally })}\n`);
	else io.err.write('stopped\n');
	return EXIT.ok;
}
