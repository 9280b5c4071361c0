/**
 * On a SqlContainer with a SqlWorkflowStore sharing its connection, a step's release is atomic: the run write that
 * starts a step and the insert of the step's task are both stored or neither (SQLite: one transaction; PostgreSQL:
 * one statement). A database that refuses the task (a trigger here, standing for a crash or an outage between the
 * two writes) leaves the run as it was, and the run finishes once the task can be stored; a run write the
 * compare-and-set refuses stores no task. A step task already stored under its id does not lose the run write; a
 * step whose task is refused still fails with its error.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableError } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { Scheduler } from 'lightsched';
import { taskRelease, withTaskRelease, type ReleasingUpdate, type TaskRecord } from 'lightsched/kit';
import { Workflows, type RunRecord, type StepItem } from 'lightsched/workflows';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { makeFlows, until, type FlowSetup } from './fixture.js';
import { sampleRun } from './store.contract.js';

const sqlite = sqliteBackend();
/** The better-sqlite3 driver: its release runs as one synchronous transaction on the connection (direct-sqlite.ts). */
const betterSqlite = sqliteBackend('better-sqlite3');
const BACKENDS = ['SQLite', 'SQLite (better-sqlite3)', 'PostgreSQL'] as const;
const backendOf = (name: (typeof BACKENDS)[number]): SqlBackend =>
	name === 'SQLite' ? sqlite : name === 'PostgreSQL' ? (postgres as SqlBackend) : betterSqlite;
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await betterSqlite.stop();
	await postgres?.stop();
});

/** Make the database refuse every insert of step `b`'s task, until the returned function is called. */
async function refuseStepB(container: SqlContainer): Promise<() => Promise<void>> {
	const { knex } = container;
	if (container.dialect === 'sqlite') {
		await knex.raw(
			`CREATE TRIGGER refuse_b BEFORE INSERT ON lightsched_tasks WHEN NEW.id LIKE 'wf:%:b:%' BEGIN SELECT RAISE(ABORT, 'injected: no task for step b'); END`,
		);
		return async () => {
			await knex.raw('DROP TRIGGER refuse_b');
		};
	}
	await knex.raw(
		`CREATE FUNCTION refuse_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id LIKE 'wf:%:b:%' THEN RAISE EXCEPTION 'injected: no task for step b'; END IF; RETURN NEW; END $$`,
	);
	await knex.raw(
		'CREATE TRIGGER refuse_b BEFORE INSERT ON lightsched_tasks FOR EACH ROW EXECUTE FUNCTION refuse_b()',
	);
	return async () => {
		await knex.raw('DROP TRIGGER refuse_b ON lightsched_tasks');
	};
}

/**
 * A chain a → b on `container`, with a SqlWorkflowStore sharing it, whose step a stores b's task itself (as an
 * earlier try would have) through `storeB` before a's end releases b. `keep` gets the set-up at once (to close it
 * after the test); resolves with the finished run and the steps run, in order.
 */
async function chainWithBStoredEarly(
	container: SqlContainer,
	keep: (setup: FlowSetup) => void,
	storeB: (scheduler: Scheduler, id: string, item: StepItem) => Promise<void>,
): Promise<{ done: Awaited<ReturnType<FlowSetup['flows']['wait']>>; ran: string[] }> {
	const store = new SqlWorkflowStore({ container });
	const ran: string[] = [];
	const early: { scheduler?: Scheduler } = {};
	const setup = makeFlows(
		container,
		{
			work: async (_params, ctx) => {
				ran.push(ctx.stepId);
				if (ctx.stepId === 'a') {
					const item: StepItem = {
						workflow: { runId: ctx.runId, stepId: 'b', generation: 1, definition: 'chain', version: 1 },
						action: 'work',
						params: {},
						inputs: { a: 'a' },
						vars: {},
						saved: null,
					};
					await storeB(early.scheduler as Scheduler, `wf:${ctx.runId}:b:1`, item);
				}
				return ctx.stepId;
			},
		},
		{ store, sweepMs: 60_000 },
	);
	keep(setup);
	early.scheduler = setup.scheduler;
	setup.flows.define({
		name: 'chain',
		steps: [
			{ id: 'a', action: 'work' },
			{ id: 'b', action: 'work', dependsOn: ['a'] },
		],
	});
	const run = await setup.flows.start('chain');
	return { done: await setup.flows.wait(run.id, { timeoutMs: 10_000 }), ran };
}

/**
 * What the tests of a `describe.each(BACKENDS)` block share; call it in the block. `fresh()`: a container on a new
 * database of `backend`; `keep(setup)`: returns the flow set-up, closed after the test.
 */
