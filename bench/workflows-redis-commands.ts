/**
 * What a workflow step costs Redis in commands: RUNS runs of a 10-step chain and of a 1 -> 8 -> 1 fan-out/join
 * (no-op steps, concurrency 32), and as many plain tasks (added in batches of 500), one redis-server. Prints, per
 * case and per step (or task): the calls this process sent, by command and by script name (each a round trip
 * unless sent together), with their mean argument count; the server's calls and microseconds by command (`INFO
 * commandstats`: commands a script runs are counted too, and their time is inside the script's); this process's CPU.
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-redis-commands.ts [runs] [plain,chain,fan-out/join]
 *
 * With `CALLGRIND=1` and a `redis-server` first in `PATH` that runs the real one under
 * `valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=DIR/callgrind.out.%p` (a shell script that
 * `exec`s it, so the server's pid is valgrind's; `CALLGRIND_DIR`, default /tmp/cg), each case also prints the
 * server's instructions a step (callgrind's count over the case alone): independent of the machine's load, for A/B
 * of the scripts' own work (valgrind slows the server some 50 times, so calls gather more tasks than live).
 * `AOF=1`: the server keeps an append-only file (everysec), so its instructions include feeding it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import type { StepDefinition } from 'lightsched/workflows';
import * as addScripts from '../containers/redis/add-script.js';
import * as addStepScripts from '../containers/redis/add-step-scripts.js';
import * as leaseScripts from '../containers/redis/lease-scripts.js';
import * as operationScripts from '../containers/redis/operation-scripts.js';
import * as containerScripts from '../containers/redis/scripts.js';
import * as transitionScript from '../containers/redis/transition-script.js';
import * as releaseScript from '../containers/redis/workflow-release.js';
import * as workflowScripts from '../containers/redis/workflow-scripts.js';
import { startRedis } from '../test/support/redis.js';
import { REDIS_AOF_ARGS } from './durable-servers.js';
import { CHAIN as chain, FAN_OUT_JOIN as dag, noopWorkflows } from './workflow-shapes.js';

const RUNS = Number(process.argv[2] ?? 300);
const ONLY = (process.argv[3] ?? 'plain,chain,fan-out/join').split(',');

/** Script names by SHA1. */
const scriptNames = new Map<string, string>();
for (const module of [
	addScripts,
	addStepScripts,
	leaseScripts,
	operationScripts,
	containerScripts,
	transitionScript,
	releaseScript,
	workflowScripts,
])
	for (const value of Object.values(module) as unknown[]) {
		if (typeof value !== 'object' || value === null) continue;
		const clocked = value as { server?: { name: string; sha: string }; caller?: { name: string; sha: string } };
		const plainScript = value as { name?: unknown; sha?: unknown };
		for (const one of [clocked?.server, clocked?.caller])
			if (one?.sha !== undefined) scriptNames.set(one.sha, one.name);
		if (typeof plainScript?.sha === 'string' && typeof plainScript.name === 'string')
			scriptNames.set(plainScript.sha, plainScript.name);
	}

