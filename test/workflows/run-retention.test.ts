/**
 * Run retention (workflows/run-retention.ts): `remove` and `clean` delete finished runs with their step tasks, and
 * the `retention` option does it in the background; on the memory store, SQLite and PostgreSQL (a SqlWorkflowStore
 * sharing the SqlContainer's connection) and Redis (a RedisWorkflowStore on the RedisContainer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QueueContainer } from 'lightsched/containers/queue';
import { MemoryWorkflowStore, RunStateError, stepTaskId, type RunRecord } from 'lightsched/workflows';
import { checkCleanRuns, countCleanRuns } from '../../workflows/run-retention.js';
import { makeFlows, until, type FlowSetup } from './fixture.js';
import { STORE_KINDS, storeServers } from './store-setups.js';

const servers = storeServers();
const setups = STORE_KINDS.map((kind) => [kind, async () => (await servers.fresh(kind))()] as const);

const steps = [
	{ id: 'a', action: 'work' },
	{ id: 'b', action: 'work', dependsOn: ['a'] },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(setups)('run retention on %s', (_name, make) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	/** Flows whose `work` fails when its params say so, and `hang` waits for its stop. */
	async function flowsWith(retention?: object): Promise<FlowSetup> {
		const { container, store } = await make();
		setup = makeFlows(
			container,
			{
				work: (params) => {
					if (params['fail'] === true) throw new Error('asked to fail');
					return 'done';
				},
				hang: (_params, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
			},
			{ store, ...(retention === undefined ? {} : { retention }) },
		);
		setup.flows.define({
			name: 'pair',
			vars: { fail: { default: false } },
			steps: steps.map((step) => ({ ...step, params: { fail: '{{vars.fail}}' }, maxAttempts: 1 })),
		});
		setup.flows.define({ name: 'other', steps });
		setup.flows.define({ name: 'hanging', steps: [{ id: 'h', action: 'hang' }] });
		return setup;
	}

	async function finished(s: FlowSetup, name: string, count: number, vars = {}): Promise<RunRecord[]> {
		const runs = await Promise.all(Array.from({ length: count }, () => s.flows.start(name, { vars })));
		return Promise.all(runs.map((run) => s.flows.wait(run.id, { timeoutMs: 20_000 })));
	}

	const taskIds = (run: RunRecord): string[] =>
		Object.entries(run.steps)
			.filter(([, step]) => step.generation > 0)
			.map(([stepId, step]) => stepTaskId(run.id, stepId, step.generation));

	it('remove deletes a finished run with its step tasks, refuses an unfinished one, and says false for none', async () => {
		const s = await flowsWith();
		const [done] = await finished(s, 'pair', 1);
		const ids = taskIds(done as RunRecord);
		expect(ids).toHaveLength(2);
		for (const id of ids) expect(await s.scheduler.get(id)).not.toBeNull();
		expect(await s.flows.remove((done as RunRecord).id)).toBe(true);
		expect(await s.flows.get((done as RunRecord).id)).toBeNull();
		for (const id of ids) expect(await s.scheduler.get(id)).toBeNull();
		expect(await s.flows.remove((done as RunRecord).id)).toBe(false);

		const hanging = await s.flows.start('hanging');
		await until(async () => (await s.flows.get(hanging.id))?.steps['h']?.status === 'running');
		await expect(s.flows.remove(hanging.id)).rejects.toBeInstanceOf(RunStateError);
		expect((await s.flows.get(hanging.id))?.status).toBe('running');
		await s.flows.stop(hanging.id);
	}, 30_000);

	it('clean deletes the runs of one status finished before maxAgeMs ago, and of one definition when asked', async () => {
		const s = await flowsWith();
		const oldOk = await finished(s, 'pair', 3);
		const oldFailed = await finished(s, 'pair', 2, { fail: true });
		const oldOther = await finished(s, 'other', 2);
		expect(oldFailed.map((run) => run.status)).toEqual(['failed', 'failed']);
		await sleep(120);
		const cutoff = Date.now() - 60;
		const newOk = await finished(s, 'pair', 2);
		const age = () => Date.now() - cutoff;

		expect(await s.flows.clean({ status: 'succeeded', definition: 'pair', maxAgeMs: age() })).toBe(3);
		for (const run of oldOk) expect(await s.flows.get(run.id)).toBeNull();
		for (const run of oldOk) for (const id of taskIds(run)) expect(await s.scheduler.get(id)).toBeNull();
		for (const run of [...newOk, ...oldFailed, ...oldOther]) expect(await s.flows.get(run.id)).not.toBeNull();

		expect(await s.flows.clean({ status: 'failed', maxAgeMs: age() })).toBe(2);
		expect(await s.flows.clean({ status: 'succeeded', maxAgeMs: age() })).toBe(2);
		for (const run of oldOther) expect(await s.flows.get(run.id)).toBeNull();
		for (const run of newOk) expect(await s.flows.get(run.id)).not.toBeNull();
	}, 60_000);

	it('clean with maxCount keeps the newest runs of the status', async () => {
		const s = await flowsWith();
		const runs: RunRecord[] = [];
		// One at a time, so their creation times are in order.
		for (let i = 0; i < 5; i++) {
			runs.push(...(await finished(s, 'pair', 1)));
			await sleep(5);
		}
		expect(await s.flows.clean({ status: 'succeeded', maxCount: 2 })).toBe(3);
		const left = (await s.flows.list({ status: 'succeeded' })).runs.map((run) => run.id).sort();
		expect(left).toEqual(
			runs
				.slice(3)
				.map((run) => run.id)
				.sort(),
		);
	}, 60_000);

	it('the retention option deletes by its rules in the background, and leaves statuses without a rule', async () => {
		const s = await flowsWith({ failed: { maxAgeMs: 0 }, intervalMs: 20 });
		const failed = await finished(s, 'pair', 2, { fail: true });
		const ok = await finished(s, 'pair', 2);
		await until(async () => (await s.flows.list({ status: 'failed' })).total === 0, 10_000);
		for (const run of failed) for (const id of taskIds(run)) expect(await s.scheduler.get(id)).toBeNull();
		for (const run of ok) expect(await s.flows.get(run.id)).not.toBeNull();
	}, 60_000);

	it('countCleanRuns (a dry run) deletes nothing and counts what clean then deletes, by age, count or both', async () => {
		const s = await flowsWith();
		const parts = { store: s.store, scheduler: s.scheduler };
		const old: RunRecord[] = [];
		// One at a time, so their creation times are in order.
		for (let i = 0; i < 3; i++) old.push(...(await finished(s, 'pair', 1)));
		await finished(s, 'pair', 1, { fail: true });
		await sleep(120);
		const cutoff = Date.now() - 60;
		const young: RunRecord[] = [];
		for (let i = 0; i < 3; i++) {
			await sleep(5);
			young.push(...(await finished(s, 'pair', 1)));
		}
		const total = async () => (await s.store.list({ limit: 1 })).total;
		// The age that reaches back to `cutoff` from the moment it is asked for: built just before each call (a
		// loaded machine takes tens of ms between calls, which would move the cut past the young runs).
		const sinceCutoff = (): number => Date.now() - cutoff;
		const both = () => ({ status: 'succeeded', maxAgeMs: sinceCutoff(), maxCount: 1 }) as const;
		for (const [rule, expected] of [
			[() => ({ status: 'succeeded', maxAgeMs: sinceCutoff() }), 3],
			[() => ({ status: 'succeeded', maxCount: 4 }), 2],
			[() => ({ status: 'succeeded', maxCount: 1, batchSize: 2 }), 5],
			[() => ({ ...both(), batchSize: 2 }), 5], // 3 by age, then 2 of the 3 young ones by count
			[() => ({ ...both(), maxCount: 2 }), 4],
			[() => ({ status: 'failed', maxCount: 0 }), 1],
		] as const) {
			const asked = rule();
			expect(await countCleanRuns(parts, checkCleanRuns(asked), Date.now()), JSON.stringify(asked)).toBe(
				expected,
			);
		}
		expect(await total()).toBe(7);
		expect(await countCleanRuns(parts, checkCleanRuns(both()), Date.now())).toBe(5);
		expect(await s.flows.clean(both())).toBe(5);
		expect((await s.flows.list({ status: 'succeeded' })).runs.map((run) => run.id)).toEqual([young[2]?.id]);
		for (const run of old) for (const id of taskIds(run)) expect(await s.scheduler.get(id)).toBeNull();
	}, 60_000);
});

