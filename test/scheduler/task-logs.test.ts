/**
 * Task logs through the scheduler (issue 14 item 7): `ctx.log(line)` from a function, in process and in a worker
 * thread, becomes `task:log` events and stored lines read back with `getLogs`, bounded, on a memory container and
 * on SQLite; a re-run starts a new log. The container clauses are in the contract suite (testing/log-suite.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer } from 'lightsched/containers/sql';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
	for (const s of opened.splice(0)) await s.close();
});

describe.each([
	['QueueContainer', (): TaskContainer => new QueueContainer()],
	[
		'SqlContainer on SQLite',
		(): TaskContainer =>
			new SqlContainer({
				knex: {
					client: 'sqlite3',
					connection: { filename: join(dir, `${Date.now()}.db`) },
					useNullAsDefault: true,
				},
			}),
	],
])('task logs on %s', (_name, container) => {
	it('stores what the work logs, emits task:log, keeps the newest 1,000 lines, and a re-run starts afresh', async () => {
		const scheduler = new Scheduler({
			container: container(),
			actuator: new FunctionActuator(async (n: number, { log }) => {
				for (let i = 0; i < n; i++) log(`line ${i}`);
				log('x'.repeat(10_000));
				return n;
			}),
		});
		opened.push(scheduler);
		const events: string[] = [];
		scheduler.on('task:log', ({ task, line }) => events.push(`${task.id}: ${line.slice(0, 10)}`));
		await scheduler.add({ id: 'short', item: 3 });
		await scheduler.add({ id: 'long', item: 1_200 });
		await scheduler.onIdle();
		// Written after the attempt ends too: read until the last line is there (bounded).
		for (let i = 0; i < 100 && (await scheduler.getLogs('long')).total < 1_201; i++)
			await new Promise((resolve) => setTimeout(resolve, 20));
		const short = await scheduler.getLogs('short');
		expect(short).toMatchObject({ offset: 0, total: 4, dropped: 0 });
		expect(short.lines.slice(0, 3)).toEqual(['line 0', 'line 1', 'line 2']);
		// A line over 8,192 characters is cut and marked.
		expect(short.lines[3]?.length).toBe(8_192);
		expect(short.lines[3]?.endsWith('…')).toBe(true);
		expect(events.filter((e) => e.startsWith('short:'))).toEqual([
			'short: line 0',
			'short: line 1',
			'short: line 2',
			'short: xxxxxxxxxx',
		]);
		const long = await scheduler.getLogs('long', { offset: -3 });
		expect(long).toMatchObject({ total: 1_201, dropped: 201, offset: 1_198 });
		expect(long.lines.slice(0, 2)).toEqual(['line 1198', 'line 1199']);
		expect((await scheduler.getLogs('long')).lines[0]).toBe('line 201');
		await scheduler.add({ id: 'short', item: 1 });
		await scheduler.onIdle();
		for (let i = 0; i < 100 && (await scheduler.getLogs('short')).total < 2; i++)
			await new Promise((resolve) => setTimeout(resolve, 20));
		expect((await scheduler.getLogs('short')).lines[0]).toBe('line 0');
		expect((await scheduler.getLogs('short')).total).toBe(2);
	});
});

it('logs from a function in a worker thread', async () => {
	const module = join(dir, 'logger.mjs');
	(await import('node:fs')).writeFileSync(
		module,
		'export default (item, { log }) => { log(`got ${item}`); return 1; };\n',
	);
	const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator({ module }) });
	opened.push(scheduler);
	await scheduler.add({ id: 'w', item: 'hello' });
	await scheduler.onIdle();
	for (let i = 0; i < 100 && (await scheduler.getLogs('w')).total < 1; i++)
		await new Promise((resolve) => setTimeout(resolve, 20));
	expect((await scheduler.getLogs('w')).lines).toEqual(['got hello']);
});

/** A QueueContainer whose log writes take `delayMs` each, recording every batch it is handed. */
function slowLogs(delayMs: number): { container: TaskContainer; batches: string[][] } {
	const inner = new QueueContainer();
	const batches: string[][] = [];
	const container = new Proxy(inner, {
		get(target, prop) {
			const value = Reflect.get(target, prop) as unknown;
			if (prop === 'appendLogs') {
				return async (id: string, lines: readonly string[], maxLines: number) => {
					batches.push([...lines]);
					await new Promise((resolve) => setTimeout(resolve, delayMs));
					await target.appendLogs(id, lines, maxLines);
				};
			}
			return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
		},
	});
	return { container, batches };
}

it('stores the last log lines before the outcome: whoever sees the task finished reads its whole log', async () => {
	const { container } = slowLogs(50);
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(async (_: null, { log }) => {
			log('first');
			await new Promise((resolve) => setTimeout(resolve, 10));
			log('second');
			log('last');
			return 'done';
		}),
	});
	opened.push(scheduler);
	const seen = new Promise<string[]>((resolve) => {
		scheduler.on('task:succeeded', ({ task }) => {
			void scheduler.getLogs(task.id).then((page) => resolve([...page.lines]));
		});
	});
	await scheduler.add({ id: 'ordered', item: null });
	expect(await seen).toEqual(['first', 'second', 'last']);
	expect((await scheduler.get('ordered'))?.status).toBe('succeeded');
});

it('a flood of lines faster than the store queues at most 2,000: the oldest become a line counting them', async () => {
	const { container, batches } = slowLogs(30);
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(async (n: number, { log }) => {
			for (let i = 0; i < n; i++) log(`line ${i}`);
			await new Promise((resolve) => setTimeout(resolve, 5));
			for (let i = n; i < 2 * n; i++) log(`line ${i}`);
			return n;
		}),
	});
	opened.push(scheduler);
	await scheduler.add({ id: 'flood', item: 5_000 });
	await scheduler.onIdle();
	expect((await scheduler.get('flood'))?.status).toBe('succeeded');
	// No batch is larger than twice the lines a task keeps (1,000), and every line is either stored or counted.
	expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(2_000);
	let accounted = 0;
	for (const batch of batches) {
		for (const line of batch) {
			const skipped = /^… (\d+) lines not stored$/.exec(line);
			accounted += skipped === null ? 1 : Number(skipped[1]);
		}
	}
	expect(accounted).toBe(10_000);
	const last = await scheduler.getLogs('flood', { offset: -1 });
	expect(last.lines).toEqual(['line 9999']);
	expect(batches.flat().some((line) => /^… \d+ lines not stored$/.test(line))).toBe(true);
});
