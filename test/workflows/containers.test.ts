/**
 * The engine on the other containers: RedisContainer (runs in a RedisWorkflowStore sharing the container's ioredis
 * instance) and CombinedContainer (runs in a MemoryWorkflowStore); and two Workflows on two RedisContainers and
 * RedisWorkflowStores on one server sharing runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { TaskContainer } from 'lightsched';
import { CombinedContainer } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import type { WorkflowStore } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { makeFlows, until, untilAborted, type FlowSetup } from './fixture.js';

let redis: RedisServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-containers-'));
let n = 0;
beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	await redis?.close();
	rmSync(dir, { recursive: true, force: true });
});

/** Connections the tests gave to a container and a store (neither closes a given instance). */
const clients: Redis[] = [];

const containers: [string, () => { container: TaskContainer; store?: WorkflowStore }][] = [
	[
		'RedisContainer',
		() => {
			// One ioredis instance for the container and the store: they share its connection.
			const client = new Redis((redis as RedisServer).url);
			clients.push(client);
			const name = `wf${++n}`;
			return {
				container: new RedisContainer({ redis: client, name, log: false }),
				store: new RedisWorkflowStore({ redis: client, name }),
			};
		},
	],
	[
		'CombinedContainer',
		() => ({
			container: new CombinedContainer(
				new QueueContainer(),
				new SqlContainer({
					knex: {
						client: 'sqlite3',
						connection: { filename: join(dir, `c${++n}.sqlite`) },
						useNullAsDefault: true,
					},
				}),
			),
		}),
	],
];

describe.each(containers)('Workflows on %s', (_name, make) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
		for (const client of clients.splice(0)) client.disconnect();
	});

	it('runs a fan-out/join DAG with templates, and stops a running step for real', async () => {
		let aborted = false;
		const { container, store } = make();
		setup = makeFlows(
			container,
			{
				work: (params, ctx) => ({ ...params, inputs: Object.keys(ctx.inputs).sort() }),
				hang: async (_p, ctx) => {
					await untilAborted(ctx.signal).catch((reason: unknown) => {
						aborted = true;
						throw reason;
					});
				},
			},
			store === undefined ? {} : { store },
		);
		const { flows } = setup;
		flows.define({
			name: 'dag',
			vars: { region: { default: 'eu' } },
			steps: [
				{ id: 'root', action: 'work', params: { region: '{{vars.region}}' } },
				{ id: 'left', action: 'work', dependsOn: ['root'] },
				{ id: 'right', action: 'work', dependsOn: ['root'] },
				{ id: 'join', action: 'work', dependsOn: ['left', 'right'] },
			],
		});
		flows.define({ name: 'stuck', steps: [{ id: 'hang', action: 'hang' }] });
		const done = await flows.wait((await flows.start('dag', { vars: { region: 'us' } })).id);
		expect(done.status).toBe('succeeded');
		expect(done.steps.root?.output).toEqual({ region: 'us', inputs: [] });
		expect(done.steps.join?.output).toEqual({ inputs: ['left', 'right'] });
		const stuck = await flows.start('stuck');
		await until(async () => (await setup?.scheduler.get(`wf:${stuck.id}:hang:1`))?.status === 'running');
		await flows.stop(stuck.id);
		const stopped = await flows.wait(stuck.id);
		expect(stopped.status).toBe('stopped');
		expect(stopped.steps.hang?.status).toBe('stopped');
		expect(aborted).toBe(true);
	});
});

describe('Workflows on two RedisContainers and RedisWorkflowStores on one server', () => {
	const setups: FlowSetup[] = [];
	afterEach(async () => {
		for (const one of setups.splice(0)) await one.close();
	});

	it('share runs: a run one instance started is finished by the other after the first closes', async () => {
		const name = `shared${++n}`;
		const url = (redis as RedisServer).url;
		const ran: string[] = [];
		const stack = (who: string): FlowSetup => {
			const made = makeFlows(
				new RedisContainer({ redis: url, name, log: false }),
				{
					work: async (_params, ctx) => {
						ran.push(`${who}:${ctx.stepId}`);
						// The first instance never finishes its root step: it is closed while the step runs.
						if (who === 'first' && ctx.stepId === 'root') await untilAborted(ctx.signal);
						return { who, inputs: Object.keys(ctx.inputs).sort() };
					},
				},
				{ store: new RedisWorkflowStore({ redis: url, name }) },
			);
			made.flows.define({
				name: 'dag',
				steps: [
					{ id: 'root', action: 'work' },
					{ id: 'left', action: 'work', dependsOn: ['root'] },
					{ id: 'right', action: 'work', dependsOn: ['root'] },
					{ id: 'join', action: 'work', dependsOn: ['left', 'right'] },
				],
			});
			setups.push(made);
			return made;
		};
		const first = stack('first');
		const run = await first.flows.start('dag', { key: 'shared-1', unique: true });
		await until(() => ran.includes('first:root'), 10_000, 'the first instance to start the root step');
		// The second instance sees the run (and its unique key) at once, through the shared store.
		const second = stack('second');
		expect((await second.flows.get(run.id))?.status).toBe('running');
		await expect(second.flows.start('dag', { key: 'shared-1', unique: true })).rejects.toThrow(run.id);
		// The first closes (its root step is stopped and handed back); the second finishes the run.
		await first.close();
		setups.splice(setups.indexOf(first), 1);
		const done = await second.flows.wait(run.id);
		expect(done.status).toBe('succeeded');
		expect(done.steps.join?.output).toEqual({ who: 'second', inputs: ['left', 'right'] });
		expect(ran.filter((line) => line.startsWith('second:')).sort()).toEqual([
			'second:join',
			'second:left',
			'second:right',
			'second:root',
		]);
		expect(ran.filter((line) => line.startsWith('first:'))).toEqual(['first:root']);
	});
});
