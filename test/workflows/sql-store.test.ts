/** The workflow store contract on SQLite and PostgreSQL (SqlWorkflowStore), and the engine on a SQLite SqlContainer. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { makeFlows, type FlowSetup } from './fixture.js';
import { sampleRun, workflowStoreContract } from './store.contract.js';
import { DuplicateRunError } from 'lightsched/workflows';

const sqlite = sqliteBackend();
let postgres: SqlBackend | undefined;

beforeAll(async () => {
	postgres = await postgresBackend();
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await postgres?.stop();
});

workflowStoreContract(
	'SqlWorkflowStore on SQLite',
	async () => new SqlWorkflowStore({ knex: await sqlite.freshDatabase() }),
);
workflowStoreContract(
	'SqlWorkflowStore on PostgreSQL',
	async () => new SqlWorkflowStore({ knex: await (postgres as SqlBackend).freshDatabase() }),
);

describe.each(['SQLite', 'PostgreSQL'] as const)(
	'Workflows on a %s SqlContainer with a SqlWorkflowStore sharing its connection',
	(backend) => {
		let setup: FlowSetup | undefined;
		afterEach(async () => {
			await setup?.close();
			setup = undefined;
		});

		it('runs a fan-out/join DAG, a template from shared data, and a second instance takes over after the first dies', async () => {
			const container = new SqlContainer({
				knex: await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase(),
			});
			const store = new SqlWorkflowStore({ container });
			const count: Record<string, number> = {};
			setup = makeFlows(
				container,
				{
					work: async (params, ctx) => {
						count[ctx.stepId] = (count[ctx.stepId] ?? 0) + 1;
						if (ctx.stepId === 'root') await ctx.shared.set('who', 'sql');
						return { ...params, inputs: Object.keys(ctx.inputs).sort() };
					},
				},
				{ store, sweepMs: 60_000 },
			);
			const definition = {
				name: 'dag',
				steps: [
					{ id: 'root', action: 'work' },
					{ id: 'left', action: 'work', dependsOn: ['root'], params: { hi: '{{shared.who}}' } },
					{ id: 'right', action: 'work', dependsOn: ['root'] },
					{ id: 'join', action: 'work', dependsOn: ['left', 'right'] },
				],
			};
			const { flows } = setup;
			flows.define(definition);
			const done = await flows.wait((await flows.start('dag')).id);
			expect(done.status).toBe('succeeded');
			expect(done.steps.left?.output).toEqual({ hi: 'sql', inputs: ['root'] });
			expect(done.steps.join?.output).toEqual({ inputs: ['left', 'right'] });
			// The first instance dies with a run started; another on the same database finishes it.
			const run = await flows.start('dag');
			await flows.close();
			const other = setup.another({ sweepMs: 50 });
			other.define(definition);
			expect((await other.wait(run.id)).status).toBe('succeeded');
			expect(count).toEqual({ root: 2, left: 2, right: 2, join: 2 });
		});
	},
);

describe.each(['SQLite', 'PostgreSQL'] as const)('SqlWorkflowStore on %s: concurrent creates', (backend) => {
	it('go in shared statements where each create keeps its own outcome: a taken id, a taken key, a row refused', async () => {
		const store = new SqlWorkflowStore({
			knex: await (backend === 'SQLite' ? sqlite : (postgres as SqlBackend)).freshDatabase(),
		});
		try {
			const existing = sampleRun();
			await store.create(existing);
			const fresh = Array.from({ length: 30 }, () => sampleRun());
			const keyed = [1, 2, 3].map(() => sampleRun({ key: 'one', uniqueKey: true }));
			// PostgreSQL refuses a definition name over its column's 100 characters (SQLite does not check lengths).
			const tooLong = sampleRun({ definition: 'x'.repeat(101) });
			const outcomes = await Promise.allSettled([
				...fresh.map((run) => store.create(run)),
				store.create(structuredClone(existing)),
				...keyed.map((run) => store.create(run)),
				store.create(tooLong),
			]);
			expect(outcomes.slice(0, 30).every((o) => o.status === 'fulfilled')).toBe(true);
			for (const run of fresh) expect((await store.get(run.id))?.id).toBe(run.id);
			const duplicate = outcomes[30];
			expect(duplicate?.status === 'rejected' && duplicate.reason).toBeInstanceOf(DuplicateRunError);
			expect(duplicate?.status === 'rejected' && String(duplicate.reason)).toContain(existing.id);
			const keyedOutcomes = outcomes.slice(31, 34);
			expect(keyedOutcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
			const winner = keyed[keyedOutcomes.findIndex((o) => o.status === 'fulfilled')] as (typeof keyed)[number];
			for (const o of keyedOutcomes.filter((o) => o.status === 'rejected')) {
				expect(o.reason).toBeInstanceOf(DuplicateRunError);
				expect((o.reason as DuplicateRunError).key).toBe('one');
				expect(String(o.reason)).toContain(winner.id);
			}
			const last = outcomes[34];
			if (backend === 'PostgreSQL') {
				expect(last?.status).toBe('rejected');
				expect(await store.get(tooLong.id)).toBeNull();
			} else expect(last?.status).toBe('fulfilled');
			expect((await store.list({ limit: 1000 })).total).toBe(backend === 'PostgreSQL' ? 32 : 33);
		} finally {
			await store.close();
		}
	});
});

describe.each(['SQLite', 'PostgreSQL'] as const)(
	'SqlWorkflowStore on %s: tables made by several at once',
	(backend) => {
		it('several processes starting together on a new database all get the tables, whole', async () => {
			// Eight stores, each with its own connection pool, as eight processes starting at once on a database that
			// has no tables yet. On PostgreSQL two concurrent CREATE TABLEs of one name collide inside the catalog
			// (`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`), which is not an "already
			// exists" error: the losers failed to start. On SQLite a new connection switched the file to WAL before it
			// set its busy timeout, so one that met another's lock failed at once with SQLITE_BUSY.
			const config = await (backend === 'PostgreSQL' ? (postgres as SqlBackend) : sqlite).freshDatabase();
			const stores = Array.from(
				{ length: 8 },
				() => new SqlWorkflowStore({ knex: { ...config, pool: { min: 0, max: 2 } } }),
			);
			try {
				const outcomes = await Promise.allSettled(stores.map((store) => store.migrate()));
				expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual(
					stores.map(() => 'ok'),
				);
				const run = sampleRun();
				await (stores[0] as SqlWorkflowStore).create(run);
				expect((await (stores[7] as SqlWorkflowStore).get(run.id))?.id).toBe(run.id);
			} finally {
				for (const store of stores) await store.close();
			}
		});
	},
);
