/**
 * The `lightsched` binary as a child process, for the CLI tests: start it (or another program) with the container
 * variables cleared, run it to its end, parse its `--json`. Call `cliProcesses()` at the top level of a test file: it
 * bundles the binary (`cliCommand`) and kills what is still running after the file's tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { cliCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A started program: its output so far, and its exit code once it has exited. */
export type CliChild = ChildProcess & {
	output(): string;
	errors(): string;
	readonly exited: Promise<number | null>;
};

/** A program run to its end. */
export interface CliResult {
	readonly code: number | null;
	readonly out: string;
	readonly err: string;
}

export interface CliProcesses {
	/** `[node, the bundled binary]`. */
	readonly command: readonly [string, string];
	/** Start `command args` in the repository, stdin a pipe; `env` on top of this process's, container unset. */
	launch(command: string, args: readonly string[], env?: Readonly<Record<string, string>>): CliChild;
	/** Start `lightsched <args>`. */
	start(args: readonly string[], env?: Readonly<Record<string, string>>): CliChild;
	/** Run `lightsched <args>` to its end (stdin: `input`, then closed), with all of its output. */
	cli(args: readonly string[], input?: string): Promise<CliResult>;
	/** `lightsched <args> --json`, which must exit 0 with nothing on stderr: its output parsed. */
	json<T>(args: readonly string[], input?: string): Promise<T>;
}

/** The CLI runner of one test file (see the file's comment). */
export async function cliProcesses(): Promise<CliProcesses> {
	const command = await cliCommand();
	const children = new Set<ChildProcess>();
	afterAll(() => {
		for (const child of children) child.kill('SIGKILL');
	});

	const launch = (program: string, args: readonly string[], env: Readonly<Record<string, string>> = {}) => {
		const child = spawn(program, args, {
			cwd: ROOT,
			stdio: ['pipe', 'pipe', 'pipe'],
			env: { ...process.env, LIGHTSCHED_CONTAINER: '', LIGHTSCHED_NAME: '', ...env },
		});
		children.add(child);
		let out = '';
		let err = '';
		child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
		const exited = new Promise<number | null>((resolve) =>
			child.on('exit', (code) => {
				children.delete(child);
				resolve(code);
			}),
		);
		return Object.assign(child, { output: () => out, errors: () => err, exited });
	};
	const start = (args: readonly string[], env?: Readonly<Record<string, string>>) =>
		launch(command[0], [command[1], ...args], env);
	const cli = async (args: readonly string[], input?: string): Promise<CliResult> => {
		const child = start(args);
		child.stdin.end(input ?? '');
		// 'close': the process has exited and its output has been read to the end.
		const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
		return { code, out: child.output(), err: child.errors() };
	};
	const json = async <T>(args: readonly string[], input?: string): Promise<T> => {
		const result = await cli([...args, '--json'], input);
		expect(result.err, result.err).toBe('');
		expect(result.code).toBe(0);
		return JSON.parse(result.out) as T;
	};
	return { command, launch, start, cli, json };
}

/** Resolves once `check` holds, checked every 100 ms; rejects naming `what` after `timeoutMs`. */
export async function until(
	what: string,
	check: () => boolean | Promise<boolean>,
	timeoutMs = 60_000,
	everyMs = 100,
): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, everyMs));
	}
}