describe('run retention options', () => {
	it('refuses bad rules with an error naming the field', async () => {
		const base = { container: new QueueContainer(), store: new MemoryWorkflowStore() };
		const tries: [object, RegExp][] = [
			[{ failed: { maxAgeMs: -1 } }, /`retention\.failed\.maxAgeMs` to be an integer >= 0/],
			[{ failed: {} }, /`retention\.failed` to set `maxAgeMs`, `maxCount` or both/],
			[{ done: { maxAgeMs: 1 } }, /retention/],
			[{ intervalMs: 1 }, /`retention\.intervalMs` to be an integer >= 10/],
			[{ succeeded: { maxCount: 1.5 } }, /`retention\.succeeded\.maxCount`/],
		];
		for (const [retention, message] of tries)
			expect(() => makeFlows(base.container, {}, { store: base.store, retention })).toThrow(message);
		const s = makeFlows(base.container, { work: () => null }, { store: base.store });
		expect(() => s.flows.clean({ status: 'waiting' as 'failed', maxAgeMs: 1 })).toThrow(
			/`status` to be one of succeeded, failed, stopped/,
		);
		expect(() => s.flows.clean({ status: 'failed' })).toThrow(/`clean` to set `maxAgeMs`, `maxCount` or both/);
		await s.close();
	});
});

