/**
 * SqlContainer on PostgreSQL by default (containers/sql/pg-functions.ts): its frequent data-modifying statements run
 * through server-side functions that carry `plan_cache_mode = force_generic_plan`, every task of a backlog runs once,
 * a function dropped under the container is made again with no task lost, a column added under them makes the call run the statement itself and new functions follow,
 * a statement whose result has a pseudo-type runs itself without turning the others off,
 * and a database that refuses functions gets one warning and the plain statements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { functionName } from '../../containers/sql/pg-functions.js';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, refuseFunctions, type SqlBackend } from '../support/sql.js';

let pg: SqlBackend;
beforeAll(async () => {
	pg = await postgresBackend();
}, 120_000);
afterAll(() => pg.stop());

/** The container's statement functions in the database, with their settings. */
async function functions(knex: Knex, prefix = 'lightsched_'): Promise<{ name: string; config: string[] | null }[]> {
	const { rows } = (await knex.raw(
		`SELECT proname AS name, proconfig AS config FROM pg_proc WHERE proname LIKE ? ORDER BY proname`,
		[`${prefix}tasks_f2_%`],
	)) as { rows: { name: string; config: string[] | null }[] };
	return rows;
}

/** Claim one task and finish it, `times` times; each must find one. */
async function claimAndFinish(c: SqlContainer, times: number): Promise<void> {
	for (let i = 0; i < times; i++) {
		const [task] = await c.claim(1, 'o', 30_000, Date.now());
		expect(task).toBeDefined();
		expect(await c.transition(task!.id, 'running', 'succeeded', DONE, 'o')).toMatchObject({
			status: 'succeeded',
		});
	}
}

describe('SqlContainer statement functions (PostgreSQL)', () => {
	it('runs every task of a backlog once, its frequent statements through functions with generic plans', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase() });
		const n = 400;
		await c.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
		const runs = new Map<number, number>();
		const scheduler = new Scheduler({
			container: c,
			actuator: new FunctionActuator(async (item: number) => {
				runs.set(item, (runs.get(item) ?? 0) + 1);
			}),
			concurrency: 8,
		});
		try {
			await scheduler.onIdle();
			expect((await c.counts()).succeeded).toBe(n);
			expect(runs.size).toBe(n);
			expect([...runs.values()].every((v) => v === 1)).toBe(true);
			const made = await functions(c.knex);
			expect(made.length).toBeGreaterThan(0);
			for (const f of made) expect(f.config).toEqual(['plan_cache_mode=force_generic_plan']);
		} finally {
			await scheduler.close();
			await c.close();
		}
	});

	it('runs every task once with four containers making the same functions at the same time', async () => {
		const config = await pg.freshDatabase();
		const first = new SqlContainer({ knex: config });
		const n = 400;
		await first.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
		const containers = [first, ...[1, 2, 3].map(() => new SqlContainer({ knex: config }))];
		const runs = new Map<number, number>();
		const schedulers = containers.map(
			(container) =>
				new Scheduler({
					container,
					actuator: new FunctionActuator(async (item: number) => {
						runs.set(item, (runs.get(item) ?? 0) + 1);
					}),
					concurrency: 4,
				}),
		);
		try {
			while ((await first.counts()).succeeded < n) await new Promise((resolve) => setTimeout(resolve, 50));
			expect(runs.size).toBe(n);
			expect([...runs.values()].every((v) => v === 1)).toBe(true);
			expect((await functions(first.knex)).length).toBeGreaterThan(0);
		} finally {
			for (const s of schedulers) await s.close();
			for (const c of containers) await c.close();
		}
	});

	it('runs the statement itself when its function was dropped, and makes the function again', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase(), notify: false });
		await c.add(records(Array.from({ length: 15 }, (_, i) => ({ id: `t${i}`, item: i }))));
		try {
			await claimAndFinish(c, 5);
			const made = await functions(c.knex);
			expect(made.length).toBeGreaterThan(0);
			for (const f of made) await c.knex.raw(`DROP FUNCTION "${f.name}"`);
			await claimAndFinish(c, 5);
			expect((await functions(c.knex)).length).toBeGreaterThan(0);
			await claimAndFinish(c, 5);
			expect((await c.counts()).succeeded).toBe(15);
		} finally {
			await c.close();
		}
	});

	it('runs the statement itself when a column was added under its functions, and makes new ones for the new columns', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase(), notify: false });
		await c.add(records(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
		try {
			await claimAndFinish(c, 5);
			const before = (await functions(c.knex)).map((f) => f.name);
			expect(before.length).toBeGreaterThan(0);
			await c.knex.raw('ALTER TABLE lightsched_tasks ADD COLUMN added_later TEXT');
			await claimAndFinish(c, 5);
			expect((await c.counts()).succeeded).toBe(10);
			const after = (await functions(c.knex)).map((f) => f.name);
			expect(after.filter((name) => !before.includes(name)).length).toBeGreaterThan(0);
		} finally {
			await c.close();
		}
	});

	it('warns once and runs its statements as before when PostgreSQL refuses the functions', async () => {
		const config = await pg.freshDatabase();
		const owner = new SqlContainer({ knex: config, notify: false });
		await owner.add(records(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, item: i }))));
		await owner.close();
		// The schema is in place; from now on the database refuses every CREATE FUNCTION, as a managed server's
		// policy may (an event trigger raising insufficient_privilege).
		const admin = knexFactory(config);
		const allowFunctions = await refuseFunctions(admin);
		const warnings: string[] = [];
		const c = new SqlContainer({
			knex: { ...config, log: { warn: (message: string) => warnings.push(message) } },
			notify: false,
		});
		try {
			await claimAndFinish(c, 10);
			expect((await c.counts()).succeeded).toBe(10);
			expect(await functions(admin)).toEqual([]);
			const ours = warnings.filter((w) => w.includes('statement functions'));
			expect(ours).toHaveLength(1);
			expect(ours[0]).toMatch(/42501.*no functions here.*plain statements/s);
		} finally {
			await c.close();
			await allowFunctions();
			await admin.destroy();
		}
	});
});

