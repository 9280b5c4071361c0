/**
 * Runs `test/fixtures/durable-worker.ts` schedulers as child processes, kills them, and reads their execution
 * logs back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from '../fixtures/durable-worker.js';
import { bundledCommand } from '../support/bundled-command.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('../fixtures/durable-worker.ts', import.meta.url));
const WORKER = await bundledCommand(script);

export interface WorkerReport {
	readonly pid: number;
	readonly maxInFlight: number;
	readonly executions: number;
	readonly errors: string[];
}

export interface Worker {
	readonly child: ChildProcess;
	readonly pid: number;
	/** Resolves once the first task started in this process. */
	readonly started: Promise<void>;
	/** Resolves with the report when the process exits on its own (rejects on a non-zero exit). */
	readonly done: Promise<WorkerReport>;
	/** SIGKILL it; resolves once it is gone. */
	kill(): Promise<void>;
}

/** Start one scheduler process (the worker bundled, see test/support/bundled-command.ts). */
export function startWorker(config: WorkerConfig): Worker {
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: root,
		env: { ...process.env, LIGHTSCHED_WORKER: JSON.stringify(config) },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr = (stderr + chunk.toString()).slice(-4000);
	});
	let report: WorkerReport | null = null;
	let markStarted: () => void = () => undefined;
	const started = new Promise<void>((resolve) => {
		markStarted = resolve;
	});
	let buffer = '';
	child.stdout?.on('data', (chunk: Buffer) => {
		buffer += chunk.toString();
		for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
			const line = buffer.slice(0, nl);
			buffer = buffer.slice(nl + 1);
			try {
				const message = JSON.parse(line) as { started?: boolean; report?: WorkerReport };
				if (message.started) markStarted();
				if (message.report) report = message.report;
			} catch {
				// not ours
			}
		}
	});
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
		child.on('exit', (code, signal) => resolve({ code, signal }));
	});
	const done = exited.then(({ code, signal }) => {
		if (code === 0 && report !== null) return report;
		throw new Error(`worker ${child.pid} exited with ${signal ?? code}:\n${stderr}`);
	});
	done.catch(() => undefined);
	return {
		child,
		pid: child.pid ?? -1,
		started,
		done,
		async kill() {
			child.kill('SIGKILL');
			await exited;
		},
	};
}

export interface Execution {
	readonly id: string;
	readonly pid: number;
	readonly start: number;
	/** `null` when the process died before the work ended. */
	readonly end: number | null;
}

export interface RunLog {
	readonly executions: Execution[];
	/** Final statuses the callbacks saw, by task id. */
	readonly finals: Map<string, string[]>;
}

/** Read every worker's log in `logDir`. */
export function readLogs(logDir: string): RunLog {
	const open = new Map<string, Execution>();
	const executions: Execution[] = [];
	const finals = new Map<string, string[]>();
	for (const name of readdirSync(logDir)) {
		if (!name.endsWith('.log')) continue;
		for (const line of readFileSync(join(logDir, name), 'utf8').split('\n')) {
			const [kind, id = '', pid = '0', a = '0', b = '0'] = line.split(' ');
			if (kind === 'S') open.set(`${id} ${pid} ${a}`, { id, pid: Number(pid), start: Number(a), end: null });
			else if (kind === 'E') {
				open.delete(`${id} ${pid} ${a}`);
				executions.push({ id, pid: Number(pid), start: Number(a), end: Number(b) });
			} else if (kind === 'F') finals.set(id, [...(finals.get(id) ?? []), a]);
		}
	}
	executions.push(...open.values());
	executions.sort((x, y) => x.start - y.start);
	return { executions, finals };
}

/** How many tasks ran more than once, and the executions per task. */
export function duplicates(executions: readonly Execution[]): { ranTwice: number; byId: Map<string, Execution[]> } {
	const byId = new Map<string, Execution[]>();
	for (const execution of executions) byId.set(execution.id, [...(byId.get(execution.id) ?? []), execution]);
	let ranTwice = 0;
	for (const list of byId.values()) if (list.length > 1) ranTwice++;
	return { ranTwice, byId };
}

/**
 * Takeover time after a kill at `killedAt` of process `pid`: from the kill to the first new start of a task the
 * killed process had started but not stored as finished (it runs again elsewhere). `null` when there was none.
 */
export function takeoverMs(executions: readonly Execution[], pid: number, killedAt: number): number | null {
	const orphaned = new Set(executions.filter((e) => e.pid === pid).map((e) => e.id));
	let first: number | null = null;
	for (const e of executions) {
		if (e.pid !== pid && orphaned.has(e.id) && e.start >= killedAt && (first === null || e.start < first))
			first = e.start;
	}
	return first === null ? null : first - killedAt;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
