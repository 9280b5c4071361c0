/**
 * The run writes of `RedisWorkflowStore.update` alone, as a 10-step chain's step ends make them: RUNS runs created,
 * then 9 rounds of one update each, every update the engine's kind of record (sealed, workflows/sealed.ts: the steps
 * that did not change are the objects of the record written before; the step that ended and the one it starts are
 * new), all of a round submitted at once (gathered 25 a script call, as step ends of one tick are). This tree and,
 * given BASE=<another tree's root>, that one, on one redis-server, in turn (which goes first alternates) for ROUNDS
 * rounds. Per tree: this process's CPU µs an update and the server's (INFO cpu), medians, and the per-round ratio
 * this / base. With --expose-gc the garbage of a round is collected before the next is measured (without it, a
 * round pays for the other tree's garbage: an A/A run, BASE this very tree, gave 0.88; with it 0.97 node, 1.01
 * server, under a load of 3 on 2 cores, so read differences under ~5 % as noise there).
 *
 *   BASE=/path/to/other/tree node --expose-gc --import tsx --conditions=lightsched:source \
 *     bench/workflows-redis-writes.ts [runs] [rounds]
 */
import { Redis } from 'ioredis';
import * as thisRedis from 'lightsched/containers/redis';
import type { RunRecord, StepState } from 'lightsched/workflows';
import * as thisSealed from '../workflows/sealed.js';
import { median } from './stats.js';
import { startRedis } from '../test/support/redis.js';
import { redisCpuUs } from './redis-cpu.js';
import { newStepState } from '../workflows/advance.js';

const RUNS = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 12);

interface Tree {
	readonly redis: typeof thisRedis;
	readonly seal: <T extends object>(value: T) => T;
}
const trees: [string, Tree][] = [['this', { redis: thisRedis, seal: thisSealed.seal }]];
if (process.env.BASE !== undefined) {
	const root = process.env.BASE;
	const sealed = (await import(`${root}/workflows/sealed.ts`)) as typeof thisSealed;
	trees.push([
		'base',
		{ redis: (await import(`${root}/containers/redis.ts`)) as typeof thisRedis, seal: sealed.seal },
	]);
}

const server = await startRedis();
const admin = new Redis(server.port);
const serverCpuUs = (): Promise<number> => redisCpuUs(admin);

let n = 0;

/** One round of a tree: [this process's CPU µs an update, the server's]. */
async function round(tree: Tree): Promise<[number, number]> {
	const store = new tree.redis.RedisWorkflowStore({
		redis: { host: '127.0.0.1', port: server.port },
		name: `wfw${++n}`,
	});
	const now = Date.now();
	let runs: RunRecord[] = Array.from({ length: RUNS }, (_, r) => {
		const steps: Record<string, StepState> = {};
		for (let i = 0; i < 10; i++) steps[`s${i}`] = newStepState();
		steps.s0 = { ...newStepState(), status: 'running', generation: 1, startedAt: now };
		return tree.seal({
			id: `run-${n}-${r}-${Math.random().toString(36).slice(2, 10)}`,
			definition: 'bench',
			version: 1,
			vars: {},
			key: null,
			uniqueKey: false,
			status: 'running',
			shared: {},
			steps,
			createdAt: now,
			updatedAt: now,
			finishedAt: null,
			deadlineAt: null,
			error: null,
			open: true,
			notified: null,
			rev: 0,
		} as RunRecord);
	});
	await Promise.all(runs.map((run) => store.create(run)));
	// The garbage of the round before (the other tree's) collected outside the measure.
	(globalThis as { gc?: () => void }).gc?.();
	const cpu0 = process.cpuUsage();
	const server0 = await serverCpuUs();
	for (let k = 1; k < 10; k++) {
		const t = Date.now();
		runs = (await Promise.all(
			runs.map((run) => {
				const done = run.steps[`s${k - 1}`] as StepState;
				return store.update(
					tree.seal({
						...run,
						steps: {
							...run.steps,
							[`s${k - 1}`]: { ...done, status: 'succeeded', attempts: 1, finishedAt: t },
							[`s${k}`]: { ...newStepState(), status: 'running', generation: 1, startedAt: t },
						},
						updatedAt: t,
					}),
				);
			}),
		)) as RunRecord[];
	}
	const server1 = await serverCpuUs();
	const cpu = process.cpuUsage(cpu0);
	await store.close();
	const updates = RUNS * 9;
	return [(cpu.user + cpu.system) / updates, (server1 - server0) / updates];
}

const results = new Map<string, [number, number][]>(trees.map(([name]) => [name, []]));
const WARM = 2;
for (let r = 0; r < ROUNDS; r++) {
	const order = r % 2 === 0 ? trees : [...trees].reverse();
	for (const [name, tree] of order) {
		const result = await round(tree);
		if (r >= WARM) results.get(name)?.push(result);
		console.log(
			`round ${r + 1} ${name}: node ${result[0].toFixed(1)} µs, server ${result[1].toFixed(1)} µs an update`,
		);
	}
}
for (const [name, list] of results)
	console.log(
		`${name}: node ${median(list.map((x) => x[0])).toFixed(1)} µs, server ${median(list.map((x) => x[1])).toFixed(1)} µs an update (medians of rounds ${WARM + 1}-${ROUNDS})`,
	);
const a = results.get('this');
const b = results.get('base');
if (a !== undefined && b !== undefined && b.length > 0)
	console.log(
		`this/base per round, median: node ${median(a.map((x, i) => x[0] / (b[i] as [number, number])[0])).toFixed(3)}, server ${median(a.map((x, i) => x[1] / (b[i] as [number, number])[1])).toFixed(3)}`,
	);
admin.disconnect();
await server.close();