function perTest(backend: (typeof BACKENDS)[number]): {
	fresh: () => Promise<SqlContainer>;
	keep: (setup: FlowSetup) => FlowSetup;
} {
	let kept: FlowSetup | undefined;
	afterEach(async () => {
		await kept?.close();
		kept = undefined;
	});
	return {
		fresh: async () => new SqlContainer({ knex: await backendOf(backend).freshDatabase() }),
		keep: (setup) => (kept = setup),
	};
}

describe.each(BACKENDS)('An atomic step release on %s', (backend) => {
	const { fresh, keep } = perTest(backend);

	it('a refused step task leaves the run write undone; the run finishes once the task can be stored', async () => {
		const container = await fresh();
		await container.migrate();
		const allow = await refuseStepB(container);
		const store = new SqlWorkflowStore({ container });
		const ran: string[] = [];
		const setup = makeFlows(
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
		const { flows, scheduler } = keep(setup);
		const errors: Error[] = [];
		flows.on('error', (error) => errors.push(error));
		flows.define({
			name: 'chain',
			steps: [
				{ id: 'a', action: 'work' },
				{ id: 'b', action: 'work', dependsOn: ['a'] },
			],
		});
		const run = await flows.start('chain');
		const taskA = `wf:${run.id}:a:1`;
		const taskB = `wf:${run.id}:b:1`;
		await until(async () => (await scheduler.get(taskA))?.status === 'succeeded', 10_000, 'step a to succeed');
		// The release of b was tried at a's end, and again by sweeps, and refused.
		await until(() => errors.length >= 1, 10_000, 'the release of b to be refused');
		expect(String(errors[0]?.message)).toContain('injected: no task for step b');
		for (const wait of [0, 300]) {
			await new Promise((resolve) => setTimeout(resolve, wait));
			// Both or neither: the run does not say b started, and b has no task.
			const stored = await store.get(run.id);
			expect(stored?.steps.a?.status).toBe('running');
			expect(stored?.steps.b?.status).toBe('waiting');
			expect(await scheduler.get(taskB)).toBeNull();
		}
		await allow();
		const done = await flows.wait(run.id, { timeoutMs: 10_000 });
		expect(done.status).toBe('succeeded');
		expect(done.steps.b?.output).toBe('b');
		expect(ran).toEqual(['a', 'b']);
	});

	it('a run write the compare-and-set refuses stores none of its tasks, also beside other writes', async () => {
		const container = await fresh();
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			expect(release).not.toBeNull();
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
					]),
				),
			);
			// Together: the first write goes alone, the two others in one batch (one statement or transaction).
			const results = await Promise.all(runs.map((run, i) => release(run, tasks[i] as TaskRecord[])));
			expect(results[1]).toBeNull();
			expect(await scheduler.get(`${runs[1]?.id}:next`)).toBeNull();
			expect((await store.get(runs[1]?.id as string))?.rev).toBe(1);
			for (const i of [0, 2]) {
				const run = runs[i] as RunRecord;
				expect(results[i]?.run.rev).toBe(1);
				expect(results[i]?.added.map((task) => task.id)).toEqual([`${run.id}:next`]);
				// Stored as given (PostgreSQL sends the rows as one JSON parameter).
				expect(await scheduler.get(`${run.id}:next`)).toMatchObject({
					status: 'waiting',
					item: { run: run.id, text },
					priority: 7,
					maxAttempts: 4,
					runAt,
				});
			}
		} finally {
			await scheduler.close();
			await store.close();
		}
	});

	it('stores a released task with every optional column set, and one with none, as its record says', async () => {
		// PostgreSQL sends each row as a JSON object whose NULL columns are left out (insert.ts guardedInsertStatement).
		const container = await fresh();
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const runs = [sampleRun(), sampleRun()];
			for (const run of runs) await store.create(run);
			const { prepare } = scheduler[taskRelease]();
			// Due later: not claimed during the test.
			const runAt = Date.now() + 60_000;
			const [full, bare] = await Promise.all([
				prepare([
					{
						id: `${runs[0]?.id}:full`,
						item: { nested: [1, null, 'two'], empty: '' },
						priority: -3,
						maxAttempts: 2,
						timeoutMs: 1_500,
						runAt,
						group: 'g "1"',
						retention: { succeeded: 1_000, failed: 0, stopped: 3_000 },
					},
				]),
				prepare([{ id: `${runs[1]?.id}:bare`, item: null, runAt }]),
			]);
			const results = await Promise.all([
				release(runs[0] as RunRecord, full as TaskRecord[]),
				release(runs[1] as RunRecord, bare as TaskRecord[]),
			]);
			expect(results.map((result) => result?.added.length)).toEqual([1, 1]);
			const { seq: _fullSeq, updatedAt: _fullAt, ...fullGiven } = (full as TaskRecord[])[0] as TaskRecord;
			const { seq: _bareSeq, updatedAt: _bareAt, ...bareGiven } = (bare as TaskRecord[])[0] as TaskRecord;
			expect(await scheduler.get(`${runs[0]?.id}:full`)).toMatchObject({ ...fullGiven, status: 'waiting' });
			expect(await scheduler.get(`${runs[1]?.id}:bare`)).toMatchObject({
				...bareGiven,
				status: 'waiting',
				timeoutMs: null,
				group: null,
				retention: null,
				key: null,
				trace: null,
				item: null,
			});
		} finally {
			await scheduler.close();
			await store.close();
		}
	});

	it('a release whose tasks the database refuses leaves neither half, one task or more than one statement takes', async () => {
		const container = await fresh();
		await container.migrate();
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok') });
		const allow = await refuseStepB(container);
		try {
			const release = store[withTaskRelease](container) as ReleasingUpdate;
			const { prepare } = scheduler[taskRelease]();
			// 501: more than PostgreSQL's release statement takes (it goes by transaction there).
			for (const count of [1, 40, 501]) {
				const run = sampleRun();
				await store.create(run);
				// The first task can be stored; the last (a step b's) is refused by the database.
				const ids = Array.from({ length: count }, (_, i) =>
					i === count - 1 ? `wf:${run.id}:b:1` : `wf:${run.id}:x${i}:1`,
				);
				const tasks = await prepare(ids.map((id) => ({ id, item: {} })));
				await expect(release(run, tasks)).rejects.toThrow('injected: no task for step b');
				expect((await store.get(run.id))?.rev).toBe(0);
				for (const id of ids) expect(await scheduler.get(id)).toBeNull();
			}
		} finally {
			await allow();
			await scheduler.close();
			await store.close();
		}
	});

	it('a step task stored under its id that finished before its step was released ends the step at once', async () => {
		// An earlier try stored b's task, and it ran to its end while b was still waiting in the run: its end was
		// passed over then. a's end releases b, finds the task stored and ended, and finishes b with it (before,
		// the run waited for the sweep: 60 s here).
		const { done, ran } = await chainWithBStoredEarly(await fresh(), keep, async (scheduler, id, item) => {
			await scheduler.add({ id, item });
			await until(async () => (await scheduler.get(id))?.status === 'succeeded', 10_000);
		});
		expect(done.status).toBe('succeeded');
		expect(done.steps.b).toMatchObject({ status: 'succeeded', output: 'b' });
		expect(ran).toEqual(['a', 'b']);
	});
});

