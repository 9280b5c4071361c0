/**
 * The worker process of bench/wait-for.ts: runs tasks that return the time they ended (`process.hrtime.bigint()`,
 * CLOCK_MONOTONIC, shared by every process of the machine), so the producer can tell how long after the end of the
 * work its `waitFor` answered. Configured by `WAIT_FOR_BENCH` (JSON); prints `ready`; exits when stdin closes.
 */
import { Worker } from 'bullmq';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';

export interface WaitForBenchConfig {
	readonly engine: 'lightsched-redis' | 'lightsched-pg' | 'lightsched-sqlite' | 'bullmq';
	readonly name: string;
	readonly redisUrl: string;
	readonly redisPort: number;
	readonly pgUrl: string;
	/** The SQLite file both processes open (`lightsched-sqlite`). */
	readonly sqliteFile: string;
}

const config = JSON.parse(process.env['WAIT_FOR_BENCH'] ?? '{}') as WaitForBenchConfig;
const ended = (n: number): { n: number; endedAt: string } => ({ n, endedAt: String(process.hrtime.bigint()) });
let stop: () => Promise<void>;
if (config.engine === 'bullmq') {
	const worker = new Worker(config.name, async (job) => ended((job.data as { n: number }).n), {
		connection: { host: '127.0.0.1', port: config.redisPort, maxRetriesPerRequest: null },
		concurrency: 8,
	});
	await worker.waitUntilReady();
	stop = () => worker.close();
} else {
	const container =
		config.engine === 'lightsched-redis'
			? new RedisContainer({ redis: config.redisUrl, name: config.name, log: false })
			: config.engine === 'lightsched-pg'
				? new SqlContainer({ knex: { client: 'pg', connection: config.pgUrl }, tablePrefix: config.name })
				: new SqlContainer({
						knex: {
							client: 'sqlite3',
							connection: { filename: config.sqliteFile },
							useNullAsDefault: true,
						},
						tablePrefix: config.name,
					});
	const scheduler = new Scheduler({
		container,
		concurrency: 8,
		actuator: new FunctionActuator((n: number) => ended(n)),
	});
	scheduler.on('error', (error) => console.error('scheduler error:', error.message));
	if (container instanceof RedisContainer) await container.ready();
	stop = () => scheduler.close();
}
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => void stop().then(() => process.exit(0)));
