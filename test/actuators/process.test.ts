/**
 * ProcessActuator with real commands: item checks, no shell, output tails, exit codes and signals, spawn
 * failures, stdin, environment, progress lines, and that stopping ends the whole process group (the command and
 * what it started), gracefully first. Processes are looked up in /proc; zombies (exited, not reaped: this
 * machine's PID 1 does not reap orphans) do not count as running.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
	InvalidTaskError,
	NonRetryableError,
	Scheduler,
	type ActuatorContext,
	type ActuatorResult,
	type SchedulerOptions,
	type TaskRecord,
} from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer } from 'lightsched/containers/sql';
import {
	ProcessActuator,
	ProcessExitError,
	ProcessSpawnError,
	type ProcessActuatorOptions,
	type ProcessOutput,
	type ProcessRef,
	type ProcessTaskItem,
} from 'lightsched/actuators/process';
import { TailBuffer } from 'lightsched/kit';
import { ProgressLines } from '../../actuators/process/output.js';
import { sleep } from '../support/scheduler.js';
import { sqliteBackend } from '../support/sql.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-process-'));
const open: { close(): Promise<void> }[] = [];

afterEach(async () => {
	await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(() => {
	rmSync(dir, { recursive: true, force: true });
	// A failed test may leave its commands running: end them, found by the token only this file's commands carry.
	for (const pid of withToken()) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Gone meanwhile.
		}
	}
});

/** `/proc/<pid>/stat`'s state and process group, or null when the process is gone. */
function procStat(pid: number): { state: string; pgrp: number } | null {
	try {
		const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
		return { state: fields[0] as string, pgrp: Number(fields[2]) };
	} catch {
		return null;
	}
}

const isLive = (pid: number): boolean => {
	const stat = procStat(pid);
	return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
};

/** The live (not zombie) processes of a process group. */
function groupMembers(pgid: number): number[] {
	return readdirSync('/proc')
		.filter((name) => /^\d+$/.test(name))
		.map(Number)
		.filter((pid) => procStat(pid)?.pgrp === pgid && isLive(pid));
}

/**
 * The live processes whose environment holds `PROCESS_TEST_TOKEN=<token>-<this test process's pid>` (any token when
 * none is given): another run of this file at the same time has its own.
 */
function withToken(token?: string): number[] {
	return readdirSync('/proc')
		.filter((name) => /^\d+$/.test(name))
		.map(Number)
		.filter((pid) => {
			try {
				const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
				const mine = (entry: string): boolean =>
					token === undefined
						? entry.startsWith('PROCESS_TEST_TOKEN=') && entry.endsWith(`-${process.pid}`)
						: entry === `PROCESS_TEST_TOKEN=${token}-${process.pid}`;
				return isLive(pid) && environ.some(mine);
			} catch {
				return false;
			}
		});
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
	const deadline = Date.now() + ms;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(20);
	}
}

let ids = 0;
/** The value of `PROCESS_TEST_TOKEN` for a command of this test process. */
const token = (name: string): string => `${name}-${process.pid}`;

/** A task record as the scheduler hands it to an actuator (only the fields the actuator reads matter). */
function record(item: unknown, extra: Partial<TaskRecord> = {}): TaskRecord<ProcessTaskItem, ProcessOutput> {
	return { id: `t${++ids}`, item, attempts: 1, ref: null, ...extra } as TaskRecord<ProcessTaskItem, ProcessOutput>;
}

/** Starts a task on the actuator directly, with a context that records what the work reports. */
async function startDirect(actuator: ProcessActuator, task: TaskRecord<ProcessTaskItem, ProcessOutput>) {
	const controller = new AbortController();
	const progress: unknown[] = [];
	let report!: (result: ActuatorResult<ProcessOutput>) => void;
	const result = new Promise<ActuatorResult<ProcessOutput>>((resolve) => (report = resolve));
	const ctx: ActuatorContext<ProcessOutput> = {
		signal: controller.signal,
		owner: 'test',
		progress: (p) => progress.push(p),
		done: (r) => report(r),
	};
	const started = await actuator.start(task, ctx);
	return { ref: (started as { ref: ProcessRef }).ref, result, progress, controller };
}

