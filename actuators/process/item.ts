/**
 * The process task item: what a task asks the process actuator to run, and its validation (errors name the
 * field: `item.args[2]`). The item is plain JSON, so it is stored as is by every container.
 */
import { InvalidTaskError } from 'lightsched';

/** What one process task runs. Only these fields are accepted; an unknown field is rejected at `add`. */
export interface ProcessTaskItem {
	/**
	 * The program: a name looked up on the `PATH` the command gets (`'ffmpeg'`), or a path (`'/usr/bin/ffmpeg'`,
	 * `'./bin/tool'`, relative to `cwd`). It is executed directly, never through a shell. Required.
	 */
	readonly command: string;
	/** The arguments, one per element, passed as they are: no shell, so no quoting, globbing or `$VAR` expansion. */
	readonly args?: readonly string[];
	/** The working directory (it must exist). Relative paths are resolved against the scheduler's working directory. */
	readonly cwd?: string;
	/**
	 * Environment variables added to the command's environment (over the actuator's `env` and the inherited
	 * ones). Stored in the task record like the rest of the item: pass secrets through the actuator's `env`.
	 */
	readonly env?: Readonly<Record<string, string>>;
	/** Text (UTF-8) written to the command's standard input, which is then closed. Without it stdin is `/dev/null`. */
	readonly stdin?: string;
	/**
	 * How many bytes of the end of stdout and of stderr the output keeps, each (0 to 16 MiB).
	 * @default the actuator's `maxOutputBytes` (64 KiB)
	 */
	readonly maxOutputBytes?: number;
}

/** The item after validation. */
export interface ResolvedProcessItem {
	readonly command: string;
	readonly args: readonly string[];
	readonly cwd: string | undefined;
	readonly env: Readonly<Record<string, string>>;
	readonly stdin: string | undefined;
	readonly maxOutputBytes: number | undefined;
}

/** The largest `maxOutputBytes`: the output is stored on the task record. */
export const MAX_OUTPUT_LIMIT = 16 * 1024 * 1024;

const FIELDS = ['command', 'args', 'cwd', 'env', 'stdin', 'maxOutputBytes'] as const;
const ENV_NAME = /^[^=\0]+$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
	const proto = Object.getPrototypeOf(value) as unknown;
	return proto === Object.prototype || proto === null;
}

function fail(field: string, expected: string, got: unknown): never {
	throw new InvalidTaskError(`item.${field}`, expected, got);
}

/** A string a process can be given (the kernel ends strings at NUL). */
function isText(value: unknown): value is string {
	return typeof value === 'string' && !value.includes('\0');
}

/** Checks `maxOutputBytes` wherever it is given (the item, the actuator's options). */
export function isOutputLimit(value: unknown): value is number {
	return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_OUTPUT_LIMIT;
}

/**
 * Checks a task item. Throws `InvalidTaskError` naming the field (`item.args[2]`) and what was expected.
 * `allowed` is the actuator's `allowedCommands`, when it has one.
 */
export function resolveProcessItem(item: unknown, allowed?: ReadonlySet<string>): ResolvedProcessItem {
	if (!isPlainObject(item))
		throw new InvalidTaskError('item', "an object such as `{ command: 'ls', args: ['-l'] }`", item);
	for (const key of Object.keys(item)) {
		if ((FIELDS as readonly string[]).includes(key)) continue;
		const hint =
			key === 'timeoutMs'
				? "absent (set the task's own `timeoutMs`: `add({ item, timeoutMs })` kills the process group when it expires)"
				: `absent (not a process item field; known fields: ${FIELDS.join(', ')})`;
		throw new InvalidTaskError(`item.${key}`, hint, item[key]);
	}
	const { command, args, cwd, env, stdin, maxOutputBytes } = item;
	if (!isText(command) || command.trim().length === 0)
		fail('command', "a program name or path such as 'ffmpeg' or '/usr/bin/ffmpeg'", command);
	if (command !== command.trim())
		fail('command', 'a program name or path without leading or trailing spaces (arguments go in `args`)', command);
	if (allowed !== undefined && !allowed.has(command)) {
		fail(
			'command',
			`one of the actuator's \`allowedCommands\` (${[...allowed].map((c) => JSON.stringify(c)).join(', ')})`,
			command,
		);
	}
	let argv: string[] = [];
	if (args !== undefined) {
		if (!Array.isArray(args)) fail('args', 'an array of strings, one argument per element', args);
		argv = args.map((arg: unknown, index) => {
			if (!isText(arg)) fail(`args[${index}]`, 'a string without NUL characters', arg);
			return arg;
		});
	}
	if (cwd !== undefined && (!isText(cwd) || cwd.length === 0)) fail('cwd', 'a path to an existing directory', cwd);
	const vars: Record<string, string> = {};
	if (env !== undefined) {
		if (!isPlainObject(env))
			fail('env', "an object of variable names to string values, such as `{ LANG: 'C.UTF-8' }`", env);
		for (const [name, value] of Object.entries(env)) {
			if (!ENV_NAME.test(name)) fail('env', "variable names without '=' or NUL characters", name);
			if (!isText(value)) fail(`env.${name}`, 'a string without NUL characters', value);
			vars[name] = value;
		}
	}
	if (stdin !== undefined && typeof stdin !== 'string')
		fail('stdin', 'a string (written to the command as UTF-8)', stdin);
	if (maxOutputBytes !== undefined && !isOutputLimit(maxOutputBytes))
		fail('maxOutputBytes', `an integer from 0 to ${MAX_OUTPUT_LIMIT}`, maxOutputBytes);
	return { command, args: argv, cwd, env: vars, stdin, maxOutputBytes };
}
