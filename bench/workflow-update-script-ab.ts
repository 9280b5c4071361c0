/**
 * What a run write costs redis-server, this tree's script against another tree's, both on the same arguments (this
 * tree's encoding) and the same stored runs: RUNS runs of a 10-step chain half done, written ROUNDS × 2 times in
 * calls of 25, the two scripts in turn (which goes first alternates). `update`: the `workflow update` script
 * (containers/redis/workflow-scripts.ts); `release`: the step release (workflow-release.ts), each write adding one
 * step task (left waiting: nothing claims here). Prints the server's CPU a write (INFO cpu) of each, medians, and
 * the median of the per-round ratios this / base with their spread.
 *
 *   BASE=/path/to/other/tree npx tsx --conditions=lightsched:source bench/workflow-update-script-ab.ts \
 *     [runs] [rounds] [update|release]
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RunRecord, StepState } from 'lightsched/workflows';
import { runArgs } from '../containers/redis/run-codec.js';
import { createTaskRecord } from 'lightsched/kit';
import { encodeAllForAdd } from '../containers/redis/codec.js';
import * as mineRelease from '../containers/redis/workflow-release.js';
import * as mine from '../containers/redis/workflow-scripts.js';
import { median } from './stats.js';
import { startRedis } from '../test/support/redis.js';
import { redisCpuUs } from './redis-cpu.js';

const RUNS = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 16);
const MODE = process.argv[4] ?? 'update';
if (process.env.BASE === undefined) throw new Error('Set BASE to the root of the tree to compare with');
const base = (await import(`${process.env.BASE}/containers/redis/workflow-scripts.ts`)) as typeof mine;
const baseRelease = (await import(`${process.env.BASE}/containers/redis/workflow-release.ts`)) as typeof mineRelease;
/** The script each tree writes with, as `{ sha, source }`. */
const scripts =
	MODE === 'release'
		? { this: mineRelease.RELEASE_RUNS.server, base: baseRelease.RELEASE_RUNS.server }
		: { this: mine.UPDATE_RUNS, base: base.UPDATE_RUNS };
let tasks = 0;
/** The arguments of one write of `run` (its rev the expected one), as the store sends them. */
function writeArgs(run: RunRecord): string[] {
	const values = [String(run.rev), ...runArgs({ ...run, rev: run.rev + 1 })];
	if (MODE !== 'release') return values;
	const task = createTaskRecord({ id: `task-${++tasks}`, item: { run: run.id } }, 'task', { maxAttempts: 3 }, 0);
	return encodeAllForAdd([task], [...values, String(Date.now()), randomUUID(), '1']);
}

const step = (i: number): StepState => ({
	status: i < 4 ? 'succeeded' : i === 4 ? 'running' : 'waiting',
	generation: i <= 4 ? 1 : 0,
	attempts: i < 4 ? 1 : 0,
	output: null,
	error: null,
	checkpoint: null,
	trace: [],
	startedAt: i <= 4 ? 1_796_607_638_032 : null,
	finishedAt: i < 4 ? 1_796_607_638_034 : null,
	continued: false,
	handBack: false,
});
const runs: RunRecord[] = Array.from({ length: RUNS }, (_, r) => ({
	id: `run-${r}`,
	definition: 'bench',
	version: 1,
	vars: {},
	key: null,
	uniqueKey: false,
	status: 'running',
	shared: {},
	steps: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`s${i}`, step(i)])),
	createdAt: 1_796_607_638_031 + r,
	updatedAt: 1_796_607_638_035,
	finishedAt: null,
	deadlineAt: null,
	error: null,
	open: true,
	notified: null,
	rev: 0,
}));

const server = await startRedis();
const redis = new Redis(server.port);
const P = 'lightsched:{bench}:';
const serverCpuUs = (): Promise<number> => redisCpuUs(redis);
try {
	for (let i = 0; i < RUNS; i += 25)
		await redis.eval(mine.CREATE_RUNS.source, 1, P, ...runs.slice(i, i + 25).flatMap((run) => runArgs(run)));
	for (const tree of [scripts.this, scripts.base]) await redis.script('LOAD', tree.source);
	const perUpdate: Record<'this' | 'base', number[]> = { this: [], base: [] };
	for (let round = 0; round < ROUNDS; round++) {
		const order: ['this' | 'base', { sha: string }][] = [
			['this', scripts.this],
			['base', scripts.base],
		];
		for (const [name, tree] of round % 2 === 0 ? order : order.reverse()) {
			const before = await serverCpuUs();
			for (let rep = 0; rep < 2; rep++) {
				const calls: Promise<unknown>[] = [];
				for (let i = 0; i < RUNS; i += 25) {
					const args: string[] = [];
					for (const run of runs.slice(i, i + 25)) {
						args.push(...writeArgs(run));
						run.rev++;
					}
					calls.push(redis.evalsha(tree.sha, 1, P, ...args));
				}
				// Every write applied (a refused one would measure nothing).
				for (const replies of (await Promise.all(calls)) as unknown[][])
					for (const reply of replies)
						if (!Array.isArray(reply) || reply[0] !== 'ok')
							throw new Error(`A ${MODE} was not applied: ${String(reply)}`);
			}
			perUpdate[name].push(((await serverCpuUs()) - before) / (2 * RUNS));
			// The step tasks' indexes emptied (their hashes stay): each round adds to sets of one size, as a live
			// container whose tasks are claimed and finished keeps them small.
			await redis.del(`${P}waiting`, `${P}all`, `${P}s:waiting`);
		}
	}
	const ratios = perUpdate.this.map((value, i) => value / (perUpdate.base[i] as number));
	console.log(
		`server µs a ${MODE}: this ${median(perUpdate.this).toFixed(2)}, base ${median(perUpdate.base).toFixed(2)}; ` +
			`this/base per round ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}), ${ROUNDS} rounds`,
	);
} finally {
	redis.disconnect();
	await server.stop();
}
