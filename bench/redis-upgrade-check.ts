/**
 * A rolling upgrade on Redis, by hand: an earlier commit's RedisContainer and this tree's on one redis-server and one
 * container name, each moving the other's tasks (add, claim, renew, retry, succeed, list, lease expiry), every record
 * read by both and compared field by field (the fields both versions have). Run it before changing what a task hash
 * holds. Not a test: it needs the commit in git history (a shallow clone has none).
 *
 *   npx tsx --conditions=lightsched:source bench/redis-upgrade-check.ts [commit, default 14d8c1c: 0.1.0]
 *
 * It checks the commit out in a worktree under /tmp (node_modules linked to this tree's), imports both containers
 * from source, and exits 1 on the first record the two read differently.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RedisContainer } from 'lightsched/containers/redis';
import type { TaskRecord } from 'lightsched/kit';
import { records } from '../testing/container-suite.js';
import { startRedis } from '../test/support/redis.js';

const commit = process.argv[2] ?? '14d8c1c';
const root = resolve(import.meta.dirname, '..');
const tree = `/tmp/lightsched-old-${commit}`;
if (!existsSync(tree)) {
	execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', tree, commit], { stdio: 'inherit' });
	symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
}

/** What both versions' containers offer (0.1.0's signatures). */
interface Container {
	add(tasks: readonly TaskRecord[]): Promise<void>;
	claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]>;
	transition(id: string, from: string, to: string, patch: object, owner?: string): Promise<TaskRecord | null>;
	renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<{ lost: readonly string[] }>;
	reclaimExpired(now: number): Promise<TaskRecord[]>;
	get(id: string): Promise<TaskRecord | null>;
	close(): Promise<void>;
}
const old = (await import(join(tree, 'containers/redis.ts'))) as {
	RedisContainer: new (options: object) => Container;
};

const server = await startRedis();
const name = 'upgrade';
const before = new old.RedisContainer({ redis: server.url, name, log: false });
const after = new RedisContainer({ redis: server.url, name, log: false }) as unknown as Container;
let checked = 0;

/** The fields the earlier version has must agree between `a` and `b`. */
function agree(a: TaskRecord, b: TaskRecord, what: string): void {
	for (const field of Object.keys(a) as (keyof TaskRecord)[]) {
		if (JSON.stringify(a[field]) !== JSON.stringify(b[field])) {
			console.error(`${what}: ${a.id}.${field} ${JSON.stringify(a[field])} against ${JSON.stringify(b[field])}`);
			process.exitCode = 1;
		}
	}
	checked++;
}

/** Both read `id` alike, and `returned` (the record a claim or transition gave) is what they read. */
async function same(id: string, step: string, returned?: TaskRecord | null): Promise<void> {
	const a = await before.get(id);
	const b = await after.get(id);
	if (a === null || b === null) throw new Error(`${step}: ${id} read as ${String(a)} / ${String(b)}`);
	agree(a, b, `${step}, read before / after`);
	if (returned) agree(a, returned, `${step}, read / returned`);
}
const end = { owner: null, leaseUntil: null };
try {
	// Each pass: who adds, who moves, its label, and its task ids' first letter.
	for (const [adder, mover, label, p] of [
		[after, before, 'added after, moved before', 'a'],
		[before, after, 'added before, moved after', 'b'],
	] as const) {
		await adder.add(
			records([
				{ id: `${p}1`, item: { n: 1 } },
				{ id: `${p}2`, item: 2, timeoutMs: 1500 },
				{ id: `${p}3`, item: 3, priority: 5 },
			]),
		);
		for (const id of [`${p}1`, `${p}2`, `${p}3`]) await same(id, `${label}, added`);
		const claimed = await mover.claim(3, 'mover', 10_000, Date.now());
		if (claimed.length !== 3) throw new Error(`${label}: claimed ${claimed.length} of 3`);
		for (const task of claimed) await same(task.id, `${label}, claimed`, task);
		await mover.renew('mover', [`${p}1`, `${p}2`, `${p}3`], 10_000, Date.now());
		const done = await mover.transition(
			`${p}1`,
			'running',
			'succeeded',
			{ ...end, finishedAt: Date.now(), output: 'out' },
			'mover',
		);
		await same(`${p}1`, `${label}, succeeded`, done);
		const error = { message: 'boom', code: 'E_BOOM' };
		const retried = await mover.transition(
			`${p}2`,
			'running',
			'waiting',
			{ ...end, error, runAt: Date.now() },
			'mover',
		);
		await same(`${p}2`, `${label}, retried`, retried);
		// The retried one claimed again by the adder, then ended.
		const again = await adder.claim(1, 'adder', 10_000, Date.now());
		if (again[0]?.id !== `${p}2`) throw new Error(`${label}: the adder claimed ${String(again[0]?.id)}, not ${p}2`);
		await same(`${p}2`, `${label}, claimed again`, again[0]);
		const second = await adder.transition(
			`${p}2`,
			'running',
			'succeeded',
			{ ...end, finishedAt: Date.now(), output: 7 },
			'adder',
		);
		await same(`${p}2`, `${label}, succeeded again`, second);
		// The third one's lease expires: reclaimed by the adder.
		await adder.reclaimExpired(Date.now() + 60_000);
		await same(`${p}3`, `${label}, reclaimed`);
	}
	console.log(
		`${checked} comparisons between ${commit} and this tree${process.exitCode === 1 ? ': the differences above' : ', all alike'}`,
	);
} finally {
	await before.close();
	await after.close();
	await server.close();
}
