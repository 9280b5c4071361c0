/** The `ProcessActuator`'s options, and their checks and defaults. */
import { rejectUnknownOptions } from 'lightsched/kit';
import { isOutputLimit, MAX_OUTPUT_LIMIT } from './item.js';

/** What `new ProcessActuator(options)` takes; every option is optional. */
export interface ProcessActuatorOptions {
	/**
	 * How many bytes of the end of stdout and of stderr the output keeps, each (0 to 16 MiB); an item's own
	 * `maxOutputBytes` overrides it.
	 * @default 65536
	 */
	readonly maxOutputBytes?: number;
	/**
	 * How long a stopped command's process group gets after SIGTERM before SIGKILL, in milliseconds.
	 * @default 5000
	 */
	readonly killGraceMs?: number;
	/**
	 * The start of a stdout line that reports progress: the rest of the line, parsed as JSON when it is JSON
	 * (`::progress 42`, `::progress {"done":3,"of":10}`), else as text. `null` turns progress lines off.
	 * @default '::progress '
	 */
	readonly progressPrefix?: string | null;
	/**
	 * Which of the scheduler's environment variables a command gets: all (`true`), none (`false`), or the named
	 * ones (`['PATH', 'HOME', 'LANG']`). The actuator's `env` and the item's `env` are added on top.
	 * @default true
	 */
	readonly inheritEnv?: boolean | readonly string[];
	/** Variables every command gets (over the inherited ones; an item's `env` goes over these). Not stored on tasks. */
	readonly env?: Readonly<Record<string, string>>;
	/**
	 * When given, the only `command` values an item may name (compared as written: `'ffmpeg'` does not allow
	 * `'/usr/bin/ffmpeg'`). Checked at `add` and again before each start.
	 */
	readonly allowedCommands?: readonly string[];
}

/** The options checked, with their defaults filled in. */
export interface ResolvedProcessOptions {
	readonly maxOutputBytes: number;
	readonly killGraceMs: number;
	readonly progressPrefix: string | null;
	readonly inheritEnv: boolean | readonly string[];
	readonly env: Readonly<Record<string, string>>;
	readonly allowedCommands: ReadonlySet<string> | undefined;
}

const OPTION_NAMES = [
	'maxOutputBytes',
	'killGraceMs',
	'progressPrefix',
	'inheritEnv',
	'env',
	'allowedCommands',
] as const;
const DEFAULT_OUTPUT_LIMIT = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 5_000;

function checkEnv(name: string, value: unknown): Record<string, string> {
	const expected = `Expected \`${name}\` to be an object of variable names to strings`;
	if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(expected);
	for (const [key, entry] of Object.entries(value)) {
		if (!/^[^=\0]+$/.test(key) || typeof entry !== 'string' || entry.includes('\0'))
			throw new TypeError(`${expected}; \`${name}.${key}\` is not`);
	}
	return { ...(value as Record<string, string>) };
}

/** Checks the options (each bad one a `TypeError` naming it) and fills in the defaults. */
export function resolveProcessOptions(options: ProcessActuatorOptions): ResolvedProcessOptions {
	if (typeof options !== 'object' || options === null)
		throw new TypeError('Expected the ProcessActuator options to be an object');
	rejectUnknownOptions('ProcessActuator', options, OPTION_NAMES);
	const {
		maxOutputBytes = DEFAULT_OUTPUT_LIMIT,
		killGraceMs = DEFAULT_KILL_GRACE_MS,
		progressPrefix = '::progress ',
		inheritEnv = true,
		env = {},
		allowedCommands,
	} = options;
	if (!isOutputLimit(maxOutputBytes))
		throw new TypeError(
			`Expected \`maxOutputBytes\` to be an integer from 0 to ${MAX_OUTPUT_LIMIT}, got ${String(maxOutputBytes)}`,
		);
	if (!Number.isSafeInteger(killGraceMs) || killGraceMs < 0 || killGraceMs > 2_147_483_647) {
		throw new TypeError(
			`Expected \`killGraceMs\` to be an integer from 0 to 2147483647, got ${String(killGraceMs)}`,
		);
	}
	if (
		progressPrefix !== null &&
		(typeof progressPrefix !== 'string' || progressPrefix.length === 0 || /[\r\n]/.test(progressPrefix))
	) {
		throw new TypeError(
			`Expected \`progressPrefix\` to be a non-empty string without line breaks, or null, got ${String(progressPrefix)}`,
		);
	}
	if (
		typeof inheritEnv !== 'boolean' &&
		!(Array.isArray(inheritEnv) && inheritEnv.every((name) => typeof name === 'string'))
	) {
		throw new TypeError('Expected `inheritEnv` to be true, false or an array of variable names');
	}
	if (
		allowedCommands !== undefined &&
		!(Array.isArray(allowedCommands) && allowedCommands.every((c) => typeof c === 'string' && c.length > 0))
	) {
		throw new TypeError('Expected `allowedCommands` to be an array of command names or paths');
	}
	return {
		maxOutputBytes,
		killGraceMs,
		progressPrefix,
		inheritEnv: Array.isArray(inheritEnv) ? [...(inheritEnv as readonly string[])] : inheritEnv,
		env: checkEnv('env', env),
		allowedCommands: allowedCommands === undefined ? undefined : new Set(allowedCommands),
	};
}
