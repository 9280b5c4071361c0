/**
 * Scheduled runs on the shared stores: two Workflows, each on its own container and store instance (own
 * connections) over one SQLite file, one PostgreSQL database or one Redis server, declare the same schedule: one
 * run per tick, `schedule:<key>:<tick>`, each created by one of them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { TaskContainer } from 'lightsched';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import type { WorkflowStore } from 'lightsched/workflows';
import { SqlWorkflowStore } from '../../containers/sql/workflow-store.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { makeFlows, until, type FlowSetup } from './fixture.js';

const sqlite = sqliteBackend();
let postgres: SqlBackend | undefined;
let redis: RedisServer | undefined;
let n = 0;
const clients: Redis[] = [];

beforeAll(async () => {
	[postgres, redis] = await Promise.all([postgresBackend(), startRedis()]);
}, 120_000);
afterAll(async () => {
	await sqlite.stop();
	await postgres?.stop();
	await redis?.stop();
});

type Pair = () => Promise<[() => { container: TaskContainer; store: WorkflowStore }, () => void]>;

function sql(backend: () => SqlBackend): Pair {
	return async () => {
		const knex = await backend().freshDatabase();
		return [
			() => {
				const container = new SqlContainer({ knex });
				return { container, store: new SqlWorkflowStore({ container }) };
			},
			() => undefined,
		];
	};
}

const stores: [string, Pair][] = [
	['SQLite', sql(() => sqlite)],
	['PostgreSQL', sql(() => postgres as SqlBackend)],
	[
		'Redis',
		async () => {
			const name = `sched${++n}`;
			return [
				() => {
					const client = new Redis((redis as RedisServer).url);
					clients.push(client);
					return {
						container: new RedisContainer({ redis: client, name, log: false }),
						store: new RedisWorkflowStore({ redis: client, name }),
					};
				},
				() => {
					for (const client of clients.splice(0)) client.disconnect();
				},
			];
		},
	],
];

describe.each(stores)('flows.schedule on %s', (_name, pair) => {
	const setups: FlowSetup[] = [];
	let done: () => void = () => undefined;
	afterEach(async () => {
		for (const setup of setups.splice(0)) await setup.close();
		done();
	});

	it('two processes’ Workflows declaring the same schedule make one run per tick', async () => {
		const [make, cleanup] = await pair();
		done = cleanup;
		const created: string[] = [];
		const errors: Error[] = [];
		for (let i = 0; i < 2; i++) {
			const { container, store } = make();
			// The second store on a fresh PostgreSQL database once its tables exist: two stores creating them at
			// once can collide (pg_type_typname_nsp_index), a set-up race outside this test's subject.
			await store.list({ limit: 1 });
			const setup = makeFlows(container, { echo: (params) => ({ got: params.region }) }, { store });
			setups.push(setup);
			setup.flows.define({
				name: 'create-cluster',
				vars: { region: { default: 'eu' } },
				steps: [{ id: 'create', action: 'echo', params: { region: '{{vars.region}}' } }],
			});
			setup.flows.on('run:created', ({ run }) => created.push(run.id));
			setup.flows.on('error', (error) => errors.push(error));
		}
		const declared = Date.now();
		for (const { flows } of setups)
			flows.schedule({ key: 'nightly', definition: 'create-cluster', every: 250, vars: { region: 'us' } });
		const flows = (setups[0] as FlowSetup).flows;
		const scheduled = async () =>
			(await flows.list({ definition: 'create-cluster', limit: 1000 })).runs.filter((run) =>
				run.id.startsWith('schedule:nightly:'),
			);
		await until(async () => (await scheduled()).length >= 3, 10_000, 'three ticks');
		for (const setup of setups) setup.flows.unschedule('nightly');
		await new Promise((resolve) => setTimeout(resolve, 300));
		const runs = await scheduled();
		const ticks = runs.map((run) => Number(run.id.slice('schedule:nightly:'.length)));
		for (const tick of ticks) {
			expect(tick % 250).toBe(0);
			expect(tick).toBeGreaterThan(declared);
		}
		expect(new Set(ticks).size).toBe(runs.length);
		// Each tick's run was created by one process: the other's create was refused, silently.
		expect(created.sort()).toEqual(runs.map((run) => run.id).sort());
		expect(errors).toEqual([]);
		for (const run of runs) {
			expect(run.vars).toEqual({ region: 'us' });
			expect((await flows.wait(run.id, { timeoutMs: 5000 })).steps.create?.output).toEqual({ got: 'us' });
		}
	}, 30_000);
});
