/**
 * One worker process of `bench/redis.ts`: a lightsched Scheduler on a RedisContainer, or a BullMQ Worker, running
 * no-op tasks. Configured by `BENCH_WORKER` (JSON). Prints `ready` once connected (and subscribed), starts
 * processing on the stdin line `go` (or at once with `autoStart`), prints `started <id> <ms>` per task when
 * `report` is set, answers the line `cpu` with `cpu <µs>` (its CPU time since `go`), and exits when stdin closes.
 *
 * With `warmup` > 0 the process first runs that many no-op tasks of its own (added and processed here, on a queue of
 * its own, at the same concurrency, then closed) before it prints `ready`: the measured run then finds the code of
 * both libraries compiled, as in a long-running worker, instead of timing V8's warm-up.
 */
import { createInterface } from 'node:readline';
import { Queue, Worker } from 'bullmq';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';

interface BenchWorkerConfig {
	/** `bullmq-recommended`: BullMQ with `removeOnComplete: { count: 1000 }`, as its docs advise for production. */
	readonly lib: 'lightsched' | 'bullmq' | 'bullmq-recommended';
	readonly port: number;
	readonly name: string;
	readonly concurrency: number;
	readonly autoStart: boolean;
	readonly report: boolean;
	readonly warmup: number;
}

const config = JSON.parse(process.env.BENCH_WORKER ?? '{}') as BenchWorkerConfig;
const report = (id: string): void => {
	if (config.report) process.stdout.write(`started ${id} ${Date.now()}\n`);
};

const connection = { host: '127.0.0.1', port: config.port, maxRetriesPerRequest: null };

/** Add `count` no-op tasks on a queue of this process's own and process them all, then close everything. */
async function warmUp(count: number): Promise<void> {
	const name = `${config.name}-warmup-${process.pid}`;
	const ids = Array.from({ length: count }, (_, i) => `w${i}`);
	let done = 0;
	let resolveAll = (): void => {};
	const all = new Promise<void>((resolve) => (resolveAll = resolve));
	const count1 = (): void => {
		if (++done === count) resolveAll();
	};
	if (config.lib === 'lightsched') {
		const container = new RedisContainer({ redis: { host: '127.0.0.1', port: config.port }, name, log: false });
		const scheduler = new Scheduler({
			container,
			concurrency: config.concurrency,
			autoStart: false,
			actuator: new FunctionActuator(async () => {}),
		});
		scheduler.on('task:succeeded', count1);
		for (let i = 0; i < count; i += 1000)
			await scheduler.add(ids.slice(i, i + 1000).map((id) => ({ id, item: null })));
		scheduler.resume();
		await all;
		await scheduler.close();
	} else {
		const queue = new Queue(name, { connection });
		for (let i = 0; i < count; i += 1000)
			await queue.addBulk(
				ids.slice(i, i + 1000).map((id) => ({ name: 'noop', data: null, opts: { jobId: id } })),
			);
		const worker = new Worker(name, async () => {}, {
			connection,
			concurrency: config.concurrency,
			...(config.lib === 'bullmq-recommended' ? { removeOnComplete: { count: 1000 } } : {}),
		});
		worker.on('completed', count1);
		await all;
		await worker.close();
		await queue.close();
	}
}

if (config.warmup > 0) await warmUp(config.warmup);

let begin: () => void;
let end: () => Promise<void>;

if (config.lib === 'lightsched') {
	const container = new RedisContainer({
		redis: { host: '127.0.0.1', port: config.port },
		name: config.name,
		log: false,
	});
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
			connection,
			concurrency: config.concurrency,
			autorun: false,
			...(config.lib === 'bullmq-recommended' ? { removeOnComplete: { count: 1000 } } : {}),
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
let cpuAtGo: NodeJS.CpuUsage | undefined;
lines.on('line', (line) => {
	if (line === 'go') {
		cpuAtGo = process.cpuUsage();
		begin();
	} else if (line === 'cpu') {
		const used = process.cpuUsage(cpuAtGo);
		process.stdout.write(`cpu ${used.user + used.system}\n`);
	}
});
lines.on('close', () => {
	void end().finally(() => process.exit(0));
});
