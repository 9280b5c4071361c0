/**
 * `lightsched runs` (cli/run-commands.ts), run as a child process against a SQLite file, a real redis-server and a
 * real PostgreSQL server, beside an in-test `Workflows` that plays the workers (its sweep every 50 ms): the CLI lists
 * and shows runs, writes the operator commands (the worker's sweep carries them out), retries the failed runs of a
 * key in bulk, removes and cleans runs (and counts them, `--dry-run`); exit codes 3 (no such run), 4 (the run's
 * state refuses the command) and 2 (bad usage); `--json` parses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type RunPage, type RunRecord } from 'lightsched/workflows';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { cliProcesses, until as untilEvery } from './cli-process.js';

const { cli, json } = await cliProcesses();
const dir = mkdtempSync(join(tmpdir(), 'lightsched-cli-runs-'));
let redis: RedisServer;
let postgres: PostgresServer;

beforeAll(async () => {
	[redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 120_000);
afterAll(async () => {
	await redis?.close();
	await postgres?.stop();
	rmSync(dir, { recursive: true, force: true });
});

const until = (what: string, check: () => boolean | Promise<boolean>) => untilEvery(what, check, 30_000, 50);

/** The workers: a scheduler running the step tasks and a `Workflows` on the container's own run store. */
interface Worker {
	readonly scheduler: Scheduler;
	readonly flows: Workflows;
	heal(): void;
	aborted(): number;
	close(): Promise<void>;
}

function worker(container: TaskContainer): Worker {
	let healed = false;
	let aborted = 0;
	const actions = workflowActions({
		flaky: () => {
			if (!healed) throw new Error('not yet');
			return 'fixed';
		},
		hang: (_params, ctx) =>
			new Promise((_resolve, reject) =>
				ctx.signal.addEventListener('abort', () => {
					aborted++;
					reject(ctx.signal.reason);
				}),
			),
		ok: (params) => params,
	});
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(actions),
		concurrency: 4,
		pollIntervalMs: 100,
	}) as unknown as Scheduler;
	const flows = new Workflows({ scheduler, actions, sweepMs: 50 });
	flows.define({
		name: 'flaky',
		steps: [
			{ id: 'a', action: 'flaky', maxAttempts: 1 },
			{ id: 'b', action: 'ok', dependsOn: ['a'] },
		],
	});
	flows.define({ name: 'stuck', steps: [{ id: 'hang', action: 'hang' }] });
	flows.define({
		name: 'gated',
		vars: { env: { default: 'prod' } },
		steps: [
			{
				id: 'deploy',
				action: 'ok',
				params: { to: '{{vars.env}}' },
				preCheck: [{ act: 'block', when: [{ source: 'vars', key: 'env', op: 'in', values: ['prod'] }] }],
			},
		],
	});
	return {
		scheduler,
		flows,
		heal: () => (healed = true),
		aborted: () => aborted,
		close: async () => {
			await flows.close();
			await scheduler.close();
		},
	};
}

