/**
 * One benchmark report (issue 15 item 7): runs a fixed set of benches with fixed sizes, one after another, each as
 * a child process, and writes `bench/reports/<date>.md` and `.json`: the machine (CPUs, model, memory), Node, the
 * servers' versions (redis-server, PostgreSQL), the commit, the load average at the start of the run and of each
 * bench, and each bench's tables (medians of its rounds and its ratios to the peers, as the bench prints them) and,
 * where a bench prints one, its final `RESULT {json}` line.
 *
 *   npm run bench                   (BENCHES=memory,redis,sql,latency,backlog,workflows to run only some;
 *                                    OVERRIDE='{"ROUNDS":"1"}' to change every bench's settings, for a quick try:
 *                                    the report's commands show it; DURABLE=0 for servers without fsync nor AOF)
 *
 * Every bench that compares on a server starts a durable one (PostgreSQL `fsync` and `full_page_writes` on,
 * redis-server AOF `appendfsync everysec`, as the peers advise for production; bench/durable-servers.ts); with
 * `DURABLE=0` they start the test harness's (no fsync, no AOF), as every report before 7 Dec 2026 (afternoon) did.
 * The report says which, and `DURABLE=0` shows in each bench's command.
 *
 * The sizes are the benches' own defaults trimmed so the whole run stays near half an hour on two busy cores; each
 * bench's command and settings are in the report, so a figure can be reproduced on its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DURABLE, SERVERS, startBenchPostgres, startBenchRedis } from './durable-servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPORTS = join(ROOT, 'bench', 'reports');

interface Bench {
	readonly name: string;
	readonly file: string;
	/** Arguments after the file (a bench that takes its sizes as arguments). */
	readonly args?: readonly string[];
	readonly about: string;
	/** Node options: `--conditions=lightsched:source` runs lightsched from its sources; without, from `dist/`. */
	readonly node: readonly string[];
	readonly env: Readonly<Record<string, string>>;
	/** Runs lightsched from its build (`npm run build` first). */
	readonly build?: boolean;
}

const SOURCE = ['--import', 'tsx', '--conditions=lightsched:source'];
const BENCHES: readonly Bench[] = [
	{
		name: 'memory',
		file: 'bench/memory.ts',
		about: 'in memory: QueueContainer against p-queue and fastq, one add per task; heap per waiting task',
		node: ['--expose-gc', '--import', 'tsx'],
		env: { ROUNDS: '3', TASKS: '100000', QUEUED: '1000000' },
		build: true,
	},
	{
		name: 'redis',
		file: 'bench/redis.ts',
		about: 'Redis: RedisContainer against BullMQ 6 (like-for-like and recommended) on one redis-server',
		node: ['--import', 'tsx'],
		env: { ROUNDS: '3', CASES: '10000:100:1,20000:100:1,20000:100:4' },
		build: true,
	},
	{
		name: 'sql',
		file: 'bench/sql.ts',
		about: 'SQL: SqlContainer on SQLite and PostgreSQL against graphile-worker and pg-boss (like-for-like and recommended)',
		node: SOURCE,
		env: { ROUNDS: '3', TASKS: '10000' },
	},
	{
		name: 'latency',
		file: 'bench/latency.ts',
		about: 'add-to-start latency at 200 tasks/s into idle workers, µs, on Redis, PostgreSQL and SQLite, beside the peers',
		node: ['--import', 'tsx'],
		env: { ROUNDS: '3', SAMPLES: '500', RATE: '200', WARMUP: '50' },
		build: true,
	},
	{
		name: 'backlog',
		file: 'bench/backlog.ts',
		about: 'throughput against a stored backlog (delayed, finished) on every container; stall during a large add()',
		node: SOURCE,
		env: { ROUNDS: '3', DELAYED: '0,100000', FINISHED: '100000', STALL: '100000' },
	},
	{
		name: 'workflows',
		file: 'bench/workflows.ts',
		args: ['1000', 'memory,sqlite,sqlite-better,pg,redis'],
		about: 'workflows: 1,000 runs of a 10-step chain and of a 10-step fan-out/join, steps/s and cost per step against plain tasks, beside BullMQ flows and DBOS Transact',
		node: ['--import', 'tsx'],
		env: { ROUNDS: '3', PEERS: '1' },
		build: true,
	},
];

