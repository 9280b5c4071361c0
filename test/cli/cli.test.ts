/**
 * The `lightsched` command line (issue 16 item 2), run as a child process (cli/main.ts, the bin's source) against
 * SQLite files and a real redis-server: the commands, their exit codes, `--json`, the item from stdin or fields,
 * and `worker` killed (SIGKILL) and restarted, and stopped with SIGINT (its running tasks handed back uncounted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { cliProcesses, until } from './cli-process.js';

const { start, cli, json } = await cliProcesses();
const dir = mkdtempSync(join(tmpdir(), 'lightsched-cli-'));
let redis: RedisServer;

// The task function of the workers: a + b after `ms` (default 0); `fail` throws.
const handler = join(dir, 'add.mjs');
writeFileSync(
	handler,
	`export default async ({ a, b, ms = 0, fail }, { log }) => {
	log(\`adding \${a} and \${b}\`);
	if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
	if (fail) throw new Error('asked to fail');
	return a + b;
};\n`,
);

beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	await redis?.close();
	rmSync(dir, { recursive: true, force: true });
});

interface Counts {
	waiting: number;
	running: number;
	succeeded: number;
	failed: number;
	stopped: number;
}
interface Task {
	id: string;
	status: string;
	attempts: number;
	item: unknown;
	output: unknown;
}

describe.each([
	['SQLite', (tag: string) => ['--container', `sqlite:${join(dir, `${tag}.sqlite`)}`]],
	['Redis', (tag: string) => ['--container', redis.url, '--name', `${tag}${process.pid}`]],
])('lightsched on %s', (_name, where) => {
	it('adds from an argument, fields and stdin; counts, lists, gets; exit codes for a missing id and bad input', async () => {
		const c = where('basics');
		expect(await cli([...c, 'add', '{"a":1,"b":2}', '--id', 'arg'])).toEqual({
			code: 0,
			out: 'added arg\n',
			err: '',
		});
		expect((await cli([...c, 'add', '-f', 'a=10', '-f', 'b=20', '--id', 'fields'])).code).toBe(0);
		expect((await cli([...c, 'add', '--id', 'stdin', '--delay', '1h'], '{"a":5,"b":6}')).code).toBe(0);
		const counts = await json<Counts>([...c, 'counts']);
		expect(counts).toMatchObject({ waiting: 3, running: 0, succeeded: 0 });
		const human = await cli([...c, 'counts']);
		expect(human.out).toMatch(/^waiting +3$/m);
		expect(human.out).toMatch(/^total +3$/m);
		const page = await json<{ tasks: Task[]; total: number }>([...c, 'list', '--limit', '2']);
		expect(page.total).toBe(3);
		expect(page.tasks.map((t) => t.id)).toEqual(['stdin', 'fields']);
		const oldest = await json<{ tasks: Task[] }>([...c, 'list', '--order', 'asc', '--limit', '1']);
		expect(oldest.tasks.map((t) => t.id)).toEqual(['arg']);
		expect(await json<Task>([...c, 'get', 'fields'])).toMatchObject({ item: { a: 10, b: 20 }, status: 'waiting' });
		expect((await cli([...c, 'get', 'fields'])).out).toMatch(/^status: +waiting$/m);

		const missing = await cli([...c, 'get', 'nope']);
		expect(missing).toMatchObject({ code: 3, out: '' });
		expect(missing.err).toContain('No task `nope`');
		const badJson = await cli([...c, 'add', '{not json']);
		expect(badJson.code).toBe(2);
		expect(badJson.err).toContain('Expected the item (the argument) to be JSON');
		const badStatus = await cli([...c, 'list', '--status', 'done']);
		expect(badStatus.code).toBe(2);
		expect(badStatus.err).toContain('`--status`');
		const duplicate = await cli([...c, 'add', '{}', '--id', 'arg']);
		expect(duplicate.code).toBe(4);
		// Nothing stored was lost or changed by the refused commands.
		expect(await json<Counts>([...c, 'counts'])).toMatchObject({ waiting: 3 });
		const unknown = await cli([...c, 'frobnicate']);
		expect(unknown.code).toBe(2);
		expect(unknown.err).toContain("unknown command 'frobnicate'");

		// stop, retry and remove
		expect((await cli([...c, 'stop', 'stdin'])).out).toBe('stdin: stopped\n');
		const running = await cli([...c, 'retry', 'arg']);
		expect(running.code).toBe(4);
		expect(running.err).toContain('is waiting: only a finished task');
		expect(await json<Task[]>([...c, 'retry', 'stdin'])).toMatchObject([{ id: 'stdin', status: 'waiting' }]);
		expect((await cli([...c, 'stop', 'stdin'])).code).toBe(0);
		expect((await cli([...c, 'remove', 'stdin'])).out).toBe('stdin: removed\n');
		expect((await cli([...c, 'remove', 'stdin'])).code).toBe(3);
	}, 120_000);

	it('worker runs the tasks; killed mid-task, a restarted worker finishes them; SIGINT hands running tasks back', async () => {
		const c = where('worker');
		const items = Array.from({ length: 8 }, (_, i) => JSON.stringify({ a: i, b: 100, ms: 600 }));
		for (const [i, item] of items.entries()) await cli([...c, 'add', item, '--id', `w${i}`, '--max-attempts', '3']);
		// Killed while tasks run: their leases lapse and the next worker takes them over.
		const first = start([...c, 'worker', '--module', handler, '--concurrency', '4', '--lease', '1s']);
		await until('the first worker to finish a task', () => first.output().includes('succeeded '));
		first.kill('SIGKILL');
		await first.exited;
		const second = start([...c, 'worker', '--module', handler, '--concurrency', '4', '--lease', '1s', '--json']);
		await until(
			'every task to succeed',
			async () => (await json<Counts>([...c, 'counts'])).succeeded === items.length,
			90_000,
		);
		second.kill('SIGINT');
		const code = await second.exited;
		expect(code).toBe(0);
		const events = second
			.output()
			.trim()
			.split('\n')
			.map((line) => JSON.parse(line) as { event: string; id?: string });
		expect(events.at(-1)).toMatchObject({ event: 'closed', signal: 'SIGINT' });
		for (let i = 0; i < items.length; i++)
			expect(await json<Task>([...c, 'get', `w${i}`])).toMatchObject({ status: 'succeeded', output: i + 100 });
		// What the work logged, stored by the worker process, read by another.
		const logs = await cli([...c, 'logs', 'w3']);
		expect(logs.out).toContain('adding 3 and 100');
		expect((await cli([...c, 'logs', 'nope'])).code).toBe(3);

		// SIGINT while tasks run: the worker exits 0 and the tasks wait again, their attempt not counted.
		for (let i = 0; i < 3; i++)
			await cli([...c, 'add', JSON.stringify({ a: 1, b: 1, ms: 30_000 }), '--id', `long${i}`]);
		const third = start([...c, 'worker', '--module', handler, '--concurrency', '4']);
		await until('the long tasks to run', async () => (await json<Counts>([...c, 'counts'])).running === 3);
		third.kill('SIGINT');
		expect(await third.exited).toBe(0);
		expect(third.errors()).toContain('handing running tasks back');
		for (let i = 0; i < 3; i++)
			expect(await json<Task>([...c, 'get', `long${i}`])).toMatchObject({ status: 'waiting', attempts: 0 });
	}, 240_000);

	it('pause holds every worker, across a worker restart, until resume from another process', async () => {
		const c = where('pause');
		expect((await cli([...c, 'pause'])).code).toBe(0);
		const first = start([...c, 'worker', '--module', handler, '--concurrency', '4']);
		for (let i = 0; i < 4; i++) await cli([...c, 'add', JSON.stringify({ a: i, b: 1 }), '--id', `p${i}`]);
		// The worker is up and says the queue is paused; given time to claim, it ran nothing.
		await until('the worker to say it is paused', () => first.errors().includes('the queue is paused'));
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		expect(await json<Counts>([...c, 'counts'])).toMatchObject({ waiting: 4, running: 0, succeeded: 0 });
		first.kill('SIGINT');
		await first.exited;
		// A new worker process still finds the queue paused (stored in the container).
		const second = start([...c, 'worker', '--module', handler, '--concurrency', '4']);
		await until('the second worker to say it is paused', () => second.errors().includes('the queue is paused'));
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		expect(await json<Counts>([...c, 'counts'])).toMatchObject({ waiting: 4, succeeded: 0 });
		expect(await json<{ paused: boolean }>([...c, 'resume'])).toEqual({ paused: false });
		await until('every task to succeed', async () => (await json<Counts>([...c, 'counts'])).succeeded === 4);
		second.kill('SIGINT');
		await second.exited;
		expect(await json<Task>([...c, 'get', 'p3'])).toMatchObject({ status: 'succeeded', output: 4 });
	}, 120_000);

	it('clean removes finished tasks older than asked, and --dry-run only counts them', async () => {
		const c = where('clean');
		for (let i = 0; i < 5; i++) await cli([...c, 'add', '{}', '--id', `c${i}`]);
		await cli([...c, 'stop', 'c0', 'c1', 'c2']);
		expect(await json<{ removed: number }>([...c, 'clean', '--older-than', '1h'])).toMatchObject({ removed: 0 });
		expect(await json<{ removed: number }>([...c, 'clean', '--dry-run'])).toMatchObject({
			removed: 3,
			dryRun: true,
		});
		expect(await json<Counts>([...c, 'counts'])).toMatchObject({ stopped: 3, waiting: 2 });
		expect((await cli([...c, 'clean', '--limit', '2'])).out).toBe('removed 2 tasks\n');
		expect(await json<Counts>([...c, 'counts'])).toMatchObject({ stopped: 1, waiting: 2 });
		await cli([...c, 'stop', 'c3', 'c4']);
		expect((await cli([...c, 'clean', '--keep', '1'])).out).toBe('removed 2 tasks\n');
		expect(await json<Task>([...c, 'get', 'c4'])).toMatchObject({ status: 'stopped' });
		const bad = await cli([...c, 'clean', '--status', 'waiting']);
		expect(bad.code).toBe(2);
		expect(bad.err).toContain('final statuses');
	}, 120_000);
});

it('names the container forms it takes when --container is missing or wrong', async () => {
	const none = await cli(['counts']);
	expect(none.code).toBe(2);
	expect(none.err).toContain('Expected `--container`');
	const wrong = await cli(['--container', 'mysql://x', 'counts']);
	expect(wrong.code).toBe(2);
	expect(wrong.err).toContain('sqlite:<path>, postgres://user@host/db or redis://host:port, got "mysql://x"');
	const help = await cli(['add', '--help']);
	expect(help.code).toBe(0);
	expect(help.out).toContain('--field <key=value>');
});
