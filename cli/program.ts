/**
 * The `lightsched` command line: its commands and options (commander), run by `main.ts`.
 *
 *   lightsched --container sqlite:tasks.db counts
 *   lightsched --container redis://127.0.0.1:6379 --name videos list --status failed
 *   lightsched --container postgres://app@db/app add '{"a":10,"b":20}'
 *   lightsched --container sqlite:tasks.db worker --module ./add.js --concurrency 8
 *
 *   lightsched --container sqlite:tasks.db runs retry-from <run id> deploy
 *
 * Exit codes (cli-error.ts): 0 done, 1 failed, 2 bad usage, 3 no such task or run, 4 its state refuses the command.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, exitCodeOf } from './cli-error.js';
import type { Io } from './output.js';
import { withSession, type GlobalOptions } from './session.js';
import {
	addCommand,
	cleanCommand,
	logsCommand,
	pauseCommand,
	countsCommand,
	getCommand,
	listCommand,
	removeCommand,
	retryCommand,
	stopCommand,
	type AddOptions,
	type CleanOptions,
	type ListOptions,
	type LogsOptions,
} from './task-commands.js';
import { workerCommand, type WorkerOptions } from './worker-command.js';
import { sendCommand, type SendOptions } from './send-command.js';
import { dashboardCommand, type DashboardOptions } from './dashboard-command.js';
import {
	runCleanCommand,
	runListCommand,
	runOperatorCommand,
	runRemoveCommand,
	runRetryCommand,
	runShowCommand,
	type RunCleanOptions,
	type RunListOptions,
	type RunRetryOptions,
} from './run-commands.js';

/** Resolves with the name of the first SIGINT or SIGTERM. */
function signals(): Promise<string> {
	return new Promise((resolve) => {
		const on = (name: string) => () => resolve(name);
		process.once('SIGINT', on('SIGINT'));
		process.once('SIGTERM', on('SIGTERM'));
	});
}