let n = 0;
describe.each([
	[
		'SQLite',
		() => {
			const file = join(dir, `runs${++n}.sqlite`);
			const container = new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true },
			});
			return { container, args: ['--container', `sqlite:${file}`] };
		},
	],
	[
		'Redis',
		() => {
			const name = `runs${++n}p${process.pid}`;
			const container = new RedisContainer({ redis: redis.url, name, log: false });
			return { container, args: ['--container', redis.url, '--name', name] };
		},
	],
	[
		'PostgreSQL',
		async () => {
			const connection = await postgres.createDatabase(`runs${++n}`);
			const container = new SqlContainer({ knex: { client: 'pg', connection, pool: { min: 0, max: 4 } } });
			const url = `postgres://${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
			return { container, args: ['--container', url] };
		},
	],
] as const)('lightsched runs on %s', (_name, make) => {
	let w: Worker | undefined;
	afterEach(async () => {
		await w?.close();
		w = undefined;
	});

	it('lists and shows a failed run; retry from the shell, and the worker finishes it', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		const failed = await w.flows.wait((await w.flows.start('flaky', { key: 'order-7' })).id);
		expect(failed.status).toBe('failed');

		const page = await json<RunPage>([...c, 'runs', 'list', '--status', 'failed']);
		expect(page.total).toBe(1);
		expect(page.runs.map((run) => run.id)).toEqual([failed.id]);
		const text = await cli([...c, 'runs', 'list', '--status', 'failed,stopped', '--key', 'order-7']);
		expect(text.code).toBe(0);
		expect(text.out).toMatch(new RegExp(`^${failed.id} +flaky@1 +failed +order-7 +0/2 .* not yet$`, 'm'));
		expect((await json<RunPage>([...c, 'runs', 'list', '--definition', 'gated'])).total).toBe(0);
		const show = await cli([...c, 'runs', 'show', failed.id]);
		expect(show.code).toBe(0);
		expect(show.out).toMatch(/^status: +failed$/m);
		expect(show.out).toMatch(/^ {2}a +failed +1 +1 .* not yet$/m);
		expect(show.out).toMatch(/^ {2}b +waiting +0 +0 /m);

		// Wrong state, missing run, bad usage: nothing written.
		const resume = await cli([...c, 'runs', 'resume', failed.id]);
		expect(resume.code).toBe(4);
		expect(resume.err).toContain('`resume` needs a run that is paused; this one is failed');
		const missing = await cli([...c, 'runs', 'retry', 'nope']);
		expect(missing.code).toBe(3);
		expect(missing.err).toContain('No workflow run with id `nope`');
		const noRun = await cli([...c, 'runs', 'show', 'nope']);
		expect(noRun.code).toBe(3);
		expect(noRun.err).toBe('lightsched: No workflow run with id `nope`\n');
		const badStatus = await cli([...c, 'runs', 'list', '--status', 'done']);
		expect(badStatus.code).toBe(2);
		expect(badStatus.err).toContain('`--status`');
		expect((await cli([...c, 'runs', 'continue', failed.id])).code).toBe(2);
		expect((await w.flows.get(failed.id))?.rev).toBe(failed.rev);

		w.heal();
		const retried = await json<RunRecord>([...c, 'runs', 'retry', failed.id]);
		expect(retried).toMatchObject({ id: failed.id, status: 'running', open: true });
		const done = await w.flows.wait(failed.id, { timeoutMs: 20_000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
		const after = await cli([...c, 'runs', 'show', failed.id]);
		expect(after.out).toMatch(/^ {2}a +succeeded +1 +2 /m);
	}, 60_000);

	it('stop ends a run whose step hangs, its step task stopped; continue releases a blocked step', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		const stuck = await w.flows.start('stuck');
		const taskId = `wf:${stuck.id}:hang:1`;
		await until('the step to run', async () => (await w?.scheduler.get(taskId))?.status === 'running');
		const stop = await cli([...c, 'runs', 'stop', stuck.id]);
		expect(stop.code).toBe(0);
		expect(stop.out).toContain(`${stuck.id}: stopped`);
		const stopped = await w.flows.wait(stuck.id, { timeoutMs: 20_000 });
		expect(stopped).toMatchObject({ status: 'stopped', open: false });
		expect(stopped.steps.hang?.status).toBe('stopped');
		expect((await w.scheduler.get(taskId))?.status).toBe('stopped');
		expect(w.aborted()).toBe(1);
		expect((await cli([...c, 'runs', 'stop', stuck.id])).code).toBe(4);

		const gated = await w.flows.start('gated');
		await until('the run to block', async () => (await w?.flows.get(gated.id))?.status === 'blocked');
		expect((await cli([...c, 'runs', 'continue', gated.id, 'nope'])).code).toBe(4);
		const released = await cli([...c, 'runs', 'continue', gated.id, 'deploy']);
		expect(released.code).toBe(0);
		const done = await w.flows.wait(gated.id, { timeoutMs: 20_000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.deploy).toMatchObject({ status: 'succeeded', continued: true, output: { to: 'prod' } });
	}, 60_000);

	it('pause, resume, retry-from and skip from the shell', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		const gated = await w.flows.start('gated');
		await until('the run to block', async () => (await w?.flows.get(gated.id))?.status === 'blocked');
		expect(await json<RunRecord>([...c, 'runs', 'pause', gated.id, '--now'])).toMatchObject({ status: 'paused' });
		expect((await cli([...c, 'runs', 'pause', gated.id])).code).toBe(4);
		expect((await json<RunRecord>([...c, 'runs', 'resume', gated.id])).status).toBe('running');
		expect((await json<RunRecord>([...c, 'runs', 'skip', gated.id, 'deploy'])).steps.deploy?.status).toBe(
			'skipped',
		);
		const skipped = await w.flows.wait(gated.id, { timeoutMs: 20_000 });
		expect(skipped.status).toBe('succeeded');

		w.heal();
		const again = await json<RunRecord>([...c, 'runs', 'retry-from', gated.id, 'deploy']);
		expect(again).toMatchObject({ status: 'running', steps: { deploy: { status: 'waiting' } } });
		// Still gated: the worker blocks it again; continue lets it run.
		await until('the run to block again', async () => (await w?.flows.get(gated.id))?.status === 'blocked');
		await cli([...c, 'runs', 'continue', gated.id, 'deploy']);
		expect((await w.flows.wait(gated.id, { timeoutMs: 20_000 })).steps.deploy?.status).toBe('succeeded');
	}, 60_000);

	it('remove and clean delete finished runs and their step tasks; an open run is refused', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) ids.push((await w.flows.wait((await w.flows.start('flaky')).id)).id);
		const stuck = await w.flows.start('stuck');
		await until('the step to run', async () => (await w?.flows.get(stuck.id))?.status === 'running');

		const open = await cli([...c, 'runs', 'remove', stuck.id]);
		expect(open.code).toBe(4);
		const [first, ...rest] = ids as [string, ...string[]];
		expect(await json<{ removed: string[]; missing: string[] }>([...c, 'runs', 'remove', first])).toEqual({
			removed: [first],
			missing: [],
		});
		expect(await w.flows.get(first)).toBeNull();
		expect(await w.scheduler.get(`wf:${first}:a:1`)).toBeNull();
		const again = await cli([...c, 'runs', 'remove', first]);
		expect(again).toMatchObject({ code: 3, out: `${first}: no such run\n` });

		expect((await cli([...c, 'runs', 'clean', '--status', 'failed'])).code).toBe(2);
		expect((await cli([...c, 'runs', 'clean', '--status', 'running', '--keep', '1'])).code).toBe(2);
		expect(
			await json<{ removed: number }>([...c, 'runs', 'clean', '--status', 'failed', '--older-than', '1h']),
		).toEqual({ removed: 0, dryRun: false });
		const clean = await cli([...c, 'runs', 'clean', '--status', 'failed', '--keep', '1']);
		expect(clean).toMatchObject({ code: 0, out: 'removed 2 runs\n' });
		const left = await json<RunPage>([...c, 'runs', 'list']);
		expect(left.runs.map((run) => run.id)).toEqual([stuck.id, rest.at(-1)]);
		await cli([...c, 'runs', 'stop', stuck.id]);
	}, 60_000);

	it('retry --failed retries the failed runs of a key (or the oldest --limit) and no other; the worker finishes them', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		// One at a time, a few milliseconds apart, so their creation times are in order.
		const failedRun = async (key: string): Promise<RunRecord> => {
			await new Promise((resolve) => setTimeout(resolve, 3));
			return (w as Worker).flows.wait((await (w as Worker).flows.start('flaky', { key })).id);
		};
		const k1 = [await failedRun('k1'), await failedRun('k1')];
		const k2 = [await failedRun('k2'), await failedRun('k2')];
		const gated = await w.flows.start('gated', { key: 'k1' });
		await until('the run to block', async () => (await w?.flows.get(gated.id))?.status === 'blocked');

		for (const args of [
			['--failed', 'k1'],
			['--key', 'k1'],
			['--limit', '1'],
			['--failed', '--limit', '0'],
		]) {
			const usage = await cli([...c, 'runs', 'retry', ...args]);
			expect(usage.code, `${args.join(' ')}: ${usage.err}`).toBe(2);
		}
		expect((await cli([...c, 'runs', 'retry'])).err).toContain('Expected a run id, or `--failed`');
		for (const run of [...k1, ...k2]) expect((await w.flows.get(run.id))?.rev).toBe(run.rev);

		w.heal();
		const retried = await json<{ retried: string[] }>([...c, 'runs', 'retry', '--failed', '--key', 'k1']);
		expect(retried).toEqual({ retried: k1.map((run) => run.id) });
		for (const run of k1) {
			const done = await w.flows.wait(run.id, { timeoutMs: 20_000 });
			expect(done.status).toBe('succeeded');
			expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
		}
		for (const run of k2) expect(await w.flows.get(run.id)).toMatchObject({ status: 'failed', rev: run.rev });
		expect((await w.flows.get(gated.id))?.status).toBe('blocked');

		const [older, newer] = k2 as [RunRecord, RunRecord];
		const one = await cli([...c, 'runs', 'retry', '--failed', '--definition', 'flaky', '--limit', '1']);
		expect(one).toMatchObject({ code: 0, out: 'retried 1 failed run\n' });
		expect((await w.flows.wait(older.id, { timeoutMs: 20_000 })).status).toBe('succeeded');
		expect(await w.flows.get(newer.id)).toMatchObject({ status: 'failed', rev: newer.rev });
		expect((await cli([...c, 'runs', 'retry', '--failed', '--key', 'k1'])).out).toBe('retried 0 failed runs\n');
		await cli([...c, 'runs', 'stop', gated.id]);
	}, 90_000);

	it('clean --dry-run deletes nothing and counts what the clean then deletes', async () => {
		const { container, args: c } = await make();
		w = worker(container);
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) {
			await new Promise((resolve) => setTimeout(resolve, 3));
			ids.push((await w.flows.wait((await w.flows.start('flaky')).id)).id);
		}
		const rule = ['runs', 'clean', '--status', 'failed', '--keep', '1'];

		const dry = await cli([...c, ...rule, '--dry-run']);
		expect(dry).toMatchObject({ code: 0, out: 'would remove 3 runs\n' });
		expect(await json<{ removed: number; dryRun: boolean }>([...c, ...rule, '--dry-run'])).toEqual({
			removed: 3,
			dryRun: true,
		});
		const both = ['runs', 'clean', '--status', 'failed', '--older-than', '1h', '--keep', '0', '--dry-run'];
		expect(await json<{ removed: number }>([...c, ...both])).toMatchObject({ removed: 4 });
		expect((await json<RunPage>([...c, 'runs', 'list'])).total).toBe(4);
		for (const id of ids) expect(await w.scheduler.get(`wf:${id}:a:1`)).not.toBeNull();

		expect(await cli([...c, ...rule])).toMatchObject({ code: 0, out: 'removed 3 runs\n' });
		expect((await json<RunPage>([...c, 'runs', 'list'])).runs.map((run) => run.id)).toEqual([ids.at(-1)]);
		expect(await cli([...c, ...rule, '--dry-run'])).toMatchObject({ code: 0, out: 'would remove 0 runs\n' });
	}, 60_000);
});