interface Table {
	readonly caption: string;
	readonly header: string[];
	readonly rows: string[][];
	readonly markdown: string;
}

interface BenchRun {
	readonly name: string;
	readonly about: string;
	readonly command: string;
	readonly startedAt: string;
	readonly seconds: number;
	readonly loadAtStart: number[];
	readonly loadAtEnd: number[];
	readonly exitCode: number | null;
	readonly tables: Table[];
	readonly result: unknown;
	readonly output: string;
}

const cells = (line: string): string[] =>
	line
		.trim()
		.replace(/^\|/, '')
		.replace(/\|$/, '')
		.split('|')
		.map((c) => c.trim());

/** The Markdown tables a bench printed (runs of lines starting with `|`), each with the line before it. */
function tablesOf(output: string): Table[] {
	const lines = output.split('\n');
	const tables: Table[] = [];
	for (let i = 0; i < lines.length; i++) {
		if (!lines[i]?.startsWith('|') || !/^\|[-:| ]+\|$/.test(lines[i + 1]?.trim() ?? '')) continue;
		let caption = '';
		for (let j = i - 1; j >= 0 && j >= i - 3; j--) {
			const text = lines[j]?.trim() ?? '';
			if (text !== '' && !text.startsWith('|')) {
				caption = text.replace(/^#+\s*/, '').replace(/:+$/, '');
				break;
			}
		}
		let end = i + 2;
		while (end < lines.length && lines[end]?.startsWith('|')) end++;
		tables.push({
			caption,
			header: cells(lines[i] as string),
			rows: lines.slice(i + 2, end).map(cells),
			markdown: lines.slice(i, end).join('\n'),
		});
		i = end - 1;
	}
	return tables;
}

/** Settings laid over every bench's (a quick try); shown in each command of the report. */
const OVERRIDE = JSON.parse(process.env.OVERRIDE ?? '{}') as Record<string, string>;

function runBench(bench: Bench): Promise<BenchRun> {
	// The children inherit DURABLE from this process's environment; written out so the command reproduces the run.
	const env = { ...bench.env, ...(DURABLE ? {} : { DURABLE: '0' }), ...OVERRIDE };
	const loadAtStart = loadavg();
	const startedAt = new Date().toISOString();
	const began = performance.now();
	const envText = Object.entries(env)
		.map(([k, v]) => `${k}=${v}`)
		.join(' ');
	const args = bench.args ?? [];
	const command = [envText, 'node', ...bench.node, bench.file, ...args].join(' ');
	console.log(`\n== ${bench.name}: ${command}  (load ${loadAtStart.map((x) => x.toFixed(2)).join(' ')})`);
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [...bench.node, bench.file, ...args], {
			cwd: ROOT,
			env: { ...process.env, ...env },
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			process.stdout.write(chunk);
		});
		child.on('close', (exitCode) => {
			const resultLine = output
				.split('\n')
				.reverse()
				.find((line) => line.startsWith('RESULT '));
			let result: unknown = null;
			try {
				result = resultLine === undefined ? null : JSON.parse(resultLine.slice('RESULT '.length));
			} catch {
				result = null;
			}
			resolve({
				name: bench.name,
				about: bench.about,
				command,
				startedAt,
				seconds: (performance.now() - began) / 1000,
				loadAtStart,
				loadAtEnd: loadavg(),
				exitCode,
				tables: tablesOf(output),
				result,
				output: output
					.split('\n')
					.filter((line) => !line.startsWith('RESULT '))
					.join('\n'),
			});
		});
	});
}

async function serverVersions(): Promise<{ redis: string; postgres: string }> {
	const redis = await startBenchRedis();
	const postgres = await startBenchPostgres();
	try {
		const admin = new Redis({ host: '127.0.0.1', port: redis.port });
		const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
		admin.disconnect();
		const client = new pg.Client(postgres.url);
		await client.connect();
		const { rows } = await client.query<{ version: string }>('select version()');
		await client.end();
		return { redis: `redis-server ${redisVersion}`, postgres: rows[0]?.version ?? '?' };
	} finally {
		await redis.close();
		await postgres.stop();
	}
}

