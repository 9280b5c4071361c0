/**
 * More of the `lightsched` command line (issue 16 item 2), run as a child process (cli/main.ts) against SQLite
 * files and a real redis-server: the bk-bscp pair `run` / `send --a 10 --b 20` exactly as docs/cli.md shows it,
 * `send`'s fields, `--wait` and exit codes, `--help` for every command, and the live status line of `worker` and
 * `clean` on a terminal (a pseudo-terminal from util-linux `script`, Ctrl+C typed into it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { cliProcesses, type CliChild } from './cli-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lightsched-cli-tools-'));
const { command: CLI, launch, start, cli } = await cliProcesses();
let redis: RedisServer;

// The handler of docs/cli.md's bk-bscp section, and one that fails on demand.
const addModule = join(dir, 'add.mjs');
writeFileSync(addModule, 'export default ({ a, b }) => a + b;\n');
const failing = join(dir, 'failing.mjs');
writeFileSync(
	failing,
	"export default ({ a, b, fail }) => { if (fail) throw new Error('asked to fail'); return a + b; };\n",
);

// Logs a line every 100 ms, `n` of them.
const stepsModule = join(dir, 'steps.mjs');
writeFileSync(
	stepsModule,
	`export default async ({ n }, { log }) => {
	for (let i = 1; i <= n; i++) {
		log(\`step \${i}\`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return n;
};\n`,
);

beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	await redis?.close();
	rmSync(dir, { recursive: true, force: true });
});

/** `lightsched <args>` under a pseudo-terminal: stdout is a TTY, and `\x03` written to stdin is Ctrl+C. */
function startOnTerminal(args: readonly string[]): CliChild {
	const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
	return launch('script', ['-qefc', `exec ${[...CLI, ...args].map(quote).join(' ')}`, '/dev/null']);
}

/** Resolves once `check` holds; re-checked on each chunk of the child's output. */
function when(child: CliChild, what: string, check: () => boolean): Promise<void> {
	return new Promise((resolve, reject) => {
		const test = (): void => {
			if (!check()) return;
			child.stdout?.off('data', test);
			child.stderr?.off('data', test);
			resolve();
		};
		child.stdout?.on('data', test);
		child.stderr?.on('data', test);
		child.exited.then(() => reject(new Error(`exited before ${what}: ${child.output()} ${child.errors()}`)));
		test();
	});
}

/** The commands of docs/cli.md's bk-bscp section, as argument lists after the container option. */
function documentedPair(): { run: string[]; send: string[]; output: string } {
	const section = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8').split('## A worker and a sender')[1] ?? '';
	const command = (name: string): string[] => {
		const line = section.split('\n').find((l) => l.startsWith(`$ npx lightsched -c sqlite:tasks.db ${name} `));
		if (line === undefined) throw new Error(`docs/cli.md has no \`${name}\` command in its bk-bscp section`);
		return (line.split('#')[0] as string).trim().split(/\s+/).slice(5);
	};
	const send = command('send');
	const after = section.split('\n');
	const output = after[after.findIndex((l) => l.startsWith('$ npx lightsched -c sqlite:tasks.db send ')) + 1] ?? '';
	return { run: command('run'), send, output };
}

describe.each([
	['SQLite', (tag: string) => ['--container', `sqlite:${join(dir, `${tag}.sqlite`)}`]],
	['Redis', (tag: string) => ['--container', redis.url, '--name', `${tag}${process.pid}`]],
])('lightsched on %s', (_name, where) => {
	it('the bk-bscp pair of docs/cli.md: `run --module ./add.mjs` in one shell, `send --a 10 --b 20 --wait` in another', async () => {
		const c = where('pair');
		const pair = documentedPair();
		expect(pair.run).toEqual(['run', '--module', './add.mjs']);
		expect(pair.send).toEqual(['send', '--a', '10', '--b', '20', '--wait']);
		expect(pair.output).toBe('30');
		const worker = start([...c, ...pair.run.map((arg) => (arg === './add.mjs' ? addModule : arg))]);
		const sent = await cli([...c, ...pair.send]);
		expect(sent).toMatchObject({ code: 0, out: `${pair.output}\n` });
		expect(sent.err).toMatch(/^sent [0-9a-f-]{36}, waiting for a worker to run it\.\.\.\n$/);
		await when(worker, 'the worker printed the result', () => /^succeeded \S+ in \S+: 30$/m.test(worker.output()));
		worker.stdin?.end();
		worker.kill('SIGINT');
		expect(await worker.exited).toBe(0);
	}, 120_000);

	it('send: fields from options, --id, --json, and --wait exiting 1 for a failed task', async () => {
		const c = where('send');
		const plain = await cli([
			...c,
			'send',
			'--id',
			's1',
			'--a',
			'1',
			'--b=2',
			'--tags',
			'["x"]',
			'--dry',
			'--s',
			'hi',
		]);
		expect(plain).toEqual({ code: 0, out: 'sent s1\n', err: '' });
		const got = JSON.parse((await cli([...c, 'get', 's1', '--json'])).out) as { item: unknown };
		expect(got.item).toEqual({ a: 1, b: 2, tags: ['x'], dry: true, s: 'hi' });
		const bad = await cli([...c, 'send', 'loose']);
		expect(bad.code).toBe(2);
		expect(bad.err).toContain('Expected the item\'s fields as `--key value` (or `--key=value`), got "loose"');
		expect((await cli([...c, 'send', '--id', 's1', '--a', '1'])).code).toBe(4);

		const worker = start([...c, 'run', '--module', failing, '--max-attempts', '1']);
		const failed = await cli([...c, 'send', '--max-attempts', '1', '--a', '1', '--b', '2', '--fail', '--wait']);
		expect(failed.code).toBe(1);
		expect(failed.out).toBe('');
		expect(failed.err).toMatch(/ failed: asked to fail\n$/);
		const ok = await cli([...c, 'send', '--a', '1', '--b', '2', '--wait', '--json']);
		expect(ok.code).toBe(0);
		expect(JSON.parse(ok.out)).toMatchObject({ status: 'succeeded', output: 3, item: { a: 1, b: 2 } });
		worker.kill('SIGINT');
		expect(await worker.exited).toBe(0);
	}, 120_000);
});

