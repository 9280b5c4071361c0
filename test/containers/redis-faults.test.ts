/**
 * Fault tests: four scheduler processes share one RedisContainer and 10,000 tasks while something breaks:
 * a scheduler is SIGKILLed, redis-server restarts, redis-server freezes. Each task ends exactly once in a final
 * state and none is lost; how many ran more than once (at-least-once) is printed. Every execution start and
 * every success is appended to a per-process file (a side channel that survives Redis faults).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError } from 'lightsched';
import { RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startWorker, type WorkerProcess } from '../support/redis-worker.js';

const TASKS = 10_000;
const PROCESSES = 4;
const LEASE_MS = 1000;
/** Each scenario takes 10 to 30 s on an idle 2-core machine; the limit leaves room for a loaded one. */
const LIMIT = { timeout: 120_000 };

let server: RedisServer;
let logs: string;

beforeAll(async () => {
	server = await startRedis({ args: ['--appendonly', 'yes'] });
	logs = mkdtempSync(join(tmpdir(), 'lightsched-faults-'));
});
afterAll(async () => {
	await server?.close();
	if (logs) rmSync(logs, { recursive: true, force: true });
});

interface Outcome {
	/** Execution starts per task id. */
	readonly starts: Map<string, number>;
	/** Successes reported (by the owner whose final transition was accepted) per task id. */
	readonly done: Map<string, number>;
}

function readLogs(dir: string): Outcome {
	const starts = new Map<string, number>();
	const done = new Map<string, number>();
	for (const file of readdirSync(dir)) {
		if (file.endsWith('.err')) continue;
		for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
			if (line === '') continue;
			if (line.startsWith('done ')) {
				const id = line.slice(5);
				done.set(id, (done.get(id) ?? 0) + 1);
			} else starts.set(line, (starts.get(line) ?? 0) + 1);
		}
	}
	return { starts, done };
}

/**
 * Wait (checking every 100 ms: finishes in other processes have no event here) until `done` says so. A read that
 * fails while the server is away (a `ContainerError` after the call guard's bound: a restarted server loading its
 * append-only file on a loaded machine can take longer than that) is the designed answer, not the end of the wait:
 * read again until the deadline.
 */
