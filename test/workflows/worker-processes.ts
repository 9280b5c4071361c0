/**
 * The workflow worker processes of the crash and clock tests (crash-worker.ts, bundled): started with their config
 * in the environment, ready once they print `ready`; and their logs, one line per step start, end, or lease found
 * expired (`<kind> <run> <step> <pid> <ms on that process's clock>`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CrashWorkerConfig } from './crash-worker.js';

export interface WorkerProcess {
	readonly child: ChildProcess;
	readonly log: string;
	/** Resolves once the worker printed `ready`; rejects if it exits first. */
	readonly ready: Promise<void>;
}

/** Start the bundled worker `script` (from `cwd`) with `config`; `n` names it in errors. */
export function startWorkerProcess(script: string, cwd: string, config: CrashWorkerConfig, n: number): WorkerProcess {
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
