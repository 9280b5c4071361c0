/**
 * SqlWorkflowStore on PostgreSQL runs its frequent writes (the run writes with the step tasks they release, the
 * creates) through the container's statement functions (containers/sql/pg-functions.ts), planned once per server
 * connection: a few functions whatever the batch sizes, every run finished, a function dropped under it made again
 * with no run lost, and a database that refuses functions warned about once for the container and the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { postgresBackend, refuseFunctions, type SqlBackend } from '../support/sql.js';
import { makeFlows } from './fixture.js';

let pg: SqlBackend;
beforeAll(async () => {
	pg = await postgresBackend();
}, 120_000);
afterAll(() => pg.stop());

/** The statement functions whose statement writes the workflow runs table, by name. */
async function runFunctions(knex: Knex): Promise<{ name: string; source: string }[]> {
	const { rows } = (await knex.raw(
		`SELECT proname AS name, prosrc AS source FROM pg_proc WHERE proname LIKE 'lightsched_tasks_f2_%' AND prosrc LIKE '%lightsched_wf_runs%' ORDER BY proname`,
	)) as { rows: { name: string; source: string }[] };
	return rows;
}

const chain = Array.from({ length: 6 }, (_, i) => ({
	id: `s${i}`,
	action: 'noop',
	...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
}));

/**
 * On a new container on `config` with a store sharing it: `rounds` rounds of `per` concurrent starts of the chain,
 * each round waited for; every run must succeed. Closes the container.
 */
async function runChains(
	config: Knex.Config,
	rounds: number,
	per: number,
	options: { statementFunctions?: boolean } = {},
): Promise<void> {
	const container = new SqlContainer({ knex: config, ...options });
	const setup = makeFlows(container, { noop: () => null }, { store: new SqlWorkflowStore({ container }) });
	try {
		setup.flows.define({ name: 'chain', steps: chain });
		for (let round = 0; round < rounds; round++) {
			const runs = await Promise.all(Array.from({ length: per }, () => setup.flows.start('chain')));
			for (const run of runs) expect((await setup.flows.wait(run.id)).status).toBe('succeeded');
		}
	} finally {
		await setup.close();
		await container.close();
	}
}

describe('SqlWorkflowStore statement functions (PostgreSQL)', () => {
	it('runs its run writes, releases and creates through a few functions whatever the batch sizes', async () => {
		const config = await pg.freshDatabase();
		const admin = knexFactory(config);
		try {
			await runChains(config, 4, 24);
			const made = await runFunctions(admin);
			const writes = made.filter((f) => /UPDATE lightsched_wf_runs/.test(f.source));
			const creates = made.filter((f) => /INSERT INTO lightsched_wf_runs/.test(f.source));
			expect(writes.length).toBeGreaterThan(0);
			expect(creates.length).toBeGreaterThan(0);
			// One text per statement kind (a batch's rows as arrays), not one per batch size.
			expect(writes.some((f) => f.source.includes('unnest('))).toBe(true);
			expect(made.length).toBeLessThanOrEqual(6);
			const { rows } = (await admin.raw(
				`SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'lightsched_tasks_f2_%' AND prosrc LIKE '%lightsched_wf_runs%' AND NOT (proconfig @> ARRAY['plan_cache_mode=force_generic_plan'])`,
			)) as { rows: { n: number }[] };
			expect(rows[0]?.n).toBe(0);
		} finally {
			await admin.destroy();
		}
	});

	it('finishes every run when its functions are dropped under it, and makes them again', async () => {
		const config = await pg.freshDatabase();
		const admin = knexFactory(config);
		const container = new SqlContainer({ knex: config });
		const setup = makeFlows(container, { noop: () => null }, { store: new SqlWorkflowStore({ container }) });
		try {
			setup.flows.define({ name: 'chain', steps: chain });
			const round = async (): Promise<void> => {
				const runs = await Promise.all(Array.from({ length: 16 }, () => setup.flows.start('chain')));
				for (const run of runs) expect((await setup.flows.wait(run.id)).status).toBe('succeeded');
			};
			await round();
			await round();
			const before = await runFunctions(admin);
			expect(before.length).toBeGreaterThan(0);
			// Under the same store and container: their calls find the functions gone.
			for (const f of before) await admin.raw(`DROP FUNCTION "${f.name}"`);
			for (let i = 0; i < 3; i++) await round();
			expect((await runFunctions(admin)).length).toBeGreaterThan(0);
		} finally {
			await setup.close();
			await container.close();
			await admin.destroy();
		}
	});

	it('warns once for the container and the store when PostgreSQL refuses the functions', async () => {
		const config = await pg.freshDatabase();
		const owner = new SqlContainer({ knex: config });
		await owner.migrate();
		await new SqlWorkflowStore({ container: owner }).migrate();
		await owner.close();
		// The schema is in place; from now on the database refuses every CREATE FUNCTION, as a managed server's
		// policy may (an event trigger raising insufficient_privilege).
		const admin = knexFactory(config);
		const allowFunctions = await refuseFunctions(admin);
		const warnings: string[] = [];
		try {
			await runChains({ ...config, log: { warn: (message: string) => warnings.push(message) } }, 3, 16);
			expect(await runFunctions(admin)).toEqual([]);
			const ours = warnings.filter((w) => w.includes('statement functions'));
			expect(ours).toHaveLength(1);
			expect(ours[0]).toMatch(/42501.*no functions here.*plain statements/s);
		} finally {
			await allowFunctions();
			await admin.destroy();
		}
	});

	it('makes no function for the store either on a container with `statementFunctions: false`', async () => {
		const config = await pg.freshDatabase();
		const admin = knexFactory(config);
		try {
			await runChains(config, 3, 16, { statementFunctions: false });
			const { rows } = (await admin.raw(
				`SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'lightsched_tasks_f2_%'`,
			)) as { rows: { n: number }[] };
			expect(rows[0]?.n).toBe(0);
		} finally {
			await admin.destroy();
		}
	});
});