async function waitFor(
	container: RedisContainer,
	done: (succeeded: number, pending: number) => boolean,
	limitMs: number,
): Promise<void> {
	const deadline = Date.now() + limitMs;
	for (;;) {
		let c: Awaited<ReturnType<RedisContainer['counts']>>;
		try {
			c = await container.counts();
		} catch (error) {
			if (!(error instanceof ContainerError) || Date.now() > deadline) throw error;
			await sleep(100);
			continue;
		}
		if (done(c.succeeded, c.waiting + c.running + c.exporting)) return;
		if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(c)}`);
		await sleep(100);
	}
}

/** When a task's success went unreported, print what Redis holds of it and what the schedulers reported. */
async function explainMissing(label: string, outcome: Outcome, container: RedisContainer, dir: string): Promise<void> {
	const missing = Array.from({ length: TASKS }, (_, i) => `task-${i}`).filter((id) => outcome.done.get(id) !== 1);
	if (missing.length === 0) return;
	console.log(
		`[${label}] ${missing.length} tasks without exactly one reported success: ${missing.slice(0, 10).join(', ')}`,
	);
	for (const id of missing.slice(0, 5)) {
		console.log(
			`[${label}] ${id}: ${String(outcome.starts.get(id) ?? 0)} starts, stored ${JSON.stringify(await container.get(id))}`,
		);
	}
	for (const file of readdirSync(dir).filter((f) => f.endsWith('.err'))) {
		console.log(
			`[${label}] ${file}:\n${readFileSync(join(dir, file), 'utf8').split('\n').slice(0, 20).join('\n')}`,
		);
	}
}

/**
 * Run TASKS tasks on PROCESSES schedulers; call `fault` once a quarter of them succeeded; wait for all to finish
 * and check that each ended exactly once, succeeded, none lost.
 */
async function scenario(
	label: string,
	fault: (workers: WorkerProcess[], container: RedisContainer) => Promise<void>,
): Promise<Outcome> {
	const name = `${label}-${process.pid}`;
	const logDir = mkdtempSync(join(logs, `${label}-`));
	const container = new RedisContainer({
		redis: { port: server.port, host: '127.0.0.1', maxRetriesPerRequest: null },
		name,
		log: false,
	});
	const workers = Array.from({ length: PROCESSES }, (_, i) =>
		startWorker({
			url: server.url,
			name,
			concurrency: 25,
			leaseMs: LEASE_MS,
			workMs: 2,
			log: join(logDir, `w${i}.log`),
		}),
	);
	try {
		await Promise.all(workers.map((w) => w.ready));
		const started = Date.now();
		await container.add(
			records(
				Array.from({ length: TASKS }, (_, i) => ({ id: `task-${i}`, item: i })),
				Date.now(),
				1000,
			),
		);
		await waitFor(container, (succeeded) => succeeded >= TASKS / 4, 60_000);
		await fault(workers, container);
		await waitFor(container, (_succeeded, pending) => pending === 0, 60_000);
		console.log(`[${label}] ${TASKS} tasks on ${PROCESSES} processes finished in ${Date.now() - started} ms`);
		const counts = await container.counts();
		expect(counts).toMatchObject({ succeeded: TASKS, failed: 0, stopped: 0, waiting: 0, running: 0, exporting: 0 });
		// Redis holds a success before its owner reads the reply (which a restart may delay): the owners report
		// everything they will once they closed.
		await Promise.all(workers.map((w) => w.stop()));
		const outcome = readLogs(logDir);
		await explainMissing(label, outcome, container, logDir);
		let twice = 0;
		for (let i = 0; i < TASKS; i++) {
			const runs = outcome.starts.get(`task-${i}`) ?? 0;
			expect(runs, `task-${i} never ran`).toBeGreaterThan(0);
			if (runs > 1) twice++;
			expect(outcome.done.get(`task-${i}`) ?? 0, `task-${i} succeeded twice`).toBeLessThanOrEqual(1);
		}
		console.log(`[${label}] tasks run more than once: ${twice} of ${TASKS}`);
		return outcome;
	} finally {
		await Promise.all(workers.map((w) => w.stop()));
		await container.close();
	}
}

describe('RedisContainer under faults (4 processes, 10,000 tasks)', () => {
	it(
		'a scheduler SIGKILLed mid-run: its tasks are taken over, every task ends exactly once, none lost',
		LIMIT,
		async () => {
			await scenario('kill', async (workers, container) => {
				const victim = workers[0] as WorkerProcess;
				const pid = victim.child.pid;
				await victim.kill();
				const killedAt = Date.now();
				// Taken over: no task left running under the dead scheduler's name (owner ids carry the pid).
				for (;;) {
					const { tasks } = await container.list({ status: 'running', limit: 1000 });
					if (!tasks.some((t) => t.owner?.includes(`:${String(pid)}:`))) break;
					await sleep(25);
				}
				console.log(
					`[kill] takeover of the dead scheduler's tasks: ${Date.now() - killedAt} ms (lease ${LEASE_MS} ms)`,
				);
			});
		},
	);

	it('redis-server restarted mid-run (appendonly): schedulers reconnect and finish every task', LIMIT, async () => {
		const outcome = await scenario('restart', async () => {
			const before = Date.now();
			await server.restart();
			console.log(`[restart] redis-server down and back in ${Date.now() - before} ms`);
		});
		for (let i = 0; i < TASKS; i++) expect(outcome.done.get(`task-${i}`)).toBe(1);
	});

	it('redis-server frozen (SIGSTOP) for 2 s: no task finishes twice (fencing), all finish', LIMIT, async () => {
		const outcome = await scenario('pause', async () => {
			server.pause();
			await sleep(2000);
			server.resume();
		});
		for (let i = 0; i < TASKS; i++) expect(outcome.done.get(`task-${i}`)).toBe(1);
	});
});
