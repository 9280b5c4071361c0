/**
 * What `waitForReplicas` costs an add (RedisContainer, docs/containers/redis.md "Adds that survive a failover"): a
 * master (durable: AOF everysec, bench/durable-servers.ts) and one replica on this machine, no scheduler running the
 * tasks. Each round adds, on a container without the option and on one with `{ replicas: 1 }` (alternating, each
 * on a container name of its own): SINGLE tasks one per `add` by 32 callers at once (an API server adding a task
 * per request), then BATCHED tasks 500 per `add`, one call at a time. Prints adds/s for each, medians of ROUNDS
 * rounds (default 5) after a warm-up round, and the ratio; the peers have no such option, so the comparison is with
 * the same container without it.
 *
 *   npm run build && npx tsx bench/redis-wait-for-replicas.ts [single, default 5000] [batched, default 50000]
 */
import { RedisContainer } from 'lightsched/containers/redis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { Redis } from 'ioredis';
import { startRedis } from '../test/support/redis.js';
import { REDIS_ARGS, SERVERS } from './durable-servers.js';
import { median } from './stats.js';

const SINGLE = Number(process.argv[2] ?? 5000);
const BATCHED = Number(process.argv[3] ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CALLERS = 32;

const master = await startRedis({ args: [...REDIS_ARGS, '--repl-diskless-sync-delay', '0'] });
const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
const probe = new Redis(replica.port, '127.0.0.1');
while (!String(await probe.info('replication')).includes('master_link_status:up'))
	await new Promise((resolve) => setTimeout(resolve, 50));
probe.disconnect();

let n = 0;
/** Adds/s of `single` one-task adds (32 callers) and of `batched` tasks 500 an add, on a new container. */
async function measure(wait: boolean): Promise<Rates> {
	const container = new RedisContainer({
		redis: master.url,
		name: `b${++n}`,
		log: false,
		...(wait ? { waitForReplicas: { replicas: 1 } } : {}),
	});
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => null), autoStart: false });
	try {
		let next = 0;
		const singleStart = performance.now();
		await Promise.all(
			Array.from({ length: CALLERS }, async () => {
				while (next++ < SINGLE) await scheduler.add({ item: null });
			}),
		);
		const single = SINGLE / ((performance.now() - singleStart) / 1000);
		const batchedStart = performance.now();
		for (let i = 0; i < BATCHED; i += 500)
			await scheduler.add(Array.from({ length: Math.min(500, BATCHED - i) }, () => ({ item: null })));
		const batched = BATCHED / ((performance.now() - batchedStart) / 1000);
		return { single, batched };
	} finally {
		await scheduler.close();
	}
}

interface Rates {
	readonly single: number;
	readonly batched: number;
}
const results: { plain: Rates[]; wait: Rates[] } = { plain: [], wait: [] };
try {
	for (let round = 0; round <= ROUNDS; round++) {
		const plain = await measure(false);
		const wait = await measure(true);
		const label = round === 0 ? 'warm-up' : `round ${round}`;
		console.log(
			`${label}: single adds/s ${plain.single.toFixed(0)} without, ${wait.single.toFixed(0)} with; ` +
				`batched tasks/s ${plain.batched.toFixed(0)} without, ${wait.batched.toFixed(0)} with`,
		);
		if (round === 0) continue;
		results.plain.push(plain);
		results.wait.push(wait);
	}
	const row = (what: 'single' | 'batched') => {
		const without = median(results.plain.map((r) => r[what]));
		const withWait = median(results.wait.map((r) => r[what]));
		return `| ${what === 'single' ? `one task an add, ${CALLERS} callers` : '500 tasks an add'} | ${without.toFixed(0)} | ${withWait.toFixed(0)} | ${(withWait / without).toFixed(2)} |`;
	};
	console.log(`\n${SINGLE} single adds and ${BATCHED} batched tasks, medians of ${ROUNDS} rounds; ${SERVERS}`);
	console.log('| adds | without waitForReplicas (/s) | with { replicas: 1 } (/s) | with ÷ without |');
	console.log('|---|---|---|---|');
	console.log(row('single'));
	console.log(row('batched'));
} finally {
	await replica.close();
	await master.close();
}