function setup(
	options: ProcessActuatorOptions = {},
	schedulerOptions: Partial<SchedulerOptions<ProcessTaskItem, ProcessOutput>> = {},
) {
	const actuator = new ProcessActuator(options);
	const scheduler = new Scheduler<ProcessTaskItem, ProcessOutput>({
		container: new QueueContainer(),
		actuator,
		concurrency: 2,
		...schedulerOptions,
	});
	scheduler.on('error', () => undefined);
	open.push(scheduler);
	return { scheduler, actuator };
}

/** Adds a task and resolves with it once final. */
async function run(
	scheduler: Scheduler<ProcessTaskItem, ProcessOutput>,
	item: ProcessTaskItem,
	timeoutMs?: number,
): Promise<TaskRecord<ProcessTaskItem, ProcessOutput>> {
	const id = `run-${++ids}`;
	const stream = scheduler.finished();
	await scheduler.add(timeoutMs === undefined ? { id, item } : { id, item, timeoutMs });
	for await (const task of stream) if (task.id === id) return task;
	throw new Error('closed');
}

describe('ProcessActuator: options and items', () => {
	it('rejects a misspelt option naming the closest known one, and bad option values', () => {
		expect(() => new ProcessActuator({ killGraceMS: 10 } as ProcessActuatorOptions)).toThrow(
			'Unknown option `killGraceMS` of ProcessActuator: did you mean `killGraceMs`?',
		);
		expect(() => new ProcessActuator({ maxOutputBytes: -1 })).toThrow(
			/`maxOutputBytes` to be an integer from 0 to 16777216/,
		);
		expect(() => new ProcessActuator({ killGraceMs: 1.5 })).toThrow(/`killGraceMs`/);
		expect(() => new ProcessActuator({ progressPrefix: '' })).toThrow(/`progressPrefix`/);
		expect(() => new ProcessActuator({ inheritEnv: 'PATH' as unknown as boolean })).toThrow(/`inheritEnv`/);
		expect(() => new ProcessActuator({ env: { A: 1 } as unknown as Record<string, string> })).toThrow(
			/`env.A` is not/,
		);
		expect(() => new ProcessActuator({ allowedCommands: [''] })).toThrow(/`allowedCommands`/);
	});

	it.each([
		['not an object', 'ls', 'item', /an object such as/],
		['no command', { args: ['-l'] }, 'item.command', /a program name or path/],
		['a command line in command', { command: ' ls -l' }, 'item.command', /without leading or trailing spaces/],
		['args not an array', { command: 'ls', args: '-l' }, 'item.args', /an array of strings/],
		['a number among args', { command: 'ls', args: ['-l', 'x', 3] }, 'item.args[2]', /got 3 \(number\)/],
		['NUL in an argument', { command: 'ls', args: ['a\0b'] }, 'item.args[0]', /without NUL/],
		['an empty cwd', { command: 'ls', cwd: '' }, 'item.cwd', /a path to an existing directory/],
		['an env value not a string', { command: 'ls', env: { N: 1 } }, 'item.env.N', /a string/],
		['an env name with =', { command: 'ls', env: { 'A=B': 'x' } }, 'item.env', /variable names without '='/],
		['stdin not a string', { command: 'cat', stdin: 42 }, 'item.stdin', /a string/],
		[
			'maxOutputBytes too large',
			{ command: 'ls', maxOutputBytes: 2 ** 30 },
			'item.maxOutputBytes',
			/an integer from 0 to 16777216/,
		],
		['timeoutMs in the item', { command: 'ls', timeoutMs: 5 }, 'item.timeoutMs', /the task's own `timeoutMs`/],
		['an unknown field', { command: 'ls', shell: true }, 'item.shell', /not a process item field/],
	])('init rejects %s naming `%s`', (_what, item, field, message) => {
		const actuator = new ProcessActuator();
		let error: unknown;
		try {
			actuator.init(record(item));
		} catch (caught) {
			error = caught;
		}
		expect(error).toBeInstanceOf(InvalidTaskError);
		expect((error as InvalidTaskError).field).toBe(field);
		expect((error as Error).message).toContain(`\`${field}\``);
		expect((error as Error).message).toMatch(message);
	});

	it('allowedCommands: other commands are rejected at add, and at start when an item skipped init', async () => {
		const { scheduler, actuator } = setup({ allowedCommands: ['echo'] });
		const added = await scheduler
			.add({ item: { command: 'rm', args: ['-rf', dir] } })
			.catch((error: unknown) => error);
		expect(added).toBeInstanceOf(InvalidTaskError);
		expect((added as InvalidTaskError).field).toBe('item.command');
		expect((added as Error).message).toContain('one of the actuator\'s `allowedCommands` ("echo")');
		// An item stored by a process without this check: refused at start, without retries.
		const direct = await startDirect(actuator, record({ command: 'rm', args: ['-rf', dir] })).catch(
			(error: unknown) => error,
		);
		expect(direct).toBeInstanceOf(NonRetryableError);
		expect(existsSync(dir)).toBe(true);
		expect((await run(scheduler, { command: 'echo', args: ['allowed'] })).output?.stdout).toBe('allowed\n');
	});
});

describe('ProcessActuator: running commands', () => {
	it('passes arguments as they are, never through a shell', async () => {
		const { scheduler } = setup();
		const args = ['$HOME', '*', '; echo pwned', '`id`', "it's", 'a "b"', '', 'x\ny'];
		const task = await run(scheduler, { command: 'printf', args: ['[%s]\n', ...args], cwd: dir });
		expect(task.status).toBe('succeeded');
		expect(task.output?.stdout).toBe(args.map((a) => `[${a}]\n`).join(''));
	});

	it('succeeds with the exit code and both output tails, the ref naming the process group it led', async () => {
		const { scheduler } = setup();
		const task = await run(scheduler, { command: 'sh', args: ['-c', 'echo out; echo err >&2'] });
		expect(task.output).toEqual({
			exitCode: 0,
			stdout: 'out\n',
			stderr: 'err\n',
			stdoutTruncated: false,
			stderrTruncated: false,
		});
		const ref = task.ref as ProcessRef;
		expect(ref.pgid).toBe(ref.pid);
		expect(ref.pid).toBeGreaterThan(1);
		expect(JSON.parse(JSON.stringify(ref))).toEqual(ref);
	});

	it('fails with ProcessExitError on a non-zero exit: the command, the code and the end of stderr', async () => {
		const { scheduler, actuator } = setup();
		const task = await run(scheduler, {
			command: 'sh',
			args: ['-c', 'echo partial; echo "no such file: in.mp4" >&2; exit 7'],
		});
		expect(task.status).toBe('failed');
		expect(task.error).toEqual({
			code: 'ERR_PROCESS_EXIT',
			message:
				'Command `sh -c \'echo partial; echo "no such file: in.mp4" >&2; exit 7\'` exited with code 7: no such file: in.mp4',
		});
		const { result } = await startDirect(
			actuator,
			record({ command: 'sh', args: ['-c', 'echo partial; echo oops >&2; exit 7'] }),
		);
		const failed = await result;
		const error = (failed as { error: ProcessExitError }).error;
		expect(error).toBeInstanceOf(ProcessExitError);
		expect(error).toMatchObject({
			code: 'ERR_PROCESS_EXIT',
			exitCode: 7,
			signal: null,
			output: { exitCode: 7, signal: null, stdout: 'partial\n', stderr: 'oops\n' },
		});
	});

	it('fails naming the signal when the command is killed by one it did not get from the actuator', async () => {
		const { scheduler } = setup();
		const task = await run(scheduler, { command: 'sh', args: ['-c', 'echo dying >&2; kill -SEGV $$'] });
		expect(task.error).toEqual({
			code: 'ERR_PROCESS_EXIT',
			message: "Command `sh -c 'echo dying >&2; kill -SEGV $$'` was killed by signal SIGSEGV: dying",
		});
	});

	it('a command that does not exist fails with ProcessSpawnError naming it; so does a missing cwd', async () => {
		const { scheduler, actuator } = setup();
		const missing = await run(scheduler, { command: 'lightsched-no-such-command', args: ['x'] });
		expect(missing.error).toEqual({
			code: 'ERR_PROCESS_SPAWN',
			message: expect.stringMatching(/^Command `lightsched-no-such-command` not found: .*\(ENOENT\)$/) as unknown,
		});
		const thrown = await startDirect(actuator, record({ command: 'lightsched-no-such-command' })).catch(
			(error: unknown) => error,
		);
		expect(thrown).toBeInstanceOf(ProcessSpawnError);
		expect(thrown).toMatchObject({ errno: 'ENOENT', code: 'ERR_PROCESS_SPAWN' });
		const notExecutable = join(dir, 'not-executable.sh');
		writeFileSync(notExecutable, 'echo hi\n', { mode: 0o644 });
		const denied = await run(scheduler, { command: notExecutable });
		expect(denied.error?.message).toMatch(/cannot be executed: permission denied .*\(EACCES\)$/);
		const noCwd = await run(scheduler, { command: 'ls', cwd: join(dir, 'gone') });
		expect(noCwd.error).toEqual({
			code: 'ERR_PROCESS_SPAWN',
			message: `The working directory \`${join(dir, 'gone')}\` (item.cwd) of command \`ls\` cannot be used: it does not exist`,
		});
		expect(actuator.running).toBe(0);
	});

	it('runs in cwd, a relative command path resolved against it', async () => {
		writeFileSync(join(dir, 'tool.sh'), '#!/bin/sh\npwd\n', { mode: 0o755 });
		const { scheduler } = setup();
		const task = await run(scheduler, { command: './tool.sh', cwd: dir });
		expect(task.output?.stdout).toBe(`${dir}\n`);
	});

	it('keeps the last maxOutputBytes of each stream, says it truncated, and never cuts a character in two', async () => {
		const { scheduler } = setup({ maxOutputBytes: 8 });
		const task = await run(scheduler, {
			command: 'sh',
			args: ['-c', 'printf "0123456789abcdef"; printf "ééééé" >&2'],
		});
		expect(task.output).toEqual({
			exitCode: 0,
			stdout: '89abcdef',
			stderr: 'éééé',
			stdoutTruncated: true,
			stderrTruncated: true,
		});
		// The item's own limit wins; 0 keeps nothing.
		const none = await run(scheduler, { command: 'echo', args: ['hello'], maxOutputBytes: 0 });
		expect(none.output).toEqual({
			exitCode: 0,
			stdout: '',
			stderr: '',
			stdoutTruncated: true,
			stderrTruncated: false,
		});
	});

	it('writes stdin and closes it; without stdin the command reads an empty input', async () => {
		const { scheduler } = setup();
		expect((await run(scheduler, { command: 'cat', stdin: 'line 1\nligne 2 é\n' })).output?.stdout).toBe(
			'line 1\nligne 2 é\n',
		);
		expect((await run(scheduler, { command: 'cat' })).output?.stdout).toBe('');
		// A command that does not read its input is no failure.
		expect((await run(scheduler, { command: 'true', stdin: 'x'.repeat(1 << 20) })).status).toBe('succeeded');
	});

	it("environment: inherited (all, none or named), the actuator's env, then the item's", async () => {
		process.env.LIGHTSCHED_PROCESS_TEST = 'inherited';
		try {
			const all = setup({ env: { FROM_ACTUATOR: 'a', SHARED: 'actuator' } });
			const printed = await run(all.scheduler, { command: 'env', env: { FROM_ITEM: 'i', SHARED: 'item' } });
			const vars = new Set(printed.output?.stdout.trim().split('\n'));
			expect(vars).toContain('LIGHTSCHED_PROCESS_TEST=inherited');
			expect(vars).toContain('FROM_ACTUATOR=a');
			expect(vars).toContain('FROM_ITEM=i');
			expect(vars).toContain('SHARED=item');
			const none = setup({ inheritEnv: false, env: { FROM_ACTUATOR: 'a' } });
			// Without PATH the lookup uses the system's default path.
			expect((await run(none.scheduler, { command: 'env', env: { FROM_ITEM: 'i' } })).output?.stdout).toBe(
				'FROM_ACTUATOR=a\nFROM_ITEM=i\n',
			);
			const named = setup({ inheritEnv: ['LIGHTSCHED_PROCESS_TEST', 'NOT_SET_ANYWHERE'] });
			expect((await run(named.scheduler, { command: 'env' })).output?.stdout).toBe(
				'LIGHTSCHED_PROCESS_TEST=inherited\n',
			);
		} finally {
			delete process.env.LIGHTSCHED_PROCESS_TEST;
		}
	});

	it('reports `::progress <JSON>` lines of stdout as progress (text when not JSON), kept in stdout too', async () => {
		const actuator = new ProcessActuator();
		const script =
			'echo "::progress 10"; echo "not ::progress 99"; echo \'::progress {"done":2,"of":4}\'; printf "::progress almost there\\r\\n"; printf "::progress 100"';
		const { result, progress } = await startDirect(actuator, record({ command: 'sh', args: ['-c', script] }));
		const done = await result;
		expect(done.ok).toBe(true);
		expect(progress).toEqual([10, { done: 2, of: 4 }, 'almost there', 100]);
		expect((done as { output: ProcessOutput }).output.stdout).toContain('not ::progress 99');
		// Another prefix, or none.
		const custom = await startDirect(
			new ProcessActuator({ progressPrefix: 'PROGRESS:' }),
			record({ command: 'sh', args: ['-c', 'echo PROGRESS:0.5; echo "::progress 1"'] }),
		);
		await custom.result;
		expect(custom.progress).toEqual([0.5]);
		const off = await startDirect(
			new ProcessActuator({ progressPrefix: null }),
			record({ command: 'sh', args: ['-c', 'echo "::progress 1"'] }),
		);
		await off.result;
		expect(off.progress).toEqual([]);
	});

	it('ProgressLines finds lines split anywhere across chunks and skips overlong ones', () => {
		const seen: unknown[] = [];
		const lines = new ProgressLines('::progress ', (p) => seen.push(p));
		const text = Buffer.from(
			`noise\n::progress 1\n::progress ${'x'.repeat(5000)}\n::progr\n::progress {"a":[1,2]}\n::progress 3`,
		);
		for (let i = 0; i < text.length; i += 3) lines.write(text.subarray(i, i + 3));
		lines.end();
		expect(seen).toEqual([1, { a: [1, 2] }, 3]);
	});

	it('TailBuffer keeps the last bytes across chunks', () => {
		const tail = new TailBuffer(5);
		for (const part of ['ab', 'cd', 'efg', 'h']) tail.write(Buffer.from(part));
		expect(tail.toString()).toBe('defgh');
		expect(tail.truncated).toBe(true);
		expect(tail.total).toBe(8);
	});
});

describe('ProcessActuator: stopping ends the whole process group', () => {
	const LONG = 'sleep 100 & sleep 100; wait';

	it('stop kills the command and the processes it started, and nothing of the group is left', async () => {
		const { scheduler } = setup();
		const started = new Promise<void>((resolve) => scheduler.once('task:started', () => resolve()));
		await scheduler.add({
			id: 'group',
			item: { command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('group') } },
		});
		await started;
		let ref: ProcessRef | null = null;
		while (ref === null) {
			ref = ((await scheduler.get('group'))?.ref ?? null) as ProcessRef | null;
			if (ref === null) await sleep(20);
		}
		const { pgid } = ref;
		await until('the shell and both sleeps', () => groupMembers(pgid).length === 3);
		const pids = groupMembers(pgid);
		const stopped = await scheduler.stop('group');
		expect(stopped.status).toBe('stopped');
		expect(groupMembers(pgid)).toEqual([]);
		expect(pids.filter(isLive)).toEqual([]);
	});

	it('the group gets SIGTERM first: a command that cleans up on SIGTERM does so before it is gone', async () => {
		const { scheduler } = setup({ killGraceMs: 10_000 });
		const marker = join(dir, 'cleaned-up');
		const script = `trap 'echo cleaned > "${marker}"; exit 0' TERM; sleep 100 & wait`;
		const started = new Promise<void>((resolve) => scheduler.once('task:started', () => resolve()));
		await scheduler.add({
			id: 'graceful',
			item: { command: 'sh', args: ['-c', script], env: { PROCESS_TEST_TOKEN: token('graceful') } },
		});
		await started;
		await until('the shell and its sleep', () => withToken('graceful').length === 2);
		await scheduler.stop('graceful');
		expect(readFileSync(marker, 'utf8')).toBe('cleaned\n');
		expect(withToken('graceful')).toEqual([]);
	});

	it('a group that ignores SIGTERM is killed with SIGKILL after killGraceMs', async () => {
		const { scheduler } = setup({ killGraceMs: 300 });
		// Signals ignored by the shell stay ignored in what it starts: every process of the group ignores SIGTERM.
		const script = `trap '' TERM; ${LONG}`;
		const started = new Promise<void>((resolve) => scheduler.once('task:started', () => resolve()));
		await scheduler.add({
			id: 'stubborn',
			item: { command: 'sh', args: ['-c', script], env: { PROCESS_TEST_TOKEN: token('stubborn') } },
		});
		await started;
		await until('the shell and both sleeps', () => withToken('stubborn').length === 3);
		const stopped = await scheduler.stop('stubborn');
		expect(stopped.status).toBe('stopped');
		expect(withToken('stubborn')).toEqual([]);
	});

	it('a timeout kills the group and fails the task with ERR_TASK_TIMEOUT', async () => {
		const { scheduler } = setup();
		const task = await run(
			scheduler,
			{ command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('timeout') } },
			1_000,
		);
		expect(task.error?.code).toBe('ERR_TASK_TIMEOUT');
		expect(withToken('timeout')).toEqual([]);
	});

	it('what a command leaves running when it exits is ended too, and its output is complete', async () => {
		const { scheduler } = setup();
		const task = await run(scheduler, {
			command: 'sh',
			args: ['-c', 'sleep 100 & echo started'],
			env: { PROCESS_TEST_TOKEN: token('leftover') },
		});
		expect(task.output).toMatchObject({ exitCode: 0, stdout: 'started\n' });
		expect(withToken('leftover')).toEqual([]);
	});

	it('closing the scheduler hands the task back and kills its group; closing the actuator kills what it still runs', async () => {
		const { scheduler } = setup();
		const started = new Promise<void>((resolve) => scheduler.once('task:started', () => resolve()));
		await scheduler.add({
			id: 'closing',
			item: { command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('closing') } },
		});
		await started;
		await until('the shell and both sleeps', () => withToken('closing').length === 3);
		await scheduler.close();
		expect(withToken('closing')).toEqual([]);

		const actuator = new ProcessActuator();
		const direct = await startDirect(
			actuator,
			record({ command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('direct') } }),
		);
		await until('the shell and both sleeps', () => groupMembers(direct.ref.pgid).length === 3);
		await actuator.close();
		expect(groupMembers(direct.ref.pgid)).toEqual([]);
		await expect(
			actuator.start(record({ command: 'true' }), {
				signal: new AbortController().signal,
				owner: 'x',
				progress: () => undefined,
				done: () => undefined,
			}),
		).rejects.toThrow('The process actuator is closed');
	});

	it('a later attempt kills the group an earlier one left running (its scheduler died), found through the ref', async () => {
		const before = new ProcessActuator();
		const first = await startDirect(
			before,
			record({ command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('orphan') } }),
		);
		await until('the shell and both sleeps', () => withToken('orphan').length === 3);
		// A new actuator (a restarted scheduler) starts the task's next attempt with the stored ref.
		const after = new ProcessActuator({ killGraceMs: 1_000 });
		open.push(after);
		const second = await startDirect(
			after,
			record(
				{ command: 'echo', args: ['again'] },
				{ attempts: 2, ref: JSON.parse(JSON.stringify(first.ref)) as ProcessRef },
			),
		);
		expect(withToken('orphan')).toEqual([]);
		expect(await second.result).toMatchObject({ ok: true, output: { stdout: 'again\n' } });
		await before.close();
	});

	it('stop of a task this actuator does not run ends the process its ref names, but never a pid reused by another process', async () => {
		const owner = new ProcessActuator();
		open.push(owner);
		const other = new ProcessActuator();
		const target = await startDirect(
			owner,
			record({ command: 'sh', args: ['-c', LONG], env: { PROCESS_TEST_TOKEN: token('by-ref') } }),
		);
		await until('the shell and both sleeps', () => withToken('by-ref').length === 3);
		// A ref whose start time does not match is another process that got the same pid: left alone.
		await other.stop(record({ command: 'sh' }, { ref: { ...target.ref, startTime: '1' } }));
		expect(withToken('by-ref')).toHaveLength(3);
		await other.stop(record({ command: 'sh' }, { ref: { ...target.ref, host: 'another-machine' } }));
		expect(withToken('by-ref')).toHaveLength(3);
		await other.stop(record({ command: 'sh' }, { ref: target.ref }));
		expect(withToken('by-ref')).toEqual([]);
	});
});