function git(...args: string[]): string {
	const out = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
	return out.status === 0 ? out.stdout.trim() : '';
}

const fmtLoad = (load: readonly number[]): string => load.map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
	const only = process.env.BENCHES?.split(',');
	const selected = BENCHES.filter((b) => only === undefined || only.includes(b.name));
	const loadAtStart = loadavg();
	const started = new Date();
	const cpu = cpus();
	const machine = {
		cpus: cpu.length,
		model: cpu[0]?.model ?? '?',
		memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
		os: `${platform()} ${release()}`,
	};
	const servers = await serverVersions();
	const commit = process.env.LIGHTSCHED_COMMIT ?? git('rev-parse', '--short', 'HEAD');
	const dirty = process.env.LIGHTSCHED_COMMIT === undefined && git('status', '--porcelain', '--', '.') !== '';
	console.log(
		`${started.toISOString()}  ${machine.cpus} × ${machine.model}, Node ${process.version}, ${servers.redis}, ${servers.postgres}; commit ${commit}${dirty ? ' (with uncommitted changes)' : ''}; servers ${SERVERS}; load average ${fmtLoad(loadAtStart)}`,
	);
	if (selected.some((b) => b.build)) {
		console.log('\n== npm run build');
		const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
		if (build.status !== 0) throw new Error('npm run build failed');
	}
	const runs: BenchRun[] = [];
	for (const bench of selected) runs.push(await runBench(bench));
	const seconds = (Date.now() - started.getTime()) / 1000;

	const date = started.toISOString().slice(0, 10);
	mkdirSync(REPORTS, { recursive: true });
	let base = join(REPORTS, date);
	if (existsSync(`${base}.md`))
		base = join(REPORTS, `${date}-${started.toISOString().slice(11, 16).replace(':', '')}`);
	const report = {
		date: started.toISOString(),
		seconds,
		machine,
		node: process.version,
		servers,
		durable: DURABLE,
		commit,
		uncommittedChanges: dirty,
		loadAtStart,
		loadAtEnd: loadavg(),
		benches: runs,
	};
	writeFileSync(`${base}.json`, `${JSON.stringify(report, null, '\t')}\n`);

	const md: string[] = [
		`# Benchmark report, ${date}`,
		'',
		`Written by \`npm run bench\` (bench/run-all.ts) on ${started.toISOString()}; the whole run took ${Math.round(seconds)} s.`,
		'',
		`- Machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, ${machine.os}`,
		`- Node ${process.version}; ${servers.redis}; ${servers.postgres}`,
		`- Servers: ${SERVERS}`,
		`- Commit ${commit}${dirty ? ' (with uncommitted changes in the checkout)' : ''}`,
		`- Load average (1, 5, 15 min) at the start: **${fmtLoad(loadAtStart)}**; at the end: ${fmtLoad(loadavg())}`,
		'',
		'Every bench runs lightsched and its peers in the same run on the same servers and prints medians of its rounds;',
		'the ratios (same run, same load) are what to compare between reports, not the absolute rates. The raw output',
		'of each bench is in the JSON file beside this one.',
	];
	for (const run of runs) {
		md.push(
			'',
			`## ${run.name}`,
			'',
			`${run.about}.`,
			'',
			`\`${run.command}\` — started ${run.startedAt.slice(11, 19)} UTC, ${Math.round(run.seconds)} s, load average ${fmtLoad(run.loadAtStart)} at its start and ${fmtLoad(run.loadAtEnd)} at its end${run.exitCode === 0 ? '' : `; **exited with ${String(run.exitCode)}**`}.`,
		);
		for (const table of run.tables)
			md.push('', ...(table.caption ? [`${table.caption}:`, ''] : []), table.markdown);
		if (run.tables.length === 0) md.push('', '(no table printed; see the JSON for its output)');
	}
	writeFileSync(`${base}.md`, `${md.join('\n')}\n`);
	console.log(`\nreport: ${base}.md and ${base}.json (${Math.round(seconds)} s)`);
}

await main();