describe('statement functions: the SQL', () => {
	it('keeps its functions when one statement cannot have one (a result of type void: the stop request notifying)', async () => {
		const warnings: string[] = [];
		const config = await pg.freshDatabase();
		const c = new SqlContainer({ knex: { ...config, log: { warn: (message: string) => warnings.push(message) } } });
		await c.add(records(Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, item: i }))));
		try {
			const claimed = await c.claim(4, 'o', 30_000, Date.now());
			expect(claimed).toHaveLength(4);
			// The third stop request's statement is the one a function is made for: its `pg_notify(…)` returns void.
			for (const task of claimed) expect(await c.requestStop(task.id)).not.toBeNull();
			expect(warnings.filter((w) => w.includes('statement functions'))).toEqual([]);
			// Still made: dropped, they come back.
			for (const f of await functions(c.knex)) await c.knex.raw(`DROP FUNCTION "${f.name}"`);
			await claimAndFinish(c, 5);
			expect((await functions(c.knex)).length).toBeGreaterThan(0);
		} finally {
			await c.close();
		}
	});

	it('makes no function with `statementFunctions: false`, and still runs every task once', async () => {
		const c = new SqlContainer({ knex: await pg.freshDatabase(), statementFunctions: false });
		try {
			await c.add(records(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, item: i }))));
			await claimAndFinish(c, 20);
			expect((await c.counts()).succeeded).toBe(20);
			expect(await functions(c.knex)).toEqual([]);
		} finally {
			await c.close();
		}
	});

	it('refuses a `statementFunctions` that is not a boolean, naming the option', () => {
		expect(
			() => new SqlContainer({ knex: { client: 'pg' }, statementFunctions: 'no' as unknown as boolean }),
		).toThrow('Expected `statementFunctions` to be a boolean, got string');
	});

	it('names a function by the table prefix, the form, the text and its result columns, within 63 characters', () => {
		const prefix = 'p'.repeat(39) + '_';
		const a = functionName(prefix, 'UPDATE t SET a = 1 RETURNING *');
		expect(a.startsWith(`${prefix}tasks_f2_`)).toBe(true);
		expect(a.length).toBeLessThanOrEqual(63);
		expect(functionName(prefix, 'UPDATE t SET a = 2 RETURNING *')).not.toBe(a);
		expect(functionName(prefix, 'UPDATE t SET a = 1 RETURNING *')).toBe(a);
		expect(functionName(prefix, 'UPDATE t SET a = 1 RETURNING *', '"a" text')).not.toBe(a);
	});
});
