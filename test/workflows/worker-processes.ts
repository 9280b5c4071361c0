/**
 * The workflow worker processes of the crash and clock tests (crash-worker.ts, bundled): started with their config
 * in the environment, ready once they print `ready`; and their logs, one line per step start, end, or lease found
 * expired (`<kind> <run> <step> <pid> <ms on that process's clock>`). `workerProcesses` sets up a test file of them:
 * the bundle, the servers (PostgreSQL, redis-server), a folder for the logs, and the clean-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { bundledCommand } from '../support/bundled-command.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { postgresBackend, type SqlBackend } from '../support/sql.js';
import type { CrashWorkerConfig } from './crash-worker.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface WorkerProcess {
	readonly child: ChildProcess;
	readonly log: string;
	/** Resolves once the worker printed `ready`; rejects if it exits first. */
	readonly ready: Promise<void>;
}

/** Start the bundled worker `script` (from `cwd`) with `config`; `n` names it in errors. */
function startWorkerProcess(script: string, cwd: string, config: CrashWorkerConfig, n: number): WorkerProcess {
	const child = spawn(process.execPath, [script], {
		cwd,
		env: { ...process.env, LIGHTSCHED_WF_WORKER: JSON.stringify(config) },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker ${n} exited (${String(code)}) before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on(
			'line',
			(line) => line === 'ready' && resolve(),
		);
	});
	return { child, log: config.log, ready };
}

/** What a test file of worker processes has (see `workerProcesses`). */
export interface WorkerProcesses {
	/** A temporary folder for the workers' logs (and SQLite files), removed after the file's tests. */
	readonly dir: string;
	/** The PostgreSQL server, started before the file's tests. */
	postgres(): SqlBackend;
	/** The redis-server, started before the file's tests. */
	redis(): RedisServer;
	/** Start a worker (crash-worker.ts) with `config`; `n` names it in errors. SIGKILLed after the tests if still up. */
	start(config: CrashWorkerConfig, n: number): WorkerProcess;
	/** Send `signal` to every worker started that is still running. */
	signal(signal: NodeJS.Signals): void;
}

/**
 * Set up a test file of worker processes: bundle crash-worker.ts, make the logs' folder, start PostgreSQL and a
 * redis-server before the file's tests; after them, SIGKILL the workers still running, remove the folder and stop
 * the servers. Call it at the top level of the file (`const workers = await workerProcesses('lightsched-wf-crash-')`).
 */
export async function workerProcesses(prefix: string): Promise<WorkerProcesses> {
	const program = await bundledCommand('test/workflows/crash-worker.ts');
	const dir = mkdtempSync(join(tmpdir(), prefix));
	const children: ChildProcess[] = [];
	let postgres: SqlBackend | undefined;
	let redis: RedisServer | undefined;
	const signal = (name: NodeJS.Signals): void => {
		for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(name);
	};
	beforeAll(async () => {
		[postgres, redis] = await Promise.all([postgresBackend(), startRedis()]);
	}, 120_000);
	afterAll(async () => {
		signal('SIGKILL');
		rmSync(dir, { recursive: true, force: true });
		await postgres?.stop();
		await redis?.close();
	});
	const started = <T>(server: T | undefined, name: string): T => {
		if (server === undefined) throw new Error(`${name} is not started (workerProcesses starts it in beforeAll)`);
		return server;
	};
	return {
		dir,
		postgres: () => started(postgres, 'PostgreSQL'),
		redis: () => started(redis, 'redis-server'),
		start: (config, n) => {
			const worker = startWorkerProcess(program[1], ROOT, config, n);
			children.push(worker.child);
			return worker;
		},
		signal,
	};
}

export interface Line {
	readonly kind: 'start' | 'end' | 'lapsed';
	readonly run: string;
	readonly step: string;
	readonly key: string;
	readonly pid: number;
	readonly at: number;
}

/** A worker's log, parsed (empty when it wrote none). */
export function readLog(file: string): Line[] {
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8')
		.split('\n')
		.filter((line) => line.length > 0)
		.map((line) => {
			const [kind, run = '', step = '', pid, at] = line.split(' ');
			return {
				kind: kind as Line['kind'],
				run,
				step,
				key: `${run}:${step}`,
				pid: Number(pid),
				at: Number(at),
			};
		});
}
