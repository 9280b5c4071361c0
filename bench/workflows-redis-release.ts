/**
 * The Redis step release measured in one process: rounds of RUNS workflow runs (a 10-step chain or a 1 -> 8 -> 1
 * fan-out/join, no-op steps, concurrency 32) alternating between a RedisWorkflowStore on the container's connection
 * (`{ container }`: a run write and the step tasks it starts in one script) and one on a connection of its own (the
 * run written, then the tasks added), on one redis-server. Per round: steps/s, this process's CPU per step and the
 * server's (INFO cpu); medians. Both sides share the machine's load at the same moments, so their difference is the
 * release's, not the load's.
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-redis-release.ts [runs] [chain|dag] [rounds]
 */
import { Redis } from 'ioredis';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import type { StepDefinition } from 'lightsched/workflows';
import { startRedis } from '../test/support/redis.js';
import { redisCpuUs } from './redis-cpu.js';
import { noopWorkflows } from './workflow-shapes.js';
const RUNS = Number(process.argv[2] ?? 300);
const shape = process.argv[3] ?? 'chain';
const ROUNDS = Number(process.argv[4] ?? 5);
const steps: StepDefinition[] =
	shape === 'chain'
		? Array.from({ length: 10 }, (_, i) => ({
				id: `s${i}`,
				action: 'noop',
				...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
			}))
		: [
				{ id: 'root', action: 'noop' },
				...Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, action: 'noop', dependsOn: ['root'] })),
				{ id: 'join', action: 'noop', dependsOn: Array.from({ length: 8 }, (_, i) => `b${i}`) },
			];
const redis = await startRedis();
const admin = new Redis(redis.port);
const scpu = (): Promise<number> => redisCpuUs(admin);
let n = 0;
const res: Record<string, number[][]> = { release: [], separate: [] };
for (let r = 0; r < ROUNDS; r++)
	for (const mode of r % 2 ? ['release', 'separate'] : ['separate', 'release']) {
		const name = `ab${++n}`;
		const conn = { host: '127.0.0.1', port: redis.port };
		const container = new RedisContainer({ redis: conn, name, log: false });
		await container.ready();
		const store =
			mode === 'release' ? new RedisWorkflowStore({ container }) : new RedisWorkflowStore({ redis: conn, name });
		const { scheduler, flows } = noopWorkflows(container, store, steps, 'b');
		const c0 = process.cpuUsage();
		const s0 = await scpu();
		const t0 = performance.now();
		const ids: string[] = [];
		for (let i = 0; i < RUNS; i += 100)
			ids.push(
				...(await Promise.all(Array.from({ length: Math.min(100, RUNS - i) }, () => flows.start('b')))).map(
					(x) => x.id,
				),
			);
		for (const id of ids) await flows.wait(id);
		const ms = performance.now() - t0;
		const c = process.cpuUsage(c0);
		const s = (await scpu()) - s0;
		const st = RUNS * 10;
		(res[mode] as number[][]).push([(st / ms) * 1000, (c.user + c.system) / st, s / st]);
		await flows.close();
		await scheduler.close();
		await store.close();
	}
const med = (values: number[]): number => [...values].sort((x, y) => x - y)[values.length >> 1] as number;
for (const [m, rows] of Object.entries(res))
	console.log(
		m,
		'steps/s',
		rows.map((x) => (x[0] as number).toFixed(0)).join(' '),
		'| node us/step',
		rows.map((x) => (x[1] as number).toFixed(0)).join(' '),
		'| server us/step',
		rows.map((x) => (x[2] as number).toFixed(0)).join(' '),
		'| medians',
		med(rows.map((x) => x[0] as number)).toFixed(0),
		med(rows.map((x) => x[1] as number)).toFixed(0),
		med(rows.map((x) => x[2] as number)).toFixed(0),
	);
admin.disconnect();
await redis.close();
