/**
 * On a RedisContainer with a RedisWorkflowStore sharing its connection, a step's release is atomic: the run write
 * that starts a step and the add of the step's task are one script, both stored or neither. A server that fails
 * the add (its task counter made unusable here, standing for an error inside the script) leaves the run as it was,
 * and the run finishes once the task can be stored; a run write the compare-and-set refuses stores no task; a
 * task the container refuses (a deduplication key held) leaves the run unwritten; a task already stored under its
 * id is left as it is and does not lose the run write.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateKeyError, DuplicateTaskError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { taskRelease, withTaskRelease, type ReleasingUpdate, type TaskRecord } from 'lightsched/kit';
import { DuplicateRunError, type RunRecord } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { makeFlows, until, type FlowSetup } from './fixture.js';
import { sampleRun } from './store.contract.js';

let server: RedisServer | undefined;
let n = 0;
beforeAll(async () => {
	server = await startRedis();
}, 60_000);
afterAll(async () => {
	await server?.close();
});

const url = (): string => (server as RedisServer).url;

/** A container, a store made from it, and a scheduler on it (closed by `close`). */
function parts(): {
	container: RedisContainer;
	store: RedisWorkflowStore;
	scheduler: Scheduler<unknown, string>;
	close(): Promise<void>;
} {
	const container = new RedisContainer({ redis: url(), name: `release${++n}`, log: false });
	const store = new RedisWorkflowStore({ container });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
	return {
		container,
		store,
		scheduler,
		close: async () => {
			await store.close();
			await scheduler.close();
		},
	};
}