describe.each(BACKENDS)('Step release with a SqlWorkflowStore sharing a %s SqlContainer', (backend) => {
	const { fresh, keep } = perTest(backend);

	it('a step task already stored under its id keeps the run write; the run finishes with that task', async () => {
		const { done, ran } = await chainWithBStoredEarly(
			await fresh(),
			keep,
			// Due in 2 s, so it is still waiting when a's end releases b (the case of a finished one is above).
			(scheduler, id, item) => scheduler.add({ id, item, runAt: Date.now() + 2_000 }).then(() => undefined),
		);
		expect(done.status).toBe('succeeded');
		expect(done.steps.b?.status).toBe('succeeded');
		expect(ran).toEqual(['a', 'b']);
	});

	it('a step whose task is refused (its item builder throws, its item is not JSON) fails with that error', async () => {
		const container = await fresh();
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 'ok'), concurrency: 4 });
		const flows = new Workflows({
			scheduler: scheduler as unknown as Scheduler,
			store,
			sweepMs: 60_000,
			actions: {
				work: (_params, step) => ({ step: step.workflow.stepId }),
				refuse: () => {
					throw new NonRetryableError('this step has no item');
				},
				notJson: () => ({ when: () => 1 }),
			},
		});
		try {
			for (const [name, action, message] of [
				['refused', 'refuse', 'this step has no item'],
				['not-json', 'notJson', 'item'],
			] as const) {
				flows.define({
					name,
					steps: [
						{ id: 'a', action: 'work' },
						{ id: 'b', action, dependsOn: ['a'] },
						{ id: 'c', action: 'work', dependsOn: ['a'] },
					],
				});
				const done = await flows.wait((await flows.start(name)).id, { timeoutMs: 10_000 });
				expect(done.status).toBe('failed');
				expect(done.steps.b?.status).toBe('failed');
				expect(done.steps.b?.error?.message).toContain(message);
				// Its sibling, released by the same write, ran.
				expect(done.steps.c?.status).toBe('succeeded');
			}
		} finally {
			await flows.close();
			await scheduler.close();
			await store.close();
		}
	});
});
