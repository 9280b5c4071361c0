/**
 * Run retention deletes a run only as it listed it (workflows/run-retention.ts, `WorkflowStore.remove`'s
 * `expected`): a run retried between the pass's list and its delete, and finished again meanwhile, is a new result,
 * not due, and stays with its step tasks; so does a run `remove` read that is retried and finishes again before its
 * delete (its newer step tasks go with it). On the memory store, SQLite, PostgreSQL and Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stepTaskId, type RunRecord, type WorkflowStore } from 'lightsched/workflows';
import { RunRetention, checkRunRetention, removeRun } from '../../workflows/run-retention.js';
import { gate, makeFlows, until, type FlowSetup } from './fixture.js';
import { STORE_KINDS, storeServers } from './store-setups.js';

const servers = storeServers();
const setups = STORE_KINDS.map((kind) => [kind, async () => (await servers.fresh(kind))()] as const);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `store` whose first `held` call (`list`: the pass's listing; `get`: `removeRun`'s read) gets its answer from the
 * store and then waits for `release()` before handing it back; `entered` resolves when it waits.
 */
function holding(store: WorkflowStore, held: 'list' | 'get') {
	const entered = gate();
	const release = gate();
	let once = false;
	const proxy = new Proxy(store, {
		get(target, name) {
			const value: unknown = Reflect.get(target, name);
			if (typeof value !== 'function') return value;
			const call = (args: unknown[]): unknown => (value as (...a: unknown[]) => unknown).apply(target, args);
			if (name !== held) return (...args: unknown[]) => call(args);
			return async (...args: unknown[]) => {
				const answer = await call(args);
				if (!once) {
					once = true;
					entered.open();
					await release.promise;
				}
				return answer;
			};
		},
	});
	return { proxy, entered: entered.promise, release: () => release.open() };
}

describe.each(setups)('run retention against a retry on %s', (_name, make) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	/** A failed run of a one-step definition whose step fails at once, every time. */
	async function failedRun(): Promise<{ s: FlowSetup; run: RunRecord }> {
		const { container, store } = await make();
		const s = makeFlows(
			container,
			{
				work: () => {
					throw new Error('fails at once');
				},
			},
			{ store },
		);
		setup = s;
		s.flows.define({ name: 'fails', steps: [{ id: 'a', action: 'work', maxAttempts: 1 }] });
		const run = await s.flows.wait((await s.flows.start('fails')).id, { timeoutMs: 20_000 });
		expect(run.status).toBe('failed');
		await until(async () => (await s.store.get(run.id))?.open === false, 10_000, 'the run closed');
		return { s, run: (await s.store.get(run.id)) as RunRecord };
	}

	/** Retry `run` and wait until it failed again and closed (what `remove` alone would let go). */
	async function retriedAndFailedAgain(s: FlowSetup, run: RunRecord): Promise<RunRecord> {
		await s.flows.retry(run.id);
		await until(
			async () => {
				const now = await s.store.get(run.id);
				return now !== null && now.rev > run.rev && now.status === 'failed' && !now.open;
			},
			10_000,
			'the retried run failed again',
		);
		return (await s.store.get(run.id)) as RunRecord;
	}

	it('a pass keeps a run retried and finished again between its list and its delete', async () => {
		const { s, run } = await failedRun();
		await sleep(100);
		const { proxy, entered, release } = holding(s.store, 'list');
		// The rule deletes failed runs that finished 50 ms ago or earlier: the listed run is due, its new finish is not.
		const retention = new RunRetention(
			{ store: proxy, scheduler: s.scheduler },
			checkRunRetention({ failed: { maxAgeMs: 50 }, intervalMs: 600_000 }),
			() => undefined,
		);
		try {
			const pass = retention.pass();
			await entered;
			const again = await retriedAndFailedAgain(s, run);
			release();
			expect(await pass).toBe(0);
			const kept = await s.store.get(run.id);
			expect(kept?.rev).toBe(again.rev);
			expect((await s.flows.wait(run.id, { timeoutMs: 5000 })).finishedAt).toBe(again.finishedAt);
			const generation = again.steps['a']?.generation ?? 0;
			expect(generation).toBe(2);
			for (let g = 1; g <= generation; g++)
				expect(await s.scheduler.get(stepTaskId(run.id, 'a', g)), `generation ${g}`).not.toBeNull();
			// Due later, it goes as the run it is now, with every generation's task.
			await sleep(100);
			expect(await retention.pass()).toBe(1);
			expect(await s.store.get(run.id)).toBeNull();
			for (let g = 1; g <= generation; g++) expect(await s.scheduler.get(stepTaskId(run.id, 'a', g))).toBeNull();
		} finally {
			release();
			await retention.close();
		}
	}, 60_000);

	it('remove deletes the run as it is when it deletes, with the step tasks of a retry it did not read', async () => {
		const { s, run } = await failedRun();
		const { proxy, entered, release } = holding(s.store, 'get');
		try {
			const removed = removeRun({ store: proxy, scheduler: s.scheduler }, run.id);
			await entered;
			const again = await retriedAndFailedAgain(s, run);
			expect(again.steps['a']?.generation).toBe(2);
			release();
			expect(await removed).toBe(true);
			expect(await s.store.get(run.id)).toBeNull();
			for (const g of [1, 2])
				expect(await s.scheduler.get(stepTaskId(run.id, 'a', g)), `generation ${g}`).toBeNull();
		} finally {
			release();
		}
	}, 60_000);
});
