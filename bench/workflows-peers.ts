/**
 * The peers of bench/workflows.ts, each in its documented configuration, with the same no-op steps, the same
 * number of runs and the same concurrency (32) as lightsched:
 *
 * - BullMQ flows (`FlowProducer.add`, one `Worker` with `concurrency: 32`, `removeOnComplete` unset so finished
 *   jobs are kept as lightsched keeps runs). A flow is a tree and a parent runs after its children, so the chain is
 *   ten nested parent/child jobs (the leaf first), and the fan-out/join is 8 children under a join under a root
 *   (10 jobs; BullMQ cannot express a diamond: a job has one parent, so the "root before the 8" of lightsched's
 *   1 -> 8 -> 1 becomes a final root after the join).
 * - BullMQ plain jobs (`Queue.addBulk` 500 a call, the same `Worker`): BullMQ's own cost of a job without a flow,
 *   so a flow step's cost against a plain job can be set beside lightsched's step against its plain task.
 * - DBOS Transact (`DBOS.registerWorkflow` + `DBOS.runStep`, its system database on the same PostgreSQL): a
 *   workflow of 10 steps, each checkpointed; the fan-out runs its 8 middle steps with `Promise.all`. 32 workflows
 *   in flight at a time.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { FlowProducer, Queue, Worker, type FlowJob } from 'bullmq';

export const PEER_CONCURRENCY = 32;

function chainFlow(queueName: string, run: number): FlowJob {
	let job: FlowJob = { name: `s0`, queueName, data: { run } };
	for (let i = 1; i < 10; i++) job = { name: i === 9 ? 'root' : `s${i}`, queueName, data: { run }, children: [job] };
	return job;
}

function fanFlow(queueName: string, run: number): FlowJob {
	const children = Array.from({ length: 8 }, (_, i) => ({ name: `b${i}`, queueName, data: { run } }));
	return { name: 'root', queueName, data: { run }, children: [{ name: 'join', queueName, data: { run }, children }] };
}

/** Milliseconds for `runs` BullMQ flows of 10 jobs on the redis-server at `port`. */
export async function bullmqFlows(port: number, shape: 'chain' | 'fan-out/join', runs: number): Promise<number> {
	const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
	const queueName = `wf-${shape === 'chain' ? 'chain' : 'fan'}-${Date.now()}`;
	const producer = new FlowProducer({ connection });
	let finished = 0;
	let resolve!: () => void;
	const done = new Promise<void>((r) => (resolve = r));
	const worker = new Worker(queueName, async () => null, { connection, concurrency: PEER_CONCURRENCY });
	worker.on('completed', (job) => {
		if (job.name === 'root' && ++finished === runs) resolve();
	});
	await worker.waitUntilReady();
	const started = performance.now();
	const make = shape === 'chain' ? chainFlow : fanFlow;
	for (let i = 0; i < runs; i += 100)
		await Promise.all(
			Array.from({ length: Math.min(100, runs - i) }, (_, j) => producer.add(make(queueName, i + j))),
		);
	await done;
	const ms = performance.now() - started;
	await worker.close();
	await producer.close();
	return ms;
}

/** Milliseconds for `jobs` plain BullMQ jobs (no flow), added 500 a call, on the redis-server at `port`. */
export async function bullmqJobs(port: number, jobs: number): Promise<number> {
	const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
	const queueName = `wf-plain-${Date.now()}`;
	const queue = new Queue(queueName, { connection });
	let finished = 0;
	let resolve!: () => void;
	const done = new Promise<void>((r) => (resolve = r));
	const worker = new Worker(queueName, async () => null, { connection, concurrency: PEER_CONCURRENCY });
	worker.on('completed', () => {
		if (++finished === jobs) resolve();
	});
	await worker.waitUntilReady();
	const started = performance.now();
	for (let i = 0; i < jobs; i += 500)
		await queue.addBulk(
			Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({ name: 'job', data: { i: i + j } })),
		);
	await done;
	const ms = performance.now() - started;
	await worker.close();
	await queue.close();
	return ms;
}

const noop = async (): Promise<null> => null;
let dbosChain: (() => Promise<void>) | undefined;
let dbosFan: (() => Promise<void>) | undefined;

/** Register the DBOS workflows and launch DBOS on the system database at `url` (once per process). */
export async function launchDbos(url: string): Promise<void> {
	DBOS.setConfig({ name: 'lightsched-bench', systemDatabaseUrl: url, logLevel: 'error' });
	dbosChain = DBOS.registerWorkflow(
		async (): Promise<void> => {
			for (let i = 0; i < 10; i++) await DBOS.runStep(noop, { name: `s${i}` });
		},
		{ name: 'chain' },
	);
	dbosFan = DBOS.registerWorkflow(
		async (): Promise<void> => {
			await DBOS.runStep(noop, { name: 'root' });
			await Promise.all(Array.from({ length: 8 }, (_, i) => DBOS.runStep(noop, { name: `b${i}` })));
			await DBOS.runStep(noop, { name: 'join' });
		},
		{ name: 'fan' },
	);
	await DBOS.launch();
}

/** Milliseconds for `runs` DBOS workflows of 10 steps, 32 at a time. */
export async function dbosWorkflows(shape: 'chain' | 'fan-out/join', runs: number): Promise<number> {
	const workflow = shape === 'chain' ? dbosChain : dbosFan;
	if (workflow === undefined) throw new Error('launchDbos first');
	let next = 0;
	const started = performance.now();
	await Promise.all(
		Array.from({ length: PEER_CONCURRENCY }, async () => {
			while (next < runs) {
				next++;
				await workflow();
			}
		}),
	);
	return performance.now() - started;
}

/** Shut DBOS down. */
export async function shutdownDbos(): Promise<void> {
	await DBOS.shutdown();
}