describe('the retention pass timer', () => {
	it('waits about intervalMs even at the longest one allowed (its jitter does not overflow the timer)', async () => {
		const store = new MemoryWorkflowStore();
		let lists = 0;
		const list = store.list.bind(store);
		store.list = (query) => {
			lists++;
			return list(query);
		};
		const s = makeFlows(
			new QueueContainer(),
			{},
			{ store, retention: { failed: { maxAgeMs: 0 }, intervalMs: 2_147_483_647 } },
		);
		await sleep(200);
		expect(lists).toBe(0);
		await s.close();
	});
});

describe('clean({ batchSize })', () => {
	it('reads the store batchSize runs a page (default 500), as the retention option does', async () => {
		const store = new MemoryWorkflowStore();
		const limits: (number | undefined)[] = [];
		const list = store.list.bind(store);
		store.list = (query) => {
			limits.push(query?.limit);
			return list(query);
		};
		const s = makeFlows(new QueueContainer(), { work: () => null }, { store });
		s.flows.define({ name: 'one', steps: [{ id: 'a', action: 'work' }] });
		for (let i = 0; i < 5; i++) await s.flows.wait((await s.flows.start('one')).id);
		limits.length = 0;
		expect(await s.flows.clean({ status: 'succeeded', maxCount: 0, batchSize: 2 })).toBe(5);
		expect(limits).toEqual([2, 2, 2]);
		for (let i = 0; i < 3; i++) await s.flows.wait((await s.flows.start('one')).id);
		limits.length = 0;
		expect(await s.flows.clean({ status: 'succeeded', maxCount: 0 })).toBe(3);
		expect(limits).toEqual([500]);
		expect(() => s.flows.clean({ status: 'succeeded', maxCount: 0, batchSize: 0 })).toThrow(
			/`batchSize` to be an integer >= 1, got 0/,
		);
		await s.close();
	});
});
