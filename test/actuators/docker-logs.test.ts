/**
 * The Docker actuator's task logs against a real dockerd (test/support/docker.ts) and a SQLite SqlContainer:
 * stdout and stderr lines stored while the container runs, stderr marked, partial and long lines, `logs: false`,
 * and a reattach after the scheduler was SIGKILLed that neither duplicates nor reorders lines.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import {
	DockerActuator,
	MAX_DOCKER_LOG_LINE,
	STDERR_PREFIX,
	type DockerActuatorOptions,
	type DockerOutput,
	type DockerTaskItem,
} from 'lightsched/actuators/docker';
import { startDocker, type TestDocker } from '../support/docker.js';

let env: TestDocker;
let dir: string;
const open: Scheduler<DockerTaskItem, DockerOutput>[] = [];
let counter = 0;

beforeAll(async () => {
	env = await startDocker();
	dir = await mkdtemp(join(tmpdir(), 'lightsched-docker-logs-'));
}, 240_000);

afterEach(async () => {
	await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
	await env?.stop();
	if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 60_000);

function sqlite(filename: string): SqlContainer {
	return new SqlContainer({ knex: { client: 'sqlite3', connection: { filename } } });
}

function setup(
	actuatorOptions: DockerActuatorOptions = {},
	filename = join(dir, `db-${++counter}.sqlite`),
	schedulerId = `logs-${process.pid}-${counter}`,
	leaseMs?: number,
): Scheduler<DockerTaskItem, DockerOutput> {
	const scheduler = new Scheduler<DockerTaskItem, DockerOutput>({
		container: sqlite(filename),
		actuator: new DockerActuator({ docker: { socketPath: env.socketPath }, schedulerId, ...actuatorOptions }),
		...(leaseMs === undefined ? {} : { leaseMs }),
	});
	scheduler.on('error', () => undefined);
	open.push(scheduler);
	return scheduler;
}

async function finished(
	scheduler: Scheduler<DockerTaskItem, DockerOutput>,
	id: string,
): Promise<TaskRecord<DockerTaskItem, DockerOutput>> {
	const stream = scheduler.finished();
	const now = await scheduler.get(id);
	if (now !== null && ['succeeded', 'failed', 'stopped'].includes(now.status)) return now;
	for await (const task of stream) if (task.id === id) return task;
	throw new Error(`scheduler closed before task ${id} finished`);
}

async function storedLines(scheduler: Scheduler<DockerTaskItem, DockerOutput>, id: string): Promise<string[]> {
	const page = await scheduler.getLogs(id, { offset: 0, limit: 1000 });
	expect(page.dropped).toBe(0);
	return page.lines;
}

const sh = (script: string): string[] => ['sh', '-c', script];
const stdoutOf = (lines: string[]): string[] => lines.filter((l) => !l.startsWith(STDERR_PREFIX));
const stderrOf = (lines: string[]): string[] =>
	lines.filter((l) => l.startsWith(STDERR_PREFIX)).map((l) => l.slice(STDERR_PREFIX.length));

describe('DockerActuator: task logs', { timeout: 180_000 }, () => {
	it('stores stdout and stderr as lines, stderr marked, partial and long lines handled, the output tails kept', async () => {
		const scheduler = setup();
		const script = [
			'echo one',
			'echo two >&2',
			'printf "par"',
			'sleep 0.2',
			'echo "tial"',
			'printf "crlf\\r\\n"',
			'echo "three  é" >&2',
			// A line of 20,000 characters, cut at the bound.
			'head -c 20000 /dev/zero | tr "\\0" x',
			'echo',
			'echo after-long',
			'printf "no newline at the end"',
		].join('; ');
		await scheduler.add({ id: 'lines', item: { image: env.image, cmd: sh(script) } });
		const task = await finished(scheduler, 'lines');
		expect(task.status).toBe('succeeded');
		const lines = await storedLines(scheduler, 'lines');
		expect(task.output?.stdout.endsWith('no newline at the end')).toBe(true);
		const long = `${'x'.repeat(MAX_DOCKER_LOG_LINE - 1)}…`;
		expect(stdoutOf(lines)).toEqual(['one', 'partial', 'crlf', long, 'after-long', 'no newline at the end']);
		expect(stderrOf(lines)).toEqual(['two', 'three  é']);
		expect(lines).toHaveLength(8);
		expect(task.output?.stdout).toContain('one\npartial\n');
		expect(task.output?.stderr).toBe('two\nthree  é\n');
	});

	it('streams lines while the container runs: the first line is stored before the container ends', async () => {
		const scheduler = setup();
		const seen = new Promise<string>((resolve) =>
			scheduler.on('task:log', ({ task, line }) => {
				if (task.id === 'live') resolve(line);
			}),
		);
		await scheduler.add({ id: 'live', item: { image: env.image, cmd: sh('echo first; sleep 120; echo never') } });
		expect(await seen).toBe('first');
		expect((await scheduler.get('live'))?.status).toBe('running');
		await scheduler.stop('live');
		const task = await finished(scheduler, 'live');
		expect(task.status).toBe('stopped');
		expect(await storedLines(scheduler, 'live')).toEqual(['first']);
	});

	it('logs: false stores no lines and keeps the output tails', async () => {
		const scheduler = setup({ logs: false });
		await scheduler.add({ id: 'quiet', item: { image: env.image, cmd: sh('echo out; echo err >&2') } });
		const task = await finished(scheduler, 'quiet');
		expect(task.status).toBe('succeeded');
		expect(task.output?.stdout).toBe('out\n');
		expect(await storedLines(scheduler, 'quiet')).toEqual([]);
		expect(() => new DockerActuator({ logs: 'yes' as never })).toThrow(/Expected `logs` to be a boolean/);
	});

	it('a reattach after the scheduler was SIGKILLed neither duplicates nor reorders lines', async () => {
		const filename = join(dir, 'reattach.sqlite');
		const flags = await mkdtemp(join(dir, 'flags-'));
		const schedulerId = `logs-reattach-${process.pid}`;
		const leaseMs = 1500;
		// Ticks on stdout and stderr until the test drops the file `done` into the mounted folder.
		const item: DockerTaskItem = {
			image: env.image,
			cmd: sh(
				'i=1; while [ ! -e /flags/done ]; do echo "tick $i"; echo "warn $i" >&2; i=$((i+1)); sleep 0.2; done; echo bye',
			),
			binds: { [flags]: '/flags' },
		};
		const child = spawn(
			process.execPath,
			[
				'--import',
				'tsx',
				'--conditions=lightsched:source',
				join(import.meta.dirname, '../fixtures/docker-log-scheduler.ts'),
			],
			{
				env: {
					...process.env,
					LIGHTSCHED_DOCKER_LOG_CHILD: JSON.stringify({
						socketPath: env.socketPath,
						schedulerId,
						filename,
						leaseMs,
						taskId: 'r',
						item,
						killAfter: 'tick 3',
					}),
				},
				stdio: ['ignore', 'pipe', 'pipe'],
			},
		);
		let stderr = '';
		child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
		await new Promise<void>((resolve, reject) => {
			createInterface({ input: child.stdout }).on('line', (line) => {
				if (line === 'STORED') resolve();
			});
			child.once('exit', (code) => reject(new Error(`child exited (${String(code)}) early: ${stderr}`)));
		});
		const exited = new Promise((resolve) => child.once('exit', resolve));
		child.kill('SIGKILL');
		await exited;

		const scheduler = setup({}, filename, schedulerId, leaseMs);
		// Running (the dead child's lease), or already reclaimed by this scheduler's first sweep; the ref stays.
		const before = await scheduler.get('r');
		expect(['running', 'waiting']).toContain(before?.status);
		const oldRef = before?.ref;
		expect(oldRef).toMatch(/^[0-9a-f]{64}$/);
		// Once this scheduler has logged three lines of its own, let the container finish.
		let mine = 0;
		scheduler.on('task:log', ({ task }) => {
			if (task.id === 'r' && ++mine === 3) void writeFile(join(flags, 'done'), '');
		});
		const task = await finished(scheduler, 'r');
		expect(task.status).toBe('succeeded');
		expect(task.ref).toBe(oldRef);
		expect(task.attempts).toBe(2);
		const lines = await storedLines(scheduler, 'r');
		expect(new Set(lines).size).toBe(lines.length);
		const ticks = stdoutOf(lines);
		expect(ticks.slice(0, 3)).toEqual(['tick 1', 'tick 2', 'tick 3']);
		expect(ticks.at(-1)).toBe('bye');
		const numbers = (list: string[]): number[] => list.map((l) => Number(/\d+$/.exec(l)?.[0] ?? NaN));
		const tickNumbers = numbers(ticks.slice(0, -1));
		const warnNumbers = numbers(stderrOf(lines));
		for (const list of [tickNumbers, warnNumbers]) {
			expect(list.every((n, i) => Number.isInteger(n) && (i === 0 || n > (list[i - 1] as number)))).toBe(true);
		}
		// Lines came from both schedulers: the child's first ones and at least three after the reattach.
		expect(warnNumbers[0]).toBe(1);
		expect(mine).toBeGreaterThanOrEqual(3);
		expect(task.output?.stdout).toMatch(/^tick 1\ntick 2\n[\s\S]*bye\n$/);
	});
});