describe('An atomic step release on Redis', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	it('is offered with the container the store shares a connection and key prefix with, and only then', async () => {
		const client = new Redis(url());
		const name = `offer${++n}`;
		const container = new RedisContainer({ redis: client, name, log: false });
		const stores = {
			fromContainer: new RedisWorkflowStore({ container }),
			sameInstance: new RedisWorkflowStore({ redis: client, name }),
			ownConnection: new RedisWorkflowStore({ redis: url(), name }),
			otherName: new RedisWorkflowStore({ redis: client, name: `${name}x` }),
		};
		try {
			expect(stores.fromContainer.keyPrefix).toBe(container.keyPrefix);
			expect(stores.fromContainer[withTaskRelease](container)).toBeTypeOf('function');
			expect(stores.sameInstance[withTaskRelease](container)).toBeTypeOf('function');
			// Another connection may be another server: the tasks could land where the container never looks.
			expect(stores.ownConnection[withTaskRelease](container)).toBeNull();
			expect(stores.otherName[withTaskRelease](container)).toBeNull();
			expect(stores.fromContainer[withTaskRelease](new QueueContainer())).toBeNull();
			expect(() => new RedisWorkflowStore({ container: new QueueContainer() })).toThrow(
				'Expected `container` to be a RedisContainer',
			);
			expect(() => new RedisWorkflowStore({ container, name })).toThrow(
				'Expected `name` to be left out with `container`',
			);
		} finally {
			for (const store of Object.values(stores)) await store.close();
			await container.close();
			client.disconnect();
		}
	});

	it('a step task the server fails to add leaves the run write undone; the run finishes once it can be added', async () => {
		const container = new RedisContainer({ redis: url(), name: `fail${++n}`, log: false });
		const store = new RedisWorkflowStore({ container });
		const ran: string[] = [];
		setup = makeFlows(
			container,
			{
				work: (_params, ctx) => {
					ran.push(ctx.stepId);
					return ctx.stepId;
				},
			},
			// A long dispatch grace: a step task missing is not re-dispatched during the test.
			{ store, sweepMs: 100, dispatchGraceMs: 600_000 },
		);
		const { flows, scheduler } = setup;
		const errors: Error[] = [];
		flows.on('error', (error) => errors.push(error));
		flows.define({
			name: 'chain',
			steps: [
				{ id: 'a', action: 'work' },
				{ id: 'b', action: 'work', dependsOn: ['a'] },
			],
		});
		const admin = new Redis(url());
		try {
			// Step a's task runs only once the add of b's task will fail: an INCR of a text inside the script.
			scheduler.pause();
			const run = await flows.start('chain');
			const taskA = `wf:${run.id}:a:1`;
			const taskB = `wf:${run.id}:b:1`;
			const seqKey = `${container.keyPrefix}seq`;
			const seq = await admin.get(seqKey);
			await admin.set(seqKey, 'not a number');
			scheduler.resume();
			await until(async () => (await scheduler.get(taskA))?.status === 'succeeded', 10_000, 'step a to succeed');
			// The release of b was tried at a's end, and again by sweeps, and failed.
			await until(() => errors.length >= 1, 10_000, 'the release of b to fail');
			expect(String(errors[0]?.message)).toContain('not an integer');
			for (const wait of [0, 300]) {
				await new Promise((resolve) => setTimeout(resolve, wait));
				// Both or neither: the run does not say b started, and b has no task.
				const stored = await store.get(run.id);
				expect(stored?.steps.a?.status).toBe('running');
				expect(stored?.steps.b?.status).toBe('waiting');
				expect(await scheduler.get(taskB)).toBeNull();
			}
			await admin.set(seqKey, String(seq));
			const done = await flows.wait(run.id, { timeoutMs: 10_000 });
			expect(done.status).toBe('succeeded');
			expect(done.steps.b?.output).toBe('b');
			expect(ran).toEqual(['a', 'b']);
		} finally {
			admin.disconnect();
		}
	});

	it('a run write the compare-and-set refuses stores none of its tasks; the others store theirs as given', async () => {
		const { store, container, scheduler, close } = parts();
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const runs = [sampleRun(), sampleRun(), sampleRun()];
			for (const run of runs) await store.create(run);
			// The second run was written since (another process's advance): the copy at hand is stale.
			expect(await store.update(runs[1] as RunRecord)).not.toBeNull();
			const { prepare } = scheduler[taskRelease]();
			const text = 'quote " backslash \\ nul \u0000 accent é clapper 🎬';
			// Due later: not claimed during the test.
			const runAt = Date.now() + 60_000;
			const tasks = await Promise.all(
				runs.map((run) =>
					prepare([
						{ id: `${run.id}:next`, item: { run: run.id, text }, priority: 7, maxAttempts: 4, runAt },
						{ id: `${run.id}:also`, item: null },
					]),
				),
			);
			const results = await Promise.all(runs.map((run, i) => release(run, tasks[i] as TaskRecord[])));
			expect(results[1]).toBeNull();
			expect(await scheduler.get(`${runs[1]?.id}:next`)).toBeNull();
			expect(await scheduler.get(`${runs[1]?.id}:also`)).toBeNull();
			expect((await store.get(runs[1]?.id as string))?.rev).toBe(1);
			for (const i of [0, 2]) {
				const run = runs[i] as RunRecord;
				expect(results[i]?.run.rev).toBe(1);
				expect((await store.get(run.id))?.rev).toBe(1);
				expect(results[i]?.added.map((task) => task.id)).toEqual([`${run.id}:next`, `${run.id}:also`]);
				expect(results[i]?.added.every((task) => task.seq > 0)).toBe(true);
				expect(await scheduler.get(`${run.id}:next`)).toMatchObject({
					status: 'waiting',
					item: { run: run.id, text },
					priority: 7,
					maxAttempts: 4,
					runAt,
				});
			}
		} finally {
			await close();
		}
	});

	it("stores each task as the container's add does, whether a field is sent or left at a fresh task's value", async () => {
		const { store, container, scheduler, close } = parts();
		const admin = new Redis(url());
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const { prepare } = scheduler[taskRelease]();
			const runAt = Date.now() + 60_000;
			const [fresh, full] = await prepare([
				{ id: 'fresh', item: null, runAt },
				{
					id: 'full',
					item: { a: [1, '€'] },
					priority: 4,
					maxAttempts: 7,
					timeoutMs: 900,
					runAt,
					key: 'k-full',
				},
			]);
			// Every field a release may leave out, at a value it must send.
			Object.assign(full as TaskRecord, {
				attempts: 2,
				startedAt: 5,
				finishedAt: 6,
				error: { message: 'no', code: 'ERR_X' },
				output: 0,
				progress: { done: 1 },
				ref: 'r',
				owner: 'someone',
				leaseUntil: 9,
				stopRequested: true,
				trace: 'trace-1',
				group: 'g',
				retention: { succeeded: 1000 },
			});
			const tasks = [fresh, full] as TaskRecord[];
			const copies = tasks.map((task) => ({ ...task, id: `added-${task.id}`, key: task.key && `${task.key}-2` }));
			const run = sampleRun();
			await store.create(run);
			expect((await release(run, tasks))?.added.map((task) => task.id)).toEqual(['fresh', 'full']);
			await container.add(copies);
			const hash = async (id: string): Promise<Record<string, string>> => {
				const {
					seq: _seq,
					addToken: _token,
					pk: _pk,
					...rest
				} = await admin.hgetall(`${container.keyPrefix}t:${id}`);
				return rest;
			};
			expect(await hash('fresh')).toEqual({ ...(await hash('added-fresh')), id: 'fresh' });
			expect(await hash('full')).toEqual({ ...(await hash('added-full')), id: 'full', key: '"k-full"' });
			expect(await scheduler.get('full')).toMatchObject({
				attempts: 2,
				output: 0,
				stopRequested: true,
				group: 'g',
			});
		} finally {
			admin.disconnect();
			await close();
		}
	});

	it('a task the container refuses, or a unique key another run holds, leaves neither half', async () => {
		const { store, container, scheduler, close } = parts();
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const { prepare } = scheduler[taskRelease]();
			// A waiting task holds the key `held`.
			await scheduler.add({ id: 'holder', item: null, key: 'held', runAt: Date.now() + 60_000 });
			const run = sampleRun();
			await store.create(run);
			const refusedKey = await prepare([
				{ id: `${run.id}:x`, item: null },
				{ id: `${run.id}:y`, item: null, key: 'held' },
			]);
			await expect(release(run, refusedKey)).rejects.toThrow(DuplicateKeyError);
			const twice = await prepare([{ id: `${run.id}:z`, item: null }]);
			await expect(release(run, [...twice, ...twice])).rejects.toThrow(DuplicateTaskError);
			expect((await store.get(run.id))?.rev).toBe(0);
			for (const id of ['x', 'y', 'z']) expect(await scheduler.get(`${run.id}:${id}`)).toBeNull();
			// Two unique-key runs with one key: the second's write is refused, and its task with it.
			const holder = sampleRun({ key: 'cluster-1', uniqueKey: true });
			const other = sampleRun({ key: 'cluster-1', uniqueKey: true, status: 'failed' });
			await store.create(holder);
			await store.create(other);
			const reopen = { ...other, status: 'running' as const };
			await expect(release(reopen, await prepare([{ id: `${other.id}:x`, item: null }]))).rejects.toThrow(
				DuplicateRunError,
			);
			expect((await store.get(other.id))?.rev).toBe(0);
			expect(await scheduler.get(`${other.id}:x`)).toBeNull();
			// In one script call, a release the server fails (its add's INCR of a text) is not written; the release
			// beside it is.
			const [failing, quiet] = [sampleRun(), sampleRun()];
			await store.create(failing);
			await store.create(quiet);
			const admin = new Redis(url());
			try {
				await admin.set(`${container.keyPrefix}seq`, 'not a number');
				const results = await Promise.allSettled([
					release(failing, await prepare([{ id: `${failing.id}:x`, item: null }])),
					release(quiet, []),
				]);
				expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'ERR_CONTAINER' } });
				expect(String((results[0] as PromiseRejectedResult).reason)).toContain('not an integer');
				expect(results[1]).toMatchObject({ status: 'fulfilled', value: { run: { rev: 1 }, added: [] } });
				expect((await store.get(failing.id))?.rev).toBe(0);
				expect((await store.get(quiet.id))?.rev).toBe(1);
				expect(await scheduler.get(`${failing.id}:x`)).toBeNull();
			} finally {
				admin.disconnect();
			}
		} finally {
			await close();
		}
	});

	it('a task already stored under its id is left as it is and not reported added; the run is written', async () => {
		const { store, container, scheduler, close } = parts();
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const { prepare } = scheduler[taskRelease]();
			const run = sampleRun();
			await store.create(run);
			const runAt = Date.now() + 60_000;
			await scheduler.add({ id: `${run.id}:early`, item: 'first', runAt });
			const tasks = await prepare([
				{ id: `${run.id}:early`, item: 'second', runAt },
				{ id: `${run.id}:new`, item: 'new', runAt },
			]);
			const result = await release(run, tasks);
			expect(result?.run.rev).toBe(1);
			expect(result?.added.map((task) => task.id)).toEqual([`${run.id}:new`]);
			expect((await scheduler.get(`${run.id}:early`))?.item).toBe('first');
			expect((await scheduler.get(`${run.id}:new`))?.item).toBe('new');
		} finally {
			await close();
		}
	});
});
