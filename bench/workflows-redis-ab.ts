/**
 * Two trees of lightsched compared in one process on Redis: this one and, given BASE=<another tree's root> (a
 * checkout with its node_modules), that one, each whole (its Scheduler, RedisContainer, RedisWorkflowStore on the
 * container's connection, Workflows), on one redis-server. Rounds of RUNS workflow runs (a 10-step chain, then a
 * 1 -> 8 -> 1 fan-out/join, no-op steps, concurrency 32), the two trees in turn (which goes first alternates round
 * by round), each on a container of its own. Per tree and shape: this process's CPU per step and the server's (INFO
 * cpu), steps/s, medians of the rounds after the first two (warm-up), and of each the median of the per-round
 * ratios this / base with their spread (lowest-highest). On a loaded machine both trees share the load's moments, so their ratio is steadier than that of
 * whole processes run in turn. Without BASE it measures this tree alone; ONLY=base the other tree alone (for a
 * profile of it).
 *
 *   BASE=/path/to/other/tree node --expose-gc --import tsx --conditions=lightsched:source \
 *     bench/workflows-redis-ab.ts [runs] [rounds]
 */
import { Redis } from 'ioredis';
import * as thisFunction from 'lightsched/actuators/function';
import * as thisCore from 'lightsched';
import * as thisRedis from 'lightsched/containers/redis';
import * as thisWorkflows from 'lightsched/workflows';
import type { StepDefinition } from 'lightsched/workflows';
import { median } from './stats.js';
import { CHAIN, FAN_OUT_JOIN } from './workflow-shapes.js';
import { startRedis } from '../test/support/redis.js';
import { redisCpuUs } from './redis-cpu.js';

const RUNS = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 8);
const WARM = 2;
const CONCURRENCY = 32;

/** What a round needs of a tree (its own classes: a tree's objects only meet its own). */
interface Tree {
	readonly core: typeof thisCore;
	readonly fn: typeof thisFunction;
	readonly redis: typeof thisRedis;
	readonly workflows: typeof thisWorkflows;
}
const variants: [string, Tree][] = [];
if (process.env.ONLY !== 'base')
	variants.push(['this', { core: thisCore, fn: thisFunction, redis: thisRedis, workflows: thisWorkflows }]);
if (process.env.BASE !== undefined) {
	const root = process.env.BASE;
	variants.push([
		'base',
		{
			core: (await import(`${root}/src/index.ts`)) as typeof thisCore,
			fn: (await import(`${root}/actuators/function.ts`)) as typeof thisFunction,
			redis: (await import(`${root}/containers/redis.ts`)) as typeof thisRedis,
			workflows: (await import(`${root}/workflows/index.ts`)) as typeof thisWorkflows,
		},
	]);
}

const shapes: [string, StepDefinition[]][] = [
	['chain', CHAIN],
	['fan-out/join', FAN_OUT_JOIN],
];

const server = await startRedis();
const admin = new Redis(server.port);
const serverCpuUs = (): Promise<number> => redisCpuUs(admin);
let n = 0;

/** One round of one tree and shape: [this process's CPU µs a step, the server's, steps/s]. */
async function round(tree: Tree, steps: StepDefinition[]): Promise<[number, number, number]> {
	const container = new tree.redis.RedisContainer({
		redis: { host: '127.0.0.1', port: server.port },
		name: `wfab${++n}`,
		log: false,
	});
	await container.ready();
	const store = new tree.redis.RedisWorkflowStore({ container });
	const actions = tree.workflows.workflowActions({ noop: () => null });
	const scheduler = new tree.core.Scheduler({
		container,
		actuator: new tree.fn.FunctionActuator(actions),
		concurrency: CONCURRENCY,
	});
	const flows = new tree.workflows.Workflows({ scheduler, actions, store });
	flows.define({ name: 'bench', steps });
	// The garbage of the round before is collected before this one is measured (with node --expose-gc).
	(globalThis as { gc?: () => void }).gc?.();
	const cpu = process.cpuUsage();
	const serverBefore = await serverCpuUs();
	const started = performance.now();
	const ids: string[] = [];
	for (let i = 0; i < RUNS; i += 100)
		ids.push(
			...(await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('bench')))).map(
				(r) => r.id,
			),
		);
	for (const id of ids) await flows.wait(id);
	const ms = performance.now() - started;
	const used = process.cpuUsage(cpu);
	const serverUs = (await serverCpuUs()) - serverBefore;
	await flows.close();
	await scheduler.close();
	await store.close();
	const total = RUNS * steps.length;
	return [(used.user + used.system) / total, serverUs / total, (total * 1000) / ms];
}

const results = new Map<string, [number, number, number][]>();
try {
	for (let r = 0; r < ROUNDS; r++) {
		const order = r % 2 === 0 ? variants : [...variants].reverse();
		for (const [shape, steps] of shapes)
			for (const [name, tree] of order) {
				const figures = await round(tree, steps);
				const key = `${shape} ${name}`;
				results.set(key, [...(results.get(key) ?? []), figures]);
				console.log(
					`round ${r + 1} ${key}: node ${figures[0].toFixed(0)} µs, server ${figures[1].toFixed(0)} µs, ${figures[2].toFixed(0)} steps/s`,
				);
			}
	}
	console.log(`\n${RUNS} runs a round, medians of rounds ${WARM + 1}-${ROUNDS}`);
	console.log(
		'| shape | tree | node µs/step | server µs/step | steps/s | this/base per round, median (min-max): node | server | steps/s |',
	);
	console.log('|---|---|---|---|---|---|---|---|');
	for (const [shape] of shapes)
		for (const [name] of variants) {
			const rows = (results.get(`${shape} ${name}`) ?? []).slice(WARM);
			const base = (results.get(`${shape} base`) ?? []).slice(WARM);
			// Per-round ratios this / base of each figure: the median, and the spread over the rounds.
			const ratio = (at: number): string => {
				if (name !== 'this' || base.length !== rows.length || base.length === 0) return '';
				const ratios = rows.map((row, i) => (row[at] as number) / ((base[i] as number[])[at] as number));
				return `${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
			};
			console.log(
				`| ${shape} | ${name} | ${median(rows.map((row) => row[0])).toFixed(0)} | ${median(rows.map((row) => row[1])).toFixed(0)} | ${median(rows.map((row) => row[2])).toFixed(0)} | ${ratio(0)} | ${ratio(1)} | ${ratio(2)} |`,
			);
		}
} finally {
	admin.disconnect();
	await server.stop();
}