// AOF=1: the server appends to its AOF, synced every second (BullMQ's production advice, bench/workflows.ts's default).
const server = await startRedis(process.env.AOF === '1' ? { args: REDIS_AOF_ARGS } : {});
const admin = new Redis(server.port);
const callgrind = process.env.CALLGRIND === '1';
const callgrindDir = process.env.CALLGRIND_DIR ?? '/tmp/cg';
/** callgrind_control on the server (see the file's comment). */
const control = (...args: string[]): void => {
	execFileSync('callgrind_control', [...args, String(server.pid)], { stdio: 'ignore' });
};
/** The instructions of the server's last callgrind dump. */
const dumpedInstructions = (): number => {
	const prefix = `callgrind.out.${server.pid}.`;
	const last = readdirSync(callgrindDir)
		.filter((name) => name.startsWith(prefix))
		.sort((a, b) => Number(a.slice(prefix.length).split('-')[0]) - Number(b.slice(prefix.length).split('-')[0]))
		.at(-1);
	if (last === undefined) throw new Error(`No callgrind dump of ${server.pid} in ${callgrindDir}`);
	const totals = /^totals: (\d+)/m.exec(readFileSync(`${callgrindDir}/${last}`, 'utf8'));
	return Number(totals?.[1] ?? NaN);
};
/** The commands this process sent, by command or script name: calls and arguments. */
const sent = new Map<string, { calls: number; args: number }>();
/** An ioredis client that counts what it sends (the container's and the store's connection). */
function countingClient(): Redis {
	const client = new Redis(server.port);
	const send = client.sendCommand.bind(client);
	client.sendCommand = ((command: { name: string; args: unknown[] }, stream?: unknown) => {
		const name = command.name.toLowerCase();
		const key =
			name === 'evalsha'
				? `evalsha ${scriptNames.get(String(command.args[0])) ?? String(command.args[0]).slice(0, 8)}`
				: name === 'eval'
					? `eval (the script sent whole: not yet loaded)`
					: name;
		const entry = sent.get(key) ?? { calls: 0, args: 0 };
		entry.calls++;
		entry.args += command.args.length;
		sent.set(key, entry);
		return send(command as never, stream as never);
	}) as typeof client.sendCommand;
	return client;
}
type Stats = Map<string, { calls: number; usec: number }>;
const stats = async (): Promise<Stats> => {
	const info = await admin.info('commandstats');
	const out: Stats = new Map();
	for (const match of info.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g))
		out.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
	return out;
};
let n = 0;
const clients: Redis[] = [];
const make = async (): Promise<{ container: RedisContainer; store: RedisWorkflowStore }> => {
	const client = countingClient();
	clients.push(client);
	const container = new RedisContainer({ redis: client, name: `c${++n}`, log: false });
	await container.ready();
	return { container, store: new RedisWorkflowStore({ container }) };
};

async function plain(tasks: number): Promise<void> {
	const { container, store } = await make();
	await store.close();
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => null), concurrency: 32 });
	let done = 0;
	const finished = new Promise<void>((resolve) =>
		scheduler.on('task:succeeded', () => ++done === tasks && resolve()),
	);
	for (let i = 0; i < tasks; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, tasks - i) }, () => ({ item: null })));
	await finished;
	await scheduler.close();
}

async function runs(steps: StepDefinition[]): Promise<void> {
	const { container, store } = await make();
	const { scheduler, flows } = noopWorkflows(container, store, steps);
	const ids: string[] = [];
	for (let i = 0; i < RUNS; i += 100)
		ids.push(
			...(await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('bench')))).map(
				(r) => r.id,
			),
		);
	for (const id of ids) await flows.wait(id);
	await flows.close();
	await scheduler.close();
	await store.close();
}

const cases: [string, () => Promise<void>][] = [
	['plain', () => plain(RUNS * 10)],
	['chain', () => runs(chain)],
	['fan-out/join', () => runs(dag)],
];
try {
	for (const [name, work] of cases) {
		if (!ONLY.includes(name)) continue;
		const before = await stats();
		sent.clear();
		if (callgrind) {
			control('-z');
			control('-i', 'on');
		}
		const cpu = process.cpuUsage();
		await work();
		const used = process.cpuUsage(cpu);
		if (callgrind) {
			control('-i', 'off');
			control('-d');
		}
		const after = await stats();
		const per = RUNS * 10;
		console.log(`\n${name}: this process ${((used.user + used.system) / per).toFixed(0)} µs CPU a step`);
		if (callgrind)
			console.log(`  redis-server: ${(dumpedInstructions() / per / 1000).toFixed(1)}k instructions a step`);
		console.log('  sent by this process, a step:');
		for (const [key, { calls, args }] of [...sent].sort((a, b) => b[1].calls - a[1].calls))
			console.log(
				`    ${key.padEnd(30)} ${(calls / per).toFixed(3)} calls, ${(args / calls).toFixed(0)} arguments a call`,
			);
		console.log('  run by the server, a step:');
		const rows: [string, number, number][] = [];
		for (const [command, { calls, usec }] of after) {
			const was = before.get(command) ?? { calls: 0, usec: 0 };
			if (command === 'info' || calls === was.calls) continue;
			rows.push([command, (calls - was.calls) / per, (usec - was.usec) / per]);
		}
		rows.sort((a, b) => b[2] - a[2]);
		for (const [command, calls, usec] of rows.filter(([, , usec]) => usec >= 0.05))
			console.log(`    ${command.padEnd(14)} ${calls.toFixed(3)} calls  ${usec.toFixed(1)} µs`);
	}
} finally {
	for (const client of clients) client.disconnect();
	admin.disconnect();
	await server.stop();
}
