/** The engine on the other containers: RedisContainer and CombinedContainer (runs in a MemoryWorkflowStore). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { CombinedContainer } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startRedis, type RedisServer } from '../support/redis.js';
import { makeFlows, until, untilAborted, type FlowSetup } from './fixture.js';

let redis: RedisServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'lightsched-wf-containers-'));
let n = 0;
beforeAll(async () => {
	redis = await startRedis();
}, 60_000);
afterAll(async () => {
	await redis?.stop();
	rmSync(dir, { recursive: true, force: true });
});

const containers: [string, () => TaskContainer][] = [
	['RedisContainer', () => new RedisContainer({ redis: (redis as RedisServer).url, name: `wf${++n}`, log: false })],
	[
		'CombinedContainer',
		() =>
			new CombinedContainer(
				new QueueContainer(),
				new SqlContainer({
					knex: {
						client: 'sqlite3',
						connection: { filename: join(dir, `c${++n}.sqlite`) },
						useNullAsDefault: true,
					},
				}),
			),
	],
];

describe.each(containers)('Workflows on %s', (_name, make) => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	it('runs a fan-out/join DAG with templates, and stops a running step for real', async () => {
		let aborted = false;
		setup = makeFlows(make(), {
			work: (params, ctx) => ({ ...params, inputs: Object.keys(ctx.inputs).sort() }),
			hang: async (_p, ctx) => {
				await untilAborted(ctx.signal).catch((reason: unknown) => {
					aborted = true;
					throw reason;
				});
			},
		});
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
