/**
 * One worker process of `bench/redis.ts`: a lightsched Scheduler on a RedisContainer, or a BullMQ Worker, running
 * no-op tasks. Configured by `BENCH_WORKER` (JSON). Prints `ready` once connected (and subscribed), starts
 * processing on the stdin line `go` (or at once with `autoStart`), prints `started <id> <ms>` per task when
 * `report` is set, and exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { Worker } from 'bullmq';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';

interface BenchWorkerConfig {
	readonly lib: 'lightsched' | 'bullmq';
	readonly port: number;
	readonly name: string;
	readonly concurrency: number;
	readonly autoStart: boolean;
	readonly report: boolean;
}

const config = JSON.parse(process.env.BENCH_WORKER ?? '{}') as BenchWorkerConfig;
const report = (id: string): void => {
	if (config.report) process.stdout.write(`started ${id} ${Date.now()}\n`);
};

let begin: () => void;
let end: () => Promise<void>;

if (config.lib === 'lightsched') {
	const container = new RedisContainer({ redis: { host: '127.0.0.1', port: config.port }, name: config.name, log: false });
	const scheduler = new Scheduler({
		container,
		concurrency: config.concurrency,
		autoStart: config.autoStart,
		actuator: new FunctionActuator(async (_item: unknown, { task }) => {
			report(task.id);
		}),
	});
	scheduler.on('error', (error) => console.error(error));
	await container.ready();
	begin = () => scheduler.resume();
	end = () => scheduler.close();
} else {
	const worker = new Worker(
		config.name,
		async (job) => {
			report(job.id ?? '');
		},
		{
			connection: { host: '127.0.0.1', port: config.port, maxRetriesPerRequest: null },
			concurrency: config.concurrency,
			autorun: false,
		},
	);
	worker.on('error', (error) => console.error(error));
	await worker.waitUntilReady();
	begin = () => void worker.run();
	end = () => worker.close();
	if (config.autoStart) begin();
}

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
	if (line === 'go') begin();
});
lines.on('close', () => {
	void end().finally(() => process.exit(0));
});
