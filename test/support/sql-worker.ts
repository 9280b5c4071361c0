/**
 * Start `test/fixtures/sql-scheduler.ts` (a scheduler on a PostgreSQL SqlContainer) as a child process, and read
 * the execution logs of such workers back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SqlWorkerConfig } from '../fixtures/sql-scheduler.js';
import { bundledCommand } from './bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/fixtures/sql-scheduler.ts`;
const WORKER = await bundledCommand(SCRIPT);

export interface SqlWorker {
	readonly child: ChildProcess;
	/** Resolves once the scheduler's tables exist. */
	readonly ready: Promise<void>;
	/** Graceful stop (SIGTERM: the scheduler closes and hands its tasks back). */
	stop(): Promise<void>;
}

export function startSqlWorker(config: SqlWorkerConfig): SqlWorker {
	// `node --import tsx` (not the tsx CLI, which runs node in a second process that a kill would not reach).
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_WORKER: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve();
		});
	});
	ready.catch(() => undefined);
	return {
		child,
		ready,
		async stop() {
			if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
			await exited;
		},
	};
}

/** Per task id: how many times its work started, over the logs given; and the errors the workers reported. */
export function readWorkerLogs(logs: readonly string[]): {
	starts: Map<string, number>;
	successes: Map<string, number>;
	errors: string[];
} {
	const starts = new Map<string, number>();
	const successes = new Map<string, number>();
	const errors: string[] = [];
	for (const log of logs) {
		if (existsSync(log)) {
			for (const line of readFileSync(log, 'utf8').split('\n')) {
				if (line === '') continue;
				if (line.startsWith('done ')) successes.set(line.slice(5), (successes.get(line.slice(5)) ?? 0) + 1);
				else starts.set(line, (starts.get(line) ?? 0) + 1);
			}
		}
		if (existsSync(`${log}.err`))
			errors.push(
				...readFileSync(`${log}.err`, 'utf8')
					.split('\n')
					.filter((l) => l !== ''),
			);
	}
	return { starts, successes, errors };
}
