/**
 * A step end whose advance fails on an outage (the run write rejected with a `ContainerError`) is tried again soon,
 * not at the next periodic sweep: with `sweepMs` at 60 s only the retry can start the next step. The store is a
 * real SqlWorkflowStore (SQLite, PostgreSQL) sharing its SqlContainer's connection, behind a wrapper that rejects
 * its next run writes as a cut connection would. An advance failing for a reason that would fail again is not
 * retried (the unit tests of the policy are at the end).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, SchedulerClosedError } from 'lightsched';
import { withTaskRelease, type ReleasingUpdate, type TaskContainer } from 'lightsched/kit';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import type { RunRecord, WorkflowStore } from 'lightsched/workflows';
import { AdvanceRetry, isOutage, retryDelay } from '../../workflows/advance-retry.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { gate, makeFlows, until, type FlowSetup } from './fixture.js';

const sqlite = sqliteBackend();
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await postgres?.stop();
});

/** `store`, whose next `failures` run writes (plain or releasing step tasks) reject with `error` instead. */
function failingWrites(store: SqlWorkflowStore): { store: WorkflowStore; fail(count: number, error: Error): void } {
	let left = 0;
	let failure: Error = new Error('unset');
	const refuse = (): Promise<never> | null => {
		if (left === 0) return null;
		left--;
		return Promise.reject(failure);
	};
	const wrapped = new Proxy(store, {
		get(target, property) {
			if (property === 'update') return (run: RunRecord) => refuse() ?? target.update(run);
			if (property === withTaskRelease)
				return (container: TaskContainer): ReleasingUpdate | null => {
					const write = target[withTaskRelease](container);
					return write === null ? null : (run, tasks) => refuse() ?? write(run, tasks);
				};
			const value = Reflect.get(target, property, target) as unknown;
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
		},
	});
	return {
		store: wrapped,
		fail: (count, error) => {
			left = count;
			failure = error;
		},
	};
}

const CHAIN = {
	name: 'chain',
	steps: [
		{ id: 'a', action: 'first' },
		{ id: 'b', action: 'then', dependsOn: ['a'] },
	],
};

describe.each(['SQLite', 'PostgreSQL'] as const)('Workflows on %s: a step end whose advance fails', (backend) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	async function chain(): Promise<{
		setup: FlowSetup;
		fail: (count: number, error: Error) => void;
		release: () => void;
		errors: Error[];
		ranB: () => number;
	}> {
		const container = new SqlContainer({
			knex: await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase(),
		});
		const failing = failingWrites(new SqlWorkflowStore({ container }));
		const a = gate();
		let b = 0;
		const made = makeFlows(
			container,
			{
				first: () => a.promise.then(() => 'a'),
				then: () => {
					b++;
					return 'b';
				},
			},
			{ store: failing.store, sweepMs: 60_000 },
		);
		const errors: Error[] = [];
		made.flows.on('error', (error) => errors.push(error));
		made.flows.define(CHAIN);
		return { setup: made, fail: failing.fail, release: () => a.open(), errors, ranB: () => b };
	}

	it('on an outage (ContainerError), twice in a row: tried again soon, the next step starts and the run succeeds', async () => {
		const c = await chain();
		setup = c.setup;
		const run = await c.setup.flows.start('chain');
		expect(run.steps['a']?.status).toBe('running');
		c.fail(2, new ContainerError('Workflow store update failed: Connection terminated unexpectedly (test)'));
		c.release();
		const done = await c.setup.flows.wait(run.id, { timeoutMs: 15_000 });
		expect(done.status).toBe('succeeded');
		expect(c.ranB()).toBe(1);
		// The first failure was reported, not its retry's (at 25 ms, far below the longest delay).
		expect(c.errors.map((e) => e.message)).toEqual([expect.stringMatching(/Connection terminated unexpectedly/)]);
	}, 30_000);

	it('not for an error that would fail again: the run waits for the sweep', async () => {
		const c = await chain();
		setup = c.setup;
		const run = await c.setup.flows.start('chain');
		c.fail(1, new SchedulerClosedError('workflow store'));
		c.release();
		await until(() => c.errors.length === 1, 10_000, 'the failure reported');
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect((await c.setup.store.get(run.id))?.steps['b']?.status).toBe('waiting');
		expect(c.ranB()).toBe(0);
		// The sweep (here by hand) still moves it.
		const finished = async (): Promise<boolean> => {
			await c.setup.flows.sweep();
			return (await c.setup.store.get(run.id))?.status === 'succeeded';
		};
		await until(finished, 15_000, 'the sweep to finish the run');
		expect(c.ranB()).toBe(1);
	}, 30_000);
});

describe('AdvanceRetry', () => {
	it('retries outages only, once per run at a time, with a delay doubling from 25 ms up to the cap', async () => {
		expect(isOutage(new ContainerError('down'))).toBe(true);
		expect(isOutage(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
		expect(isOutage(new SchedulerClosedError())).toBe(false);
		expect(isOutage(new TypeError('bad'))).toBe(false);
		expect([0, 1, 2, 3, 10].map((n) => retryDelay(n, 150, () => 1))).toEqual([25, 50, 100, 150, 150]);
		expect(retryDelay(0, 150, () => 0)).toBe(13);

		const advanced: string[] = [];
		const retry = new AdvanceRetry({
			maxMs: 40,
			advance: async (runId) => {
				advanced.push(runId);
			},
		});
		expect(retry.failed('r1', new ContainerError('down'))).toBe(true);
		// A failure while its retry waits: reported, not scheduled twice.
		expect(retry.failed('r1', new ContainerError('down again'))).toBe(true);
		expect(retry.failed('r2', new TypeError('bad'))).toBe(true);
		expect(retry.waiting).toBe(1);
		await until(() => advanced.length === 1, 2000, 'the retry');
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(advanced).toEqual(['r1']);
		// A series whose retries fail three times: the retries' failures reported only from the longest delay (the
		// delays: 25 ms, then the cap of 40 ms).
		const reports: boolean[] = [];
		let failures = 3;
		const series: AdvanceRetry = new AdvanceRetry({
			maxMs: 40,
			advance: async (runId) => {
				if (failures-- > 0) reports.push(series.failed(runId, new ContainerError('down')));
			},
		});
		reports.push(series.failed('r4', new ContainerError('down')));
		await until(() => failures < 0 && series.waiting === 0, 3000, 'the series');
		expect(reports).toEqual([true, false, true, true]);
		series.close();
		retry.failed('r3', new ContainerError('down'));
		retry.close();
		expect(retry.waiting).toBe(0);
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(advanced).toEqual(['r1']);
	});
});
