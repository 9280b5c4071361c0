/**
 * One worker process of `bench/latency.ts`: an idle consumer of one engine (lightsched on Redis, PostgreSQL or
 * SQLite; BullMQ; graphile-worker; pg-boss) that prints `s <n> <ns>` when task number `n` starts, `<ns>` being
 * `process.hrtime.bigint()` (CLOCK_MONOTONIC, the same clock in every process of the machine) read first thing in
 * the handler. Configured by `LATENCY_WORKER` (JSON); prints `ready` once connected, exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { Worker } from 'bullmq';
import { Logger, run as runGraphile } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { Redis } from 'ioredis';
import { FLOOR_POP } from './latency-floor.js';

export type Engine =
	| 'lightsched-redis'
	| 'lightsched-redis-handoff'
	| 'bullmq'
	| 'lightsched-pg'
	| 'graphile'
	| 'pgboss'
	| 'lightsched-sqlite'
	| 'lightsched-sqlite-poll20'
	| 'redis-floor-pubsub'
	| 'redis-floor-blpop';

export interface LatencyWorkerConfig {
	readonly engine: Engine;
	readonly name: string;
	readonly concurrency: number;
	readonly redisPort: number;
	/** postgres:// URL. */
	readonly pgUrl: string;
	readonly sqliteFile: string;
	/** pg-boss's `work()` options (its documented, recommended way). */
	readonly pgBoss: { readonly workers: number; readonly batchSize: number; readonly pollingIntervalSeconds: number };
}

const config = JSON.parse(process.env.LATENCY_WORKER ?? '{}') as LatencyWorkerConfig;
const started = (n: unknown): void => {
	const at = process.hrtime.bigint();
	process.stdout.write(`s ${String(n)} ${at}\n`);
};

let stop: () => Promise<void>;

switch (config.engine) {
	case 'lightsched-redis':
	case 'lightsched-redis-handoff':
	case 'lightsched-pg':
	case 'lightsched-sqlite':
	case 'lightsched-sqlite-poll20': {
		const container =
			config.engine === 'lightsched-redis' || config.engine === 'lightsched-redis-handoff'
				? new RedisContainer({
						redis: { host: '127.0.0.1', port: config.redisPort },
						name: config.name,
						log: false,
						handOff: config.engine === 'lightsched-redis-handoff',
					})
				: config.engine === 'lightsched-pg'
					? new SqlContainer({ knex: { client: 'pg', connection: config.pgUrl, pool: { min: 2, max: 10 } } })
					: new SqlContainer({
							knex: {
								client: 'sqlite3',
								connection: { filename: config.sqliteFile },
								useNullAsDefault: true,
							},
						});
		const scheduler = new Scheduler<number, void>({
			container,
			concurrency: config.concurrency,
			actuator: new FunctionActuator((n: number) => started(n)),
			...(config.engine === 'lightsched-sqlite-poll20' ? { pollIntervalMs: 20 } : {}),
		});
		scheduler.on('error', (error) => console.error('scheduler error:', error.message));
		if (container instanceof RedisContainer) await container.ready();
		stop = () => scheduler.close();
		break;
	}
	case 'bullmq': {
		const worker = new Worker(
			config.name,
			async (job) => {
				started((job.data as { n: number }).n);
			},
			{
				connection: { host: '127.0.0.1', port: config.redisPort, maxRetriesPerRequest: null },
				concurrency: config.concurrency,
			},
		);
		worker.on('error', (error) => console.error('bullmq error:', error.message));
		await worker.waitUntilReady();
		stop = () => worker.close();
		break;
	}
	case 'graphile': {
		// Its defaults: LISTEN/NOTIFY for new jobs, pollInterval 2 s as the safety poll; no local queue.
		const runner = await runGraphile({
			connectionString: config.pgUrl,
			logger: new Logger(() => () => undefined),
			concurrency: config.concurrency,
			maxPoolSize: config.concurrency + 2,
			noHandleSignals: true,
			taskList: {
				noop: async (payload) => {
					started((payload as { n: number }).n);
				},
			},
		});
		stop = () => runner.stop();
		break;
	}
	case 'pgboss': {
		const boss = new PgBoss({ connectionString: config.pgUrl, supervise: false, schedule: false });
		boss.on('error', (error: Error) => console.error('pg-boss error:', error.message));
		await boss.start(); // the queue was created by the bench process
		const { workers, batchSize, pollingIntervalSeconds } = config.pgBoss;
		// Each work() call adds a worker polling on its own; started one after another, their polls spread out.
		for (let i = 0; i < workers; i++) {
			await boss.work(config.name, { batchSize, pollingIntervalSeconds }, async (jobs) => {
				for (const job of jobs) started((job.data as { n: number }).n);
			});
		}
		stop = () => boss.stop({ graceful: false, wait: true });
		break;
	}
	case 'redis-floor-pubsub': {
		// No scheduler: a subscriber woken by the push's PUBLISH pops with a script, the two hops every
		// claim-on-wake design pays (lightsched without hand-off, BullMQ's marker wake-up).
		const subscriber = new Redis({ host: '127.0.0.1', port: config.redisPort });
		const client = new Redis({ host: '127.0.0.1', port: config.redisPort });
		subscriber.on('message', () => {
			void (async () => {
				for (;;) {
					const n = (await client.eval(FLOOR_POP, 1, `${config.name}:q`)) as string | null;
					if (n === null) return;
					started(n);
				}
			})();
		});
		await subscriber.subscribe(`${config.name}:ch`);
		stop = async () => {
			subscriber.disconnect();
			client.disconnect();
		};
		break;
	}
	case 'redis-floor-blpop': {
		// No scheduler: one blocking pop waiting on the list, one hop from the push to the handler.
		const client = new Redis({ host: '127.0.0.1', port: config.redisPort });
		let open = true;
		void (async () => {
			while (open) {
				const got = await client.blpop(`${config.name}:q`, 1).catch(() => null);
				if (got !== null) started(got[1]);
			}
		})();
		stop = async () => {
			open = false;
			client.disconnect();
		};
		break;
	}
	default:
		throw new Error(`unknown engine ${String(config.engine)}`);
}

process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('close', () => {
	void stop().finally(() => process.exit(0));
});
