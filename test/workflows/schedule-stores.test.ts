/**
 * Scheduled runs on the shared stores: two Workflows, each on its own container and store instance (own
 * connections) over one SQLite file, one PostgreSQL database or one Redis server, declare the same schedule: one
 * run per tick, `schedule:<key>:<tick>`, each created by one of them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeFlows, until, type FlowSetup } from './fixture.js';
import { STORE_KINDS, storeServers } from './store-setups.js';

const servers = storeServers();

describe.each(STORE_KINDS.filter((kind) => kind !== 'memory'))('flows.schedule on %s', (kind) => {
	const setups: FlowSetup[] = [];
	afterEach(async () => {
		for (const setup of setups.splice(0)) await setup.close();
	});

	it('two processes’ Workflows declaring the same schedule make one run per tick', async () => {
		const open = await servers.fresh(kind);
		const created: string[] = [];
		const errors: Error[] = [];
		for (let i = 0; i < 2; i++) {
			const { container, store } = open();
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