/** `run(args)` of cli/program.ts in this process, its output collected. */
async function inProcess(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
	let out = '';
	let err = '';
	const sink = (write: (text: string) => void): NodeJS.WritableStream =>
		new Writable({
			write(chunk: Buffer, _encoding, done) {
				write(chunk.toString());
				done();
			},
		});
	const io = { out: sink((text) => (out += text)), err: sink((text) => (err += text)) };
	const code = await run(args, io, Readable.from([]));
	return { code, out, err };
}

describe('lightsched logs --follow', () => {
	it("prints a running task's lines as they come, each once, and returns when the task has finished", async () => {
		const c = ['--container', `sqlite:${join(dir, 'follow.sqlite')}`];
		expect((await cli([...c, 'send', '--id', 'f1', '--n', '15'])).code).toBe(0);
		const follow = start([...c, 'logs', 'f1', '--follow', '--json']);
		follow.stdin?.end();
		const worker = start([...c, 'worker', '--module', stepsModule]);
		expect(await follow.exited).toBe(0);
		const lines = follow
			.output()
			.trim()
			.split('\n')
			.map((l) => JSON.parse(l) as { n: number; line: string });
		expect(lines).toEqual(Array.from({ length: 15 }, (_, i) => ({ n: i, line: `step ${i + 1}` })));
		expect(JSON.parse((await cli([...c, 'get', 'f1', '--json'])).out)).toMatchObject({ status: 'succeeded' });
		worker.kill('SIGINT');
		expect(await worker.exited).toBe(0);
		expect((await cli([...c, 'logs', 'nope', '--follow'])).code).toBe(3);
	}, 120_000);
});

describe('lightsched --help and exit codes', () => {
	it('every command has its --help (exit 0); an unknown option exits 2', async () => {
		const commands = ['counts', 'list', 'get', 'add', 'send', 'stop', 'retry', 'remove', 'clean', 'logs'];
		commands.push('pause', 'resume', 'worker', 'run', 'dashboard');
		// In this process (cli/program.ts's run, which the binary calls): fifteen Node start-ups would cost more
		// than every other case here; the binary's own exit codes are checked below and in the other cases.
		const helps = [];
		for (const command of commands) helps.push(await inProcess([command, '--help']));
		for (const [i, help] of helps.entries()) {
			const command = commands[i] === 'run' || commands[i] === 'worker' ? 'worker|run' : (commands[i] as string);
			expect(help.code, commands[i]).toBe(0);
			expect(help.out, commands[i]).toMatch(new RegExp(`^Usage: lightsched ${command.replace('|', '\\|')} `));
		}
		expect(helps[4]?.out).toContain('--wait');
		expect(helps[12]?.out).toContain('--docker');
		expect(helps[12]?.out).toContain('--http <file>');
		const unknown = await cli(['counts', '--frobnicate']);
		expect(unknown.code).toBe(2);
		expect(unknown.err).toContain("unknown option '--frobnicate'");
	}, 120_000);
});

describe('lightsched on a terminal', () => {
	it('worker keeps a live status line and stops on Ctrl+C; clean shows its count', async () => {
		const c = ['--container', `sqlite:${join(dir, 'tty.sqlite')}`];
		for (let i = 0; i < 3; i++)
			expect((await cli([...c, 'send', '--id', `t${i}`, '--a', `${i}`, '--b', '1'])).code).toBe(0);
		const worker = startOnTerminal([...c, 'worker', '--module', addModule]);
		await when(worker, 'three tasks succeeded', () => (worker.output().match(/succeeded t\d/g) ?? []).length === 3);
		worker.stdin?.write('\u0003');
		await worker.exited;
		// The escape character shown as <ESC>, to match it without a control character in a pattern.
		const screen = worker.output().replaceAll('\u001b', '<ESC>');
		expect(screen).toContain('SIGINT: handing running tasks back...');
		// The status line is redrawn in place (carriage return, erase line), and its last state stays on screen.
		expect(screen).toMatch(
			/\r<ESC>\[2Kworker \S+: running 0 · succeeded 3 · failed 0 · retrying 0 · stopped 0\r?\n/,
		);

		const clean = startOnTerminal([...c, 'clean', '--status', 'succeeded']);
		clean.stdin?.end();
		expect(await clean.exited).toBe(0);
		expect(clean.output().replaceAll('\u001b', '<ESC>')).toMatch(/\r<ESC>\[2Kclean: 3 removed so far\r?\n/);
		expect(clean.output()).toContain('removed 3 tasks');
	}, 120_000);
});
