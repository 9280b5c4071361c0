/**
 * An advance that fails on an outage (a `ContainerError`: a connection cut, a server away) is tried again by the
 * process-wide recovery (workflows/advance-recovery.ts) within about 100 ms, not at the next sweep; while the
 * store stays away the rounds slow down (doubling to 2 s) and the failure is reported once; and a sweep whose read
 * of one run fails goes on to the runs after it. Every case here sets `sweepMs` to ten minutes: only the recovery
 * can bring the runs through in time.
 */
import { afterEach, expect, it } from 'vitest';
import { ContainerError, type Scheduler } from 'lightsched';
import { MemoryWorkflowStore, Workflows, type RunRecord, type WorkflowStore } from 'lightsched/workflows';
import { makeFlows, type FlowSetup } from './fixture.js';

const SWEEP_MS = 600_000;

let setups: FlowSetup[] = [];
afterEach(async () => {
	for (const setup of setups) await setup.close();
	setups = [];
});

/** `target` with `name` replaced by `replacement`; every other member bound to `target` (private fields work). */
function replacing<T extends object>(target: T, name: string, replacement: unknown): T {
	return new Proxy(target, {
		get(object, key) {
			if (key === name) return replacement;
			const value = Reflect.get(object, key, object) as unknown;
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
		},
	});
}

const cut = (): ContainerError => new ContainerError('Workflow store update failed: the connection was cut');

const CHAIN = {
	name: 'chain',
	steps: [
		{ id: 'a', action: 'work' },
		{ id: 'b', action: 'work', dependsOn: ['a'] },
	],
};

/** A memory store whose `update` calls `fail(run)` first and throws a connection failure when it says so. */
function failingStore(fail: (run: RunRecord) => boolean): {
	store: WorkflowStore;
	writes: { at: number; failed: boolean }[];
} {
	const inner = new MemoryWorkflowStore();
	const writes: { at: number; failed: boolean }[] = [];
	const store = replacing(inner, 'update', (run: RunRecord) => {
		const failed = fail(run);
		writes.push({ at: Date.now(), failed });
		if (failed) return Promise.reject(cut());
		return inner.update(run);
	});
	return { store, writes };
}

/** Run CHAIN once on `store` (sweep ten minutes away); its finished run and the `error` events on the way. */
async function runChain(store: WorkflowStore, timeoutMs: number): Promise<{ done: RunRecord; errors: Error[] }> {
	const setup = makeFlows('QueueContainer', { work: (_params, ctx) => ctx.stepId }, { store, sweepMs: SWEEP_MS });
	setups.push(setup);
	const errors: Error[] = [];
	setup.flows.on('error', (error) => errors.push(error));
	setup.flows.define(CHAIN);
	const run = await setup.flows.start('chain');
	return { done: await setup.flows.wait(run.id, { timeoutMs }), errors };
}

it('a step end whose run write fails on a cut connection is advanced again within the recovery delay, not at the sweep', async () => {
	let failed = 0;
	const { store, writes } = failingStore((run) => {
		// The write recording a's end (and dispatching b) fails once.
		if (run.steps['a']?.status !== 'succeeded' || failed > 0) return false;
		failed++;
		return true;
	});
	const { done, errors } = await runChain(store, 3000);
	expect(done.status).toBe('succeeded');
	expect(done.steps['b']?.output).toBe('b');
	expect(failed).toBe(1);
	expect(errors).toHaveLength(1);
	expect(errors[0]).toBeInstanceOf(ContainerError);
	// The write after the failed one (its retry: nothing else writes the run) came about 100 ms later (a generous
	// bound for a loaded machine).
	const failedAt = writes.findIndex((write) => write.failed);
	const retry = writes[failedAt + 1];
	expect(retry).toBeDefined();
	expect((retry?.at ?? 0) - (writes[failedAt]?.at ?? 0)).toBeLessThan(1000);
});

it('while the store stays away the recovery rounds slow down and the failure is reported once; the run finishes after', async () => {
	let outageUntil = Number.POSITIVE_INFINITY;
	let during = 0;
	const { store } = failingStore((run) => {
		if (run.steps['a']?.status !== 'succeeded') return false;
		if (outageUntil === Number.POSITIVE_INFINITY) outageUntil = Date.now() + 1000;
		if (Date.now() >= outageUntil) return false;
		during++;
		return true;
	});
	const { done, errors } = await runChain(store, 5000);
	expect(done.status).toBe('succeeded');
	// The first try, then rounds after 100, 200, 400 ms (800 ms next: past the outage). Never a busy loop; at least
	// one round within the outage even when a loaded machine fires the timers late.
	expect(during).toBeGreaterThanOrEqual(2);
	expect(during).toBeLessThanOrEqual(5);
	expect(errors).toHaveLength(1);
});

it('a sweep whose read of one run fails on an outage goes on to the other runs; that run follows within the recovery delay', async () => {
	let release!: () => void;
	const gate = new Promise<void>((resolve) => (release = resolve));
	const setup = makeFlows(
		'QueueContainer',
		{
			work: async () => {
				await gate;
				return 1;
			},
		},
		{ sweepMs: SWEEP_MS },
	);
	setups.push(setup);
	const one = { name: 'one', steps: [{ id: 'a', action: 'work' }] };
	setup.flows.define(one);
	const ids: string[] = [];
	for (let i = 0; i < 3; i++) ids.push((await setup.flows.start('one', { id: `r${i}` })).id);
	// The engine that dispatched them stops listening; their step tasks end unheard.
	await setup.flows.close();
	release();
	await setup.scheduler.onIdle();
	for (const id of ids) expect((await setup.store.get(id))?.status).toBe('running');

	// Another engine on the same scheduler and store, whose first task read fails on a cut connection.
	let reads = 0;
	const scheduler = replacing(setup.scheduler, 'get', (id: string) => {
		reads++;
		if (reads === 1) return Promise.reject(new ContainerError('get failed: the connection was cut'));
		return setup.scheduler.get(id);
	}) as Scheduler;
	const flows = new Workflows({ scheduler, actions: setup.actions, store: setup.store, sweepMs: SWEEP_MS });
	const errors: Error[] = [];
	flows.on('error', (error) => errors.push(error));
	flows.define(one);
	try {
		await flows.sweep();
		// The runs after the failed read were advanced by this sweep (it used to end at the failure).
		for (const id of ['r1', 'r2']) expect((await setup.store.get(id))?.status).toBe('succeeded');
		expect((await flows.wait('r0', { timeoutMs: 2000 })).status).toBe('succeeded');
		expect(errors).toHaveLength(1);
	} finally {
		await flows.close();
	}
});