describe('ProcessActuator on a persistent container (SQLite)', () => {
	const sqlite = sqliteBackend();
	afterAll(() => sqlite.stop());

	it('items, outputs, errors and refs are stored and read back; a ref read back stops the work from another actuator', async () => {
		const actuator = new ProcessActuator();
		const scheduler = new Scheduler<ProcessTaskItem, ProcessOutput>({
			container: new SqlContainer({ knex: await sqlite.freshDatabase() }),
			actuator,
			concurrency: 2,
		});
		scheduler.on('error', () => undefined);
		open.push(scheduler);
		const ok = await run(scheduler, {
			command: 'printf',
			args: ['%s', 'é & <ok>'],
			env: { A: 'b' },
			stdin: 'in',
			maxOutputBytes: 100,
		});
		const stored = await scheduler.get(ok.id);
		expect(stored?.item).toEqual({
			command: 'printf',
			args: ['%s', 'é & <ok>'],
			env: { A: 'b' },
			stdin: 'in',
			maxOutputBytes: 100,
		});
		expect(stored?.output).toEqual({
			exitCode: 0,
			stdout: 'é & <ok>',
			stderr: '',
			stdoutTruncated: false,
			stderrTruncated: false,
		});
		expect(stored?.ref).toEqual(ok.ref);
		const bad = await run(scheduler, { command: 'sh', args: ['-c', 'exit 2'] });
		expect((await scheduler.get(bad.id))?.error).toEqual({
			code: 'ERR_PROCESS_EXIT',
			message: "Command `sh -c 'exit 2'` exited with code 2",
		});

		const started = new Promise<void>((resolve) => scheduler.once('task:started', () => resolve()));
		await scheduler.add({
			id: 'stored-long',
			item: {
				command: 'sh',
				args: ['-c', 'sleep 100 & sleep 100; wait'],
				env: { PROCESS_TEST_TOKEN: token('stored') },
			},
		});
		await started;
		await until('the shell and both sleeps', () => withToken('stored').length === 3);
		let long: TaskRecord<ProcessTaskItem, ProcessOutput> | null = null;
		while (long?.ref === undefined || long.ref === null) {
			long = await scheduler.get('stored-long');
			await sleep(20);
		}
		// Another scheduler's actuator, with nothing but the record read from the database.
		await new ProcessActuator().stop(long);
		expect(withToken('stored')).toEqual([]);
	});
});
