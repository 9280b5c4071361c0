/**
 * `wait(runId)` in a process that does not run the run's steps learns of its end from its sweep (workflows.ts): a
 * safety net read every `sweepMs`. The sweep reads the open runs anyway; a waited run among them is still open, so
 * the sweep reads only the waited runs it did not see open (it read each waited run every sweep before: a thousand
 * waits, a thousand reads every two seconds).
 */
import { afterEach, expect, it } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import {
	MemoryWorkflowStore,
	RunNotFoundError,
	Workflows,
	type RunRecord,
	type WorkflowStore,
} from 'lightsched/workflows';

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const close of closers.reverse()) await close();
	closers = [];
});

/** A scheduler on a container of its own, and a Workflows on `store`; the runs' steps run no action of this one. */
function engine(store: WorkflowStore, actions: Record<string, () => unknown>): Workflows {
	const scheduler = new Scheduler({
		container: new QueueContainer() as TaskContainer,
		actuator: new FunctionActuator(async () => null),
		concurrency: 4,
	}) as unknown as Scheduler;
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 600_000 });
	closers.push(async () => {
		await flows.close();
		await scheduler.close();
	});
	return flows;
}

/** A one-step definition whose step is blocked until `continue`. */
const blocked = {
	name: 'blocked',
	vars: { go: { default: 'no' } },
	steps: [
		{
			id: 'a',
			action: 'noop',
			preCheck: [
				{
					act: 'block' as const,
					when: [{ source: 'vars' as const, key: 'go', op: 'not-in' as const, values: ['yes'] }],
				},
			],
		},
	],
};

/** `store` with its `get` replaced (the other methods its own). */
function withGet(store: WorkflowStore, get: (id: string) => Promise<RunRecord | null>): WorkflowStore {
	return new Proxy(store, {
		get(target, name, receiver) {
			if (name === 'get') return get;
			const value = Reflect.get(target, name, receiver) as unknown;
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
		},
	});
}

it('a sweep reads no waited run it saw open, and settles the waits once the runs end elsewhere', async () => {
	const store = new MemoryWorkflowStore();
	const gets: string[] = [];
	const counted = withGet(store, (id) => {
		gets.push(id);
		return store.get(id);
	});
	const runner = engine(store, { noop: () => 1 });
	const waiter = engine(counted, { noop: () => 1 });
	const errors: unknown[] = [];
	for (const flows of [runner, waiter]) flows.on('error', (error) => errors.push(error));
	runner.define(blocked);
	waiter.define(blocked);
	const ids: string[] = [];
	for (let i = 0; i < 20; i++) ids.push((await runner.start('blocked')).id);
	await runner.sweep();
	for (const id of ids) expect((await store.get(id))?.status).toBe('blocked');

	let settled = 0;
	const waits = ids.map((id) => waiter.wait(id).then((run) => (settled++, run)));
	await new Promise((resolve) => setImmediate(resolve));
	gets.length = 0;
	await waiter.sweep();
	expect(gets).toEqual([]);
	expect(settled).toBe(0);

	// The runner ends half of the runs: the waiter's next sweep reads those (not open any more) and settles them.
	for (const id of ids.slice(0, 10)) await runner.stop(id);
	await runner.sweep();
	for (const id of ids.slice(0, 10)) expect((await store.get(id))?.open).toBe(false);
	gets.length = 0;
	await waiter.sweep();
	expect(gets.sort()).toEqual(ids.slice(0, 10).sort());
	await new Promise((resolve) => setImmediate(resolve));
	expect(settled).toBe(10);
	for (const id of ids.slice(10)) await runner.stop(id);
	await runner.sweep();
	await waiter.sweep();
	expect((await Promise.all(waits)).map((run) => run.status)).toEqual(ids.map(() => 'stopped'));
	expect(errors).toEqual([]);
});

it('a wait on a run removed after it ended elsewhere is rejected by the next sweep, not left to its timeout', async () => {
	const store = new MemoryWorkflowStore();
	const runner = engine(store, { noop: () => 1 });
	const waiter = engine(store, { noop: () => 1 });
	runner.define(blocked);
	waiter.define(blocked);
	const { id } = await runner.start('blocked');
	await runner.sweep();
	const waited = waiter.wait(id);
	let outcome: unknown = 'pending';
	waited.then(
		(run) => (outcome = run),
		(error: unknown) => (outcome = error),
	);
	await new Promise((resolve) => setImmediate(resolve));
	await runner.stop(id);
	await runner.sweep();
	expect((await store.get(id))?.open).toBe(false);
	// Removed (by hand here; the retention option does the same) before the waiter's process looked.
	await runner.remove(id);
	expect(outcome).toBe('pending');
	await waiter.sweep();
	await new Promise((resolve) => setImmediate(resolve));
	expect(outcome).toBeInstanceOf(RunNotFoundError);
	expect((outcome as RunNotFoundError).runId).toBe(id);
});

it('a wait whose first read sees the run open while it settles in this process hears it settle', async () => {
	const store = new MemoryWorkflowStore();
	let hold: Promise<void> | undefined;
	let release = (): void => {};
	// The next get reads the store at once, then holds its reply (a read in flight while the run settles).
	const held = withGet(store, async (id) => {
		const run = await store.get(id);
		if (hold !== undefined) {
			const waiting = hold;
			hold = undefined;
			await waiting;
		}
		return run;
	});
	const runner = engine(held, { noop: () => 1 });
	runner.define(blocked);
	const { id } = await runner.start('blocked');
	await runner.sweep();
	hold = new Promise<void>((resolve) => (release = resolve));
	const waited = runner.wait(id, { timeoutMs: 3000 });
	await new Promise((resolve) => setImmediate(resolve));
	await runner.stop(id);
	for (let i = 0; i < 100 && (await store.get(id))?.open !== false; i++) await runner.sweep();
	expect((await store.get(id))?.open).toBe(false);
	release();
	// Before, the wait listened only after its read: it missed the settle, and waited for a sweep (or its timeout).
	await expect(waited).resolves.toMatchObject({ id, status: 'stopped', open: false });
});

it('a wait whose first read fails keeps waiting for the sweeps, and its timeout names the failed read', async () => {
	const store = new MemoryWorkflowStore();
	const down = new Error('store out of reach');
	let failing = 1;
	const flaky = withGet(store, (id) => (failing-- > 0 ? Promise.reject(down) : store.get(id)));
	const runner = engine(store, { noop: () => 1 });
	const waiter = engine(flaky, { noop: () => 1 });
	runner.define(blocked);
	waiter.define(blocked);
	const { id } = await runner.start('blocked');
	await runner.sweep();
	// Before, the failed first read rejected the wait at once.
	let outcome: unknown = 'pending';
	const waited = waiter.wait(id).then(
		(run) => (outcome = run),
		(error: unknown) => (outcome = error),
	);
	await new Promise((resolve) => setImmediate(resolve));
	expect(outcome).toBe('pending');
	await runner.stop(id);
	await runner.sweep();
	await waiter.sweep();
	await waited;
	expect(outcome).toMatchObject({ id, status: 'stopped', open: false });

	// Out of reach for the whole wait: the timeout says why it could not tell.
	failing = Number.POSITIVE_INFINITY;
	const other = await runner.start('blocked');
	const timedOut = await waiter.wait(other.id, { timeoutMs: 50 }).catch((error: unknown) => error);
	expect(timedOut).toMatchObject({ code: 'ERR_RUN_STATE', cause: down });
	expect((timedOut as Error).message).toBe(
		`Workflow run \`${other.id}\` did not finish within 50 ms; its first read failed (store out of reach)`,
	);
});
