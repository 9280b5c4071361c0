/**
 * The CLI's exit codes and the error that carries one. Scripts branch on the code; the message goes to stderr.
 */

/** What `lightsched` exits with. */
export const EXIT = {
	/** Done. */
	ok: 0,
	/** The container or the work failed (a server down, a task that failed under `add --wait`...). */
	failed: 1,
	/** Bad arguments: an unknown command or option, a value that does not parse. */
	usage: 2,
	/** No task (or workflow run) with that id. */
	notFound: 3,
	/**
	 * The task or run is in a state that refuses the command (retry of a running task, add of an id still waiting,
	 * resume of a run that is not paused...).
	 */
	conflict: 4,
} as const;

/** An error the CLI reports in one line and exits with `exitCode`. */
export class CliError extends Error {
	readonly exitCode: number;

	constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
		super(message, options);
		this.name = 'CliError';
		this.exitCode = exitCode;
	}
}

/** The exit code for any error: a `CliError`'s own, the scheduler's error codes mapped, else `failed`. */
export function exitCodeOf(error: unknown): number {
	if (error instanceof CliError) return error.exitCode;
	const code = (error as { code?: unknown } | null)?.code;
	if (code === 'ERR_TASK_NOT_FOUND' || code === 'ERR_RUN_NOT_FOUND') return EXIT.notFound;
	if (code === 'ERR_DUPLICATE_TASK' || code === 'ERR_INVALID_STATE' || code === 'ERR_RUN_STATE') return EXIT.conflict;
	if (code === 'ERR_INVALID_TASK' || error instanceof TypeError || error instanceof RangeError) return EXIT.usage;
	return EXIT.failed;
}
