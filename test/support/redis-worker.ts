/** Start `test/fixtures/redis-scheduler.ts` as a child process and talk to it over its stdout. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { WorkerConfig } from '../fixtures/redis-scheduler.js';
import { bundledCommand } from './bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/fixtures/redis-scheduler.ts`;
const WORKER = await bundledCommand(SCRIPT);

export interface WorkerProcess {
	readonly child: ChildProcess;
	/** Resolves once the scheduler is subscribed to the wake-up channel. */
	readonly ready: Promise<void>;
	/** Resolves when the process exits. */
	readonly exited: Promise<void>;
	/** Called with every `started <id> <ms>` line. */
	onStarted(listener: (id: string, at: number) => void): void;
	/** Graceful stop (SIGTERM: the scheduler closes and hands its tasks back). */
	stop(): Promise<void>;
	/** SIGKILL: the process dies without a word. */
	kill(): Promise<void>;
}

export function startWorker(config: WorkerConfig): WorkerProcess {
	// `node --import tsx` (not the tsx CLI, which runs node in a second process that SIGKILL would not reach).
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_WORKER: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const listeners: ((id: string, at: number) => void)[] = [];
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
		const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
		lines.on('line', (line) => {
			if (line === 'ready') resolve();
			else if (line.startsWith('started ')) {
				const [, id = '', at = '0'] = line.split(' ');
				for (const listener of listeners) listener(id, Number(at));
			}
		});
	});
	ready.catch(() => {});
	return {
		child,
		ready,
		exited,
		onStarted(listener) {
			listeners.push(listener);
		},
		async stop() {
			if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
			await exited;
		},
		async kill() {
			if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
			await exited;
		},
	};
}
