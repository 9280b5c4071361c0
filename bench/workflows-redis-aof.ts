/**
 * What a workflow step appends to redis-server's AOF, command by command and hash field by hash field: RUNS runs of
 * the 10-step chain (or, with `fan`, the 1 -> 8 -> 1 fan-out/join) on a server with `appendonly yes`, `appendfsync
 * everysec` (BullMQ's production advice), then the AOF's increment file parsed (RESP) and its bytes summed by
 * command and key kind (ids folded to `<id>`) and, for HSET, by field. bench/workflows.ts prints the total a step;
 * this says which writes make it up (the run's body, a task's fields at add, the index entries).
 *
 *   npx tsx --conditions=lightsched:source bench/workflows-redis-aof.ts [runs, default 50] [chain|fan]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { startRedis } from '../test/support/redis.js';
import { REDIS_AOF_ARGS } from './durable-servers.js';
import { CHAIN, FAN_OUT_JOIN, noopWorkflows } from './workflow-shapes.js';

const RUNS = Number(process.argv[2] ?? 50);
const SHAPE = process.argv[3] === 'fan' ? FAN_OUT_JOIN : CHAIN;
const STEPS = RUNS * SHAPE.length;

const server = await startRedis({ args: REDIS_AOF_ARGS });
const connection = { host: '127.0.0.1', port: server.port };
const container = new RedisContainer({ redis: connection, name: 'aof', log: false });
await container.ready();
const store = new RedisWorkflowStore({ container });
const { scheduler, flows } = noopWorkflows(container, store, SHAPE);
let finished = 0;
let resolve!: () => void;
const done = new Promise<void>((r) => (resolve = r));
flows.on('run:finished', () => {
	if (++finished === RUNS) resolve();
});
const admin = new Redis(connection);
const aofSize = async (): Promise<number> =>
	Number(/aof_current_size:(\d+)/.exec(await admin.info('persistence'))?.[1]);
const before = await aofSize();
await Promise.all(Array.from({ length: RUNS }, () => flows.start('bench')));
await done;
await flows.close();
await scheduler.close();
await store.close();
const after = await aofSize();

// The increment files (Redis 7's multi-part AOF), parsed as RESP arrays of bulk strings.
const dir = join(server.dir, 'appendonlydir');
const aof = Buffer.concat(
	readdirSync(dir)
		.filter((file) => file.includes('.incr.'))
		.map((file) => readFileSync(join(dir, file))),
);
let at = 0;
const line = (): string => {
	const end = aof.indexOf('\r\n', at);
	const text = aof.toString('latin1', at, end);
	at = end + 2;
	return text;
};
const byCommand = new Map<string, { calls: number; bytes: number }>();
const byField = new Map<string, number>();
let parsed = 0;
while (at < aof.length) {
	const start = at;
	const head = line();
	if (!head.startsWith('*')) throw new Error(`Not a RESP array at byte ${start}: ${head}`);
	const args: string[] = [];
	const sizes: number[] = [];
	for (let i = Number(head.slice(1)); i > 0; i--) {
		const length = line();
		const n = Number(length.slice(1));
		args.push(aof.toString('utf8', at, at + n));
		sizes.push(length.length + 2 + n + 2);
		at += n + 2;
	}
	parsed += at - start;
	const command = (args[0] as string).toLowerCase();
	const key = (args[1] ?? '').replace(/^lightsched:\{aof\}:/, '').replace(/[0-9a-f]{8}-[0-9a-f-]{27}.*$/, '<id>');
	const name = ['hset', 'hdel', 'zadd', 'zrem', 'del'].includes(command) ? `${command} ${key}` : command;
	const entry = byCommand.get(name) ?? { calls: 0, bytes: 0 };
	entry.calls++;
	entry.bytes += at - start;
	byCommand.set(name, entry);
	if (command === 'hset')
		for (let i = 2; i + 1 < args.length; i += 2) {
			const field = `${name} .${args[i]}`;
			byField.set(field, (byField.get(field) ?? 0) + (sizes[i] as number) + (sizes[i + 1] as number));
		}
}
console.log(
	`${RUNS} runs of the ${SHAPE === CHAIN ? 'chain' : 'fan-out/join'}: the AOF grew ${after - before} bytes ` +
		`(${parsed} parsed), ${((after - before) / STEPS).toFixed(0)} a step`,
);
console.log('\n| command and key | calls a step | bytes a step |\n|---|---:|---:|');
for (const [name, { calls, bytes }] of [...byCommand].sort((a, b) => b[1].bytes - a[1].bytes))
	console.log(`| ${name} | ${(calls / STEPS).toFixed(3)} | ${(bytes / STEPS).toFixed(0)} |`);
console.log('\n| HSET field (name and value) | bytes a step |\n|---|---:|');
for (const [field, bytes] of [...byField].sort((a, b) => b[1] - a[1]).slice(0, 30))
	console.log(`| ${field} | ${(bytes / STEPS).toFixed(0)} |`);
await admin.quit();
await server.close();