/** Parse `argv` (without node and the script) and run the command; resolves with the exit code. */
export async function run(
	argv: readonly string[],
	io: Io,
	stdin: NodeJS.ReadableStream & { isTTY?: boolean },
): Promise<number> {
	let code: number = EXIT.ok;
	const program = new Command('lightsched')
		.description('Look at and steer a lightsched container, and run workers.')
		.addOption(
			new Option('-c, --container <spec>', 'sqlite:<path>, postgres://… or redis://… (or LIGHTSCHED_CONTAINER)'),
		)
		.addOption(
			new Option('-n, --name <name>', "the container's name: Redis name, SQL table prefix (or LIGHTSCHED_NAME)"),
		)
		.option('--json', 'print JSON instead of text')
		.configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
		.exitOverride()
		.showHelpAfterError('(run with --help for usage)');
	const global = (): GlobalOptions => program.opts<GlobalOptions>();
	const session = <T>(command: Parameters<typeof withSession<T>>[2]) => withSession(global(), io, command);

	program
		.command('counts')
		.description('how many tasks are in each status')
		.action(() => session(countsCommand));
	program
		.command('list')
		.description('a page of tasks, newest first')
		.option('-s, --status <statuses>', 'only these statuses, comma-separated')
		.option('-l, --limit <n>', 'tasks per page', '20')
		.option('-o, --offset <n>', 'skip this many')
		.option('--order <order>', 'desc (newest first) or asc')
		.action((options: ListOptions) => session((s) => listCommand(s, options)));
	program
		.command('get')
		.description("a task's record: item, output, error, attempts, times")
		.argument('<id>')
		.action((id: string) => session((s) => getCommand(s, id)));
	program
		.command('add')
		.description('add a task; the item as a JSON argument, `--field key=value`s, or JSON on stdin')
		.argument('[item]', 'the item as JSON; `-` or nothing: read stdin')
		.option('--id <id>', "the task's id (one is made up otherwise)")
		.option(
			'-f, --field <key=value>',
			'an item field (repeatable); the value is JSON when it parses',
			(v: string, all: string[] = []) => [...all, v],
		)
		.option('--priority <n>', 'higher runs first (priority containers)')
		.option('--max-attempts <n>', 'attempts before it fails for good')
		.option('--timeout <duration>', 'each attempt at most this long (e.g. 30s)')
		.option('--delay <duration>', 'due after this long (e.g. 5m)')
		.action((item: string | undefined, options: AddOptions) => session((s) => addCommand(s, item, options, stdin)));
	program
		.command('send')
		.description("add a task made of this command's `--key value` options (`send --a 10 --b 20`)")
		.usage('[options] --<key> <value>...')
		.allowUnknownOption()
		.allowExcessArguments()
		.option('--id <id>', "the task's id (one is made up otherwise)")
		.option('--priority <n>', 'higher runs first (priority containers)')
		.option('--max-attempts <n>', 'attempts before it fails for good')
		.option('--timeout <duration>', 'each attempt at most this long (e.g. 30s)')
		.option('--delay <duration>', 'due after this long (e.g. 5m)')
		.option('--wait', 'wait for the end, print the output; exit 1 when the task failed or was stopped')
		.action(async (options: SendOptions, command: Command) => {
			code = await session((s) => sendCommand(s, command.args, options));
		});
	program
		.command('stop')
		.description('stop tasks: a waiting one at once, a running one through its scheduler')
		.argument('<ids...>')
		.action((ids: string[]) => session((s) => stopCommand(s, ids)));
	program
		.command('retry')
		.description('run finished tasks again (same id, item and settings)')
		.argument('<ids...>')
		.action((ids: string[]) => session((s) => retryCommand(s, ids)));
	program
		.command('remove')
		.description('delete finished tasks (stop a running one first)')
		.argument('<ids...>')
		.action((ids: string[]) => session((s) => removeCommand(s, ids)));
	program
		.command('clean')
		.description('remove finished tasks, oldest first')
		.option('-s, --status <statuses>', 'which final statuses (default succeeded,failed,stopped)')
		.option('--older-than <duration>', 'finished more than this long ago (e.g. 7d)')
		.option('--keep <n>', 'keep the newest n of each status')
		.option('-l, --limit <n>', 'remove at most this many')
		.option('--dry-run', 'count them, remove nothing')
		.action((options: CleanOptions) => session((s) => cleanCommand(s, options)));
	program
		.command('logs')
		.description("a task's log lines (what its work logged), oldest first")
		.argument('<id>')
		.option('-o, --offset <n>', 'from line n; negative: the newest n (e.g. -20)')
		.option('-l, --limit <n>', 'at most this many lines', '100')
		.option('-f, --follow', 'then print new lines as they come, until the task has finished')
		.action((id: string, options: LogsOptions) => session((s) => logsCommand(s, id, options)));
	program
		.command('pause')
		.description('pause claiming for every worker on the container (stored until `resume`)')
		.action(() => session((s) => pauseCommand(s, true)));
	program
		.command('resume')
		.description('let every worker on the container claim again')
		.action(() => session((s) => pauseCommand(s, false)));
	program
		.command('worker')
		.alias('run')
		.description("run the container's tasks until Ctrl+C, then hand the running ones back")
		.option(
			'-m, --module <file>',
			'a module whose default export (or --export) is the task function, run in worker threads',
		)
		.option('--export <name>', 'the named export of --module')
		.option('--docker', 'run each item as a Docker task (DockerActuator)')
		.option('--http <file>', "a module whose default export is the HttpActuator's options")
		.option('--actuator <file>', 'a module whose default export is a TaskActuator')
		.option('--concurrency <n>', 'tasks at a time', '8')
		.option('--max-attempts <n>', 'default attempts per task')
		.option('--timeout <duration>', 'default time limit per attempt')
		.option('--lease <duration>', 'lease length on a shared container (default 30s)')
		.option('--drain', 'on Ctrl+C, let running tasks finish instead of handing them back')
		.action(async (options: WorkerOptions) => {
			code = await workerCommand(global(), options, io, signals());
		});

	program
		.command('dashboard')
		.description('serve the dashboard (a web page over the container) until Ctrl+C')
		.option('-p, --port <n>', 'the port', '4555')
		.option('--host <host>', 'the interface to listen on (default 127.0.0.1: this machine only)')
		.option('--token <token>', 'require `Authorization: Bearer <token>` (or LIGHTSCHED_DASHBOARD_TOKEN)')
		.option('--read-only', 'refuse every action (stop, retry, remove, clean, pause)')
		.option('--title <title>', "the page's title")
		.action(async (options: DashboardOptions) => {
			code = await dashboardCommand(global(), options, io, signals());
		});

	const runs = program
		.command('runs')
		.description('workflow runs: list, show, steer (applied by the workers within their sweep), remove, clean');
	runs.command('list')
		.description('a page of runs, newest first')
		.option('-s, --status <statuses>', 'only these statuses, comma-separated')
		.option('-d, --definition <name>', 'only runs of this workflow')
		.option('-k, --key <key>', 'only runs with this business key')
		.option('-l, --limit <n>', 'runs per page', '20')
		.option('-o, --offset <n>', 'skip this many')
		.option('--order <order>', 'desc (newest first) or asc')
		.action((options: RunListOptions) => session((s) => runListCommand(s, options)));
	runs.command('show')
		.description('a run: status, vars, key, times, error, and its steps')
		.argument('<id>')
		.action((id: string) => session((s) => runShowCommand(s, id)));
	runs.command('stop')
		.description('stop a run: no step starts, running steps are stopped')
		.argument('<id>')
		.action((id: string) => session((s) => runOperatorCommand(s, 'stop', id)));
	runs.command('pause')
		.description('start no new step until `runs resume`')
		.argument('<id>')
		.option('--now', 'also stop the running steps (they run again on resume)')
		.action((id: string, options: { now?: boolean }) =>
			session((s) => runOperatorCommand(s, 'pause', id, { now: options.now === true })),
		);
	runs.command('resume')
		.description('resume a paused run')
		.argument('<id>')
		.action((id: string) => session((s) => runOperatorCommand(s, 'resume', id)));
	runs.command('retry')
		.description("run a failed or stopped run's failed and stopped steps again, and what depends on them")
		.argument('[id]')
		.option('--failed', 'every failed run instead (of --key, of --definition)')
		.option('-k, --key <key>', 'with --failed: only runs with this business key')
		.option('-d, --definition <name>', 'with --failed: only runs of this workflow')
		.option('-l, --limit <n>', 'with --failed: at most the oldest n')
		.action((id: string | undefined, options: RunRetryOptions) => session((s) => runRetryCommand(s, id, options)));
	for (const [name, command, description] of [
		['retry-from', 'retryFrom', 'run the step and every step downstream of it again'],
		['continue', 'continue', 'release a blocked step'],
		['skip', 'skip', 'count a step that has not run (or failed, or was stopped) as skipped'],
	] as const)
		runs.command(name)
			.description(description)
			.argument('<id>')
			.argument('<step>')
			.action((id: string, stepId: string) => session((s) => runOperatorCommand(s, command, id, { stepId })));
	runs.command('remove')
		.description('delete finished runs and their step tasks')
		.argument('<ids...>')
		.action((ids: string[]) => session((s) => runRemoveCommand(s, ids)));
	runs.command('clean')
		.description("delete one final status's runs, and their step tasks, by age or count")
		.requiredOption('-s, --status <status>', 'succeeded, failed or stopped')
		.option('--older-than <duration>', 'finished more than this long ago (e.g. 7d)')
		.option('--keep <n>', 'keep the newest n')
		.option('-d, --definition <name>', 'only runs of this workflow')
		.option('--dry-run', 'count them, remove nothing')
		.action((options: RunCleanOptions) => session((s) => runCleanCommand(s, options)));

	try {
		await program.parseAsync(argv, { from: 'user' });
	} catch (error) {
		if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
		io.err.write(`lightsched: ${error instanceof Error ? error.message : String(error)}\n`);
		return exitCodeOf(error);
	}
	return code;
}
