/**
 * Two trees of lightsched compared in one process in memory, where nothing but the engine's own work is paid for
 * a step: this tree and, given BASE=<another tree's root> (a checkout with its node_modules), that one, each whole
 * (its Scheduler, QueueContainer, MemoryWorkflowStore, Workflows). Rounds of RUNS workflow runs (a 10-step chain,
 * then a 1 -> 8 -> 1 fan-out/join, no-op steps, concurrency 32) and of RUNS x 10 plain tasks, the two trees in turn
 * (which goes first alternates round by round). Per tree and case: this process's CPU per step and steps/s, medians
 * of the rounds after the first two (warm-up), and the median of the per-round ratios this / base. Without BASE it
 * measures this tree alone; ONLY=base the other tree alone (for a profile of it).
 *
 *   BASE=/path/to/other/tree node --expose-gc --import tsx --conditions=lightsched:source \
 *     bench/workflows-memory-ab.ts [runs] [rounds]
 */
import * as thisFunction from 'lightsched/actuators/function';
import * as thisCore from 'lightsched';
import * as thisQueue from 'lightsched/containers/queue';
import * as thisWorkflows from 'lightsched/workflows';
import type { StepDefinition } from 'lightsched/workflows';
import { median } from './stats.js';
import { CHAIN, FAN_OUT_JOIN } from './workflow-shapes.js';

const RUNS = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 8);
const WARM = 2;
const CONCURRENCY = 32;

/** What a round needs of a tree (its own classes: a tree's objects only meet its own). */
interface Tree {
	readonly core: typeof thisCore;
	readonly fn: typeof thisFunction;
	readonly queue: typeof thisQueue;
	readonly workflows: typeof thisWorkflows;
}
const variants: [string, Tree][] = [];
if (process.env.ONLY !== 'base')
	variants.push(['this', { core: thisCore, fn: thisFunction, queue: thisQueue, workflows: thisWorkflows }]);
if (process.env.BASE !== undefined) {
	const root = process.env.BASE;
	variants.push([
		'base',
		{
			core: (await import(`${root}/src/index.ts`)) as typeof thisCore,
			fn: (await import(`${root}/actuators/function.ts`)) as typeof thisFunction,
			queue: (await import(`${root}/containers/queue.ts`)) as typeof thisQueue,
			workflows: (await import(`${root}/workflows/index.ts`)) as typeof thisWorkflows,
		},
	]);
}

const cases: [string, StepDefinition[] | null][] = [
	['plain', null],
	['chain', CHAIN],
	['fan-out/join', FAN_OUT_JOIN],
];

/** RUNS x 10 plain tasks (no workflow): the container's and scheduler's own cost of a task. */
async function plain(tree: Tree): Promise<void> {
	const scheduler = new tree.core.Scheduler({
		container: new tree.queue.QueueContainer(),
		actuator: new tree.fn.FunctionActuator(() => null),
		concurrency: CONCURRENCY,
	});
	const tasks = RUNS * 10;
	let done = 0;
	const finished = new Promise<void>((resolve) =>
		scheduler.on('task:succeeded', () => ++done === tasks && resolve()),
	);
	for (let i = 0; i < tasks; i += 500)
		await scheduler.add(Array.from({ length: Math.min(500, tasks - i) }, () => ({ item: null })));
	await finished;
	await scheduler.close();
}

/** RUNS runs of the definition, 100 started at a time, each waited for. */
async function runs(tree: Tree, steps: StepDefinition[]): Promise<void> {
	const actions = tree.workflows.workflowActions({ noop: () => null });
	const scheduler = new tree.core.Scheduler({
		container: new tree.queue.QueueContainer(),
		actuator: new tree.fn.FunctionActuator(actions),
		concurrency: CONCURRENCY,
	});
	const flows = new tree.workflows.Workflows({ scheduler, actions, store: new tree.workflows.MemoryWorkflowStore() });
	flows.define({ name: 'bench', steps });
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
}

/** One round of one tree and case: [this process's CPU µs a step, steps/s]. */
async function round(tree: Tree, steps: StepDefinition[] | null): Promise<[number, number]> {
	// The garbage of the round before is collected before this one is measured (with node --expose-gc).
	(globalThis as { gc?: () => void }).gc?.();
	const cpu = process.cpuUsage();
	const started = performance.now();
	if (steps === null) await plain(tree);
	else await runs(tree, steps);
	const ms = performance.now() - started;
	const used = process.cpuUsage(cpu);
	const total = RUNS * 10;
	return [(used.user + used.system) / total, (total * 1000) / ms];
}

const results = new Map<string, [number, number][]>();
for (let r = 0; r < ROUNDS; r++) {
	const order = r % 2 === 0 ? variants : [...variants].reverse();
	for (const [name, steps] of cases)
		for (const [tree, parts] of order) {
			const figures = await round(parts, steps);
			const key = `${name} ${tree}`;
			results.set(key, [...(results.get(key) ?? []), figures]);
			console.log(`round ${r + 1} ${key}: ${figures[0].toFixed(1)} µs, ${figures[1].toFixed(0)} steps/s`);
		}
}
console.log(`\n${RUNS} runs (x 10 steps) a round, medians of rounds ${WARM + 1}-${ROUNDS}`);
console.log('| case | tree | CPU µs/step | steps/s | CPU this/base | steps/s this/base (per-round medians) |');
console.log('|---|---|---|---|---|---|');
for (const [name] of cases)
	for (const [tree] of variants) {
		const rows = (results.get(`${name} ${tree}`) ?? []).slice(WARM);
		const base = (results.get(`${name} base`) ?? []).slice(WARM);
		const ratio = (i: 0 | 1): string =>
			tree === 'this' && base.length === rows.length && base.length > 0
				? median(rows.map((row, k) => row[i] / (base[k] as [number, number])[i])).toFixed(3)
				: '';
		console.log(
			`| ${name} | ${tree} | ${median(rows.map((row) => row[0])).toFixed(1)} | ${median(rows.map((row) => row[1])).toFixed(0)} | ${ratio(0)} | ${ratio(1)} |`,
		);
	}
