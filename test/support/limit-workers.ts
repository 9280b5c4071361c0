/**
 * Scheduler processes on a limited container (test/fixtures/limit-scheduler.ts) for the rate-limit and
 * global-concurrency tests: start one, read the work intervals they logged, wait for a run to finish.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TaskContainer } from 'lightsched';
import type { LimitWorkerConfig } from '../fixtures/limit-scheduler.js';
import { bundledCommand } from './bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/fixtures/limit-scheduler.ts`;
const WORKER = await bundledCommand(SCRIPT);

/** Start a worker process; it joins `set` until it exits. */
export function startLimitWorker(
	config: LimitWorkerConfig,
	set: Set<ChildProcess>,
): { child: ChildProcess; ready: Promise<void> } {
	const child = spawn(process.execPath, [WORKER[1]], {
		cwd: ROOT,
		env: { ...process.env, LIGHTSCHED_LIMIT: JSON.stringify(config) },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	set.add(child);
	child.once('exit', () => set.delete(child));
	const ready = new Promise<void>((resolve, reject) => {
		child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
		createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
			if (line === 'ready') resolve();
		});
	});
	return { child, ready };
}

/** The work intervals the workers logged (`start`/`end` lines, one clock), by task id. */
export function readIntervals(logs: readonly string[]): Map<string, { start: number; end: number; starts: number }> {
	const out = new Map<string, { start: number; end: number; starts: number }>();
	for (const log of logs) {
		if (!existsSync(log)) continue;
		for (const line of readFileSync(log, 'utf8').split('\n')) {
			const [kind, id, at] = line.split(' ');
			if (id === undefined || at === undefined) continue;
			const entry = out.get(id) ?? { start: 0, end: 0, starts: 0 };
			if (kind === 'start') {
				entry.start = Number(at);
				entry.starts++;
			} else entry.end = Number(at);
			out.set(id, entry);
		}
	}
	return out;
}

/** Wait (up to 60 s) until `total` tasks succeeded. */
export async function waitFinished(container: TaskContainer, total: number): Promise<void> {
	const c = container;
	for (let i = 0; i < 600; i++) {
		const page = await c.list({ status: 'succeeded', limit: total + 1 });
		if (page.tasks.length >= total) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error('the tasks did not all finish within 60 s');
}
