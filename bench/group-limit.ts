/**
 * The cost of `groupRateLimit` (issue 14 item 4): does a saturated group's backlog slow the other groups' tasks?
 *
 * For RedisContainer, SqlContainer on SQLite and on PostgreSQL, each case on fresh storage with
 * `groupRateLimit: { max: 10, intervalMs: 1000 }`: HOT tasks of one group `hot` are added first (untimed), then
 * COLD tasks each in a group of its own (so every start reads and writes a group window). One scheduler
 * (concurrency CONCURRENCY) is started and timed until every cold task has succeeded:
 *
 * - `first pass`: the hot backlog is all in the claim order ahead of the cold tasks, so the claims must first park
 *   it (at most 1,000 tasks per claim, then the claim is made again at once);
 * - `parked`: then COLD more cold tasks are added and timed the same way, the hot backlog now parked (the steady
 *   state: a claim no longer meets it).
 *
 * HOT=0 is the baseline (the same claims with the limit, no backlog). Printed: cold tasks/s, median of ROUNDS fresh
 * stores per case, and the load average. The last line is `RESULT {json}`.
 *
 *   npx tsx --conditions=lightsched:source bench/group-limit.ts
 *     (HOT=0,10000,100000 COLD=1000 CONCURRENCY=16 ROUNDS=3 ONLY=redis,sqlite,pg)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { createTaskRecord } from 'lightsched/kit';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis } from '../test/support/redis.js';
import { median } from './stats.js';

const list = (name: string, fallback: string): string[] => (process.env[name] ?? fallback).split(',');
const HOT = list('HOT', '0,10000,100000').map(Number);
const COLD = Number(process.env['COLD'] ?? 1000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 16);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const ONLY = list('ONLY', 'redis,sqlite,pg');
const groupRateLimit = { max: 10, intervalMs: 1000 };

const load = (): string =>
	loadavg()
		.map((x) => x.toFixed(2))
		.join(' ');
const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-group-'));
const redis = ONLY.includes('redis') ? await startRedis() : undefined;
const postgres = ONLY.includes('pg') ? await startPostgres() : undefined;
let storeId = 0;

async function open(kind: string): Promise<TaskContainer> {
	const id = ++storeId;
	if (kind === 'redis') {
		return new RedisContainer({
			redis: (redis as NonNullable<typeof redis>).url,
			name: `bench-group-${id}`,
			log: false,
			groupRateLimit,
		});
	}
	const knex =
		kind === 'pg'
			? {
					client: 'pg',
					connection: await (postgres as NonNullable<typeof postgres>).createDatabase(`group_${id}`),
				}
			: { client: 'sqlite3', connection: { filename: join(dir, `g${id}.sqlite`) }, useNullAsDefault: true };
	const sql = new SqlContainer({ knex, groupRateLimit });
	await sql.migrate();
	return sql;
}

let taskId = 0;
async function addTasks(container: TaskContainer, n: number, group: (i: number) => string): Promise<void> {
	const now = Date.now();
	for (let start = 0; start < n; start += 10_000) {
		const batch = Array.from({ length: Math.min(10_000, n - start) }, (_, j) =>
			createTaskRecord({ id: `t${++taskId}`, item: 0, group: group(start + j) }, 'task', { maxAttempts: 1 }, now),
		);
		await container.add(batch);
	}
}

/** One store: the first pass and the parked pass, in cold tasks per second. */
async function round(kind: string, hot: number): Promise<{ first: number; parked: number }> {
	const container = await open(kind);
	let cold = 0;
	let wanted = COLD;
	let done: () => void = () => undefined;
	const scheduler = new Scheduler({
		container,
		concurrency: CONCURRENCY,
		pollIntervalMs: 50,
		maxAttempts: 1,
		actuator: new FunctionActuator((_item: number, { task }) => {
			if (task.group !== 'hot' && ++cold === wanted) done();
			return null;
		}),
	});
	scheduler.pause();
	await addTasks(container, hot, () => 'hot');
	await addTasks(container, COLD, (i) => `cold-${i}`);
	const timed = async (): Promise<number> => {
		const finished = new Promise<void>((resolve) => (done = resolve));
		const start = performance.now();
		scheduler.resume();
		await finished;
		return (COLD / (performance.now() - start)) * 1000;
	};
	const first = await timed();
	scheduler.pause();
	wanted += COLD;
	await addTasks(container, COLD, (i) => `cold2-${i}`);
	const parked = await timed();
	await scheduler.close();
	await container.close();
	return { first, parked };
}

const results: Record<string, Record<string, { first: number; parked: number }>> = {};
console.log(`load at start: ${load()}`);
for (const kind of ONLY) {
	results[kind] = {};
	for (const hot of HOT) {
		const rounds: { first: number; parked: number }[] = [];
		for (let r = 0; r < ROUNDS; r++) rounds.push(await round(kind, hot));
		const first = median(rounds.map((x) => x.first));
		const parked = median(rounds.map((x) => x.parked));
		(results[kind] as Record<string, { first: number; parked: number }>)[String(hot)] = { first, parked };
		console.log(
			`${kind.padEnd(6)} hot backlog ${String(hot).padStart(7)}: first pass ${first.toFixed(0).padStart(6)} cold tasks/s, parked ${parked.toFixed(0).padStart(6)} cold tasks/s (load ${load()})`,
		);
	}
}
await Promise.all([redis?.close(), postgres?.stop()]);
rmSync(dir, { recursive: true, force: true });
console.log(`RESULT ${JSON.stringify({ results, load: load() })}`);
